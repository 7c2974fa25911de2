"""Markdown tables and a PNG chart from one or more results files (bench/results/*.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

MB = 1_000_000


def load(paths: list[Path]) -> list[dict[str, Any]]:
    """The backup/restore runs among the results files (other benchmarks keep theirs there too)."""
    results = [json.loads(p.read_text()) for p in paths]
    runs = [r for r in results if isinstance(r, dict) and "summary" in r and "dump_bytes" in r.get("meta", {})]
    return sorted(runs, key=lambda r: r["meta"]["dump_bytes"])


def markdown(result: dict[str, Any]) -> str:
    meta, summary = result["meta"], result["summary"]
    lines = [
        f"**Dump {meta['dump_bytes'] / MB:,.0f} MB** (scale {meta['scale']}), {meta['reps']} alternating "
        f"repetitions, {meta['cpus']} CPUs, load average {meta['load_before'][0]:.1f} before / "
        f"{meta['load_after'][0]:.1f} after, started {meta['started']}",
        "",
        "| variant | median s | x floor | peak RSS (tree) MB | temp disk MB | compressed MB | ratio "
        "| CPU s: command / MariaDB / moto | commit block ms | runs (s) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, s in summary.items():
        if s.get("failed"):
            lines.append(f"| {key}. {s['label']} | failed | | | | | | | | |")
            continue
        floor = "a" if s["kind"] == "backup" else "g"
        ratio = f"{s['ratio_to_floor']:.2f}x {floor}" if "ratio_to_floor" in s else ""
        size = f"{s['compressed_bytes'] / MB:,.1f}" if s["compressed_bytes"] else "-"
        comp = f"{s['compression_ratio']:.2f}x" if s["compression_ratio"] else "-"
        runs = ", ".join(f"{x:.2f}" for x in s["all_seconds"])
        lines.append(f"| {key}. {s['label']} | {s['median_seconds']:.2f} | {ratio} | {s['peak_tree_rss'] / MB:,.0f} "
                     f"| {s['peak_temp_bytes'] / MB:,.1f} | {size} | {comp} | {_cpu(s)} "
                     f"| {s.get('commit_block_ms', '-')} | {runs} |")
    return "\n".join(lines) + "\n"


def _cpu(s: dict[str, Any]) -> str:
    """CPU seconds spent during the variant (medians): the command's process tree, the MariaDB server it
    talks to, and moto. Their sum over 2 cores is a lower bound for the wall time."""
    server = s.get("server_cpu", 0) if s["kind"] == "backup" else s.get("target_cpu", 0)
    return f"{s.get('cpu_seconds', 0):.1f} / {server:.1f} / {s.get('moto_cpu', 0):.1f}"


def chart(results: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(results), 2, figsize=(13, 3.6 * len(results)), squeeze=False)
    for row, result in zip(axes, results, strict=True):
        summary = {k: s for k, s in result["summary"].items() if not s.get("failed")}
        labels = [f"{k}. {s['label']}" for k, s in summary.items()]
        title = f"dump {result['meta']['dump_bytes'] / MB:,.0f} MB"
        colours = ["#999999" if k in "abcgl" else "#2a7ab9" for k in summary]
        row[0].barh(labels, [s["median_seconds"] for s in summary.values()], color=colours)
        row[0].set_xlabel("median wall time (s)")
        row[0].set_title(f"{title}: time (blue = ours)")
        row[1].barh(labels, [s["peak_tree_rss"] / MB for s in summary.values()], color=colours)
        row[1].axvline(200, color="#c0392b", linestyle="--", label="200 MB target")
        row[1].set_xlabel("peak RSS of the process tree (MB)")
        row[1].set_title(f"{title}: memory")
        row[1].legend(loc="lower right")
        for ax in row:
            ax.invert_yaxis()
        row[1].set_yticklabels([])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(paths: list[Path], *, out_dir: Path) -> tuple[Path, Path]:
    results = load(paths)
    md = out_dir / "results.md"
    md.write_text("\n".join(markdown(r) for r in results))
    png = out_dir / "results.png"
    chart(results, png)
    return md, png
