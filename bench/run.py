"""One benchmark run at one size: generate, then measure every variant in alternating repetitions.

Repetition r runs the variants in an order rotated by r, so a slow phase of the machine (other
engineers' tests, page-cache warm-up) spreads over all variants instead of landing on one; ratios
between variants of the same run are what the targets are judged on.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import dataset
from bench.measure import run_measured
from bench.servers import BenchServer, MotoS3
from bench.variants import BUCKET, BY_KEY, PROJECT, RESTORE_PREFIX, RUNS_PREFIX, Context, Variant
from shared.dump import DUMP_FLAGS

# The agent logs how long a parallel dump held commits up (agent.backup.commit_block), as JSON on stderr.
_COMMIT_BLOCK = re.compile(r'"held_ms": ([0-9.]+)')


def run_benchmark(*, size_bytes: int, reps: int, keys: str, work: Path, mydumper_threads: int) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    variants = [BY_KEY[k] for k in keys]
    meta: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "requested_bytes": size_bytes,
                            "reps": reps, "cpus": os.cpu_count(), "load_before": os.getloadavg(),
                            "python": platform.python_version(), "mariadb": _version(["mariadb", "--version"]),
                            "mydumper": _version(["mydumper", "--version"]), "mydumper_threads": mydumper_threads}
    with BenchServer(base_dir=work) as source, BenchServer(base_dir=work) as target, \
            MotoS3(log=work / "moto.log") as s3:
        meta["generate_seconds"], meta["scale"] = _generate(source, size_bytes)
        ctx = Context(python=sys.executable, source_cnf=source.write_option_file(work / "source.cnf"),
                      target_cnf=target.write_option_file(work / "target.cnf"), source_env=source.agent_env(),
                      target_env=target.agent_env(), s3_env=s3.env, dump_file=work / "dump.sql",
                      mydumper_dir=work / "mydumper-dump", mydumper_threads=mydumper_threads)
        _prepare(ctx, s3, variants, work)
        meta["dump_bytes"] = ctx.dump_file.stat().st_size
        runs = _repeat(ctx, s3, target, variants, reps=reps, work=work, source=source)
    meta["load_after"] = os.getloadavg()
    return {"meta": meta, "runs": runs, "summary": summarize(runs, dump_bytes=meta["dump_bytes"])}


def _generate(source: BenchServer, size_bytes: int) -> tuple[float, int]:
    scale = dataset.scale_for(size_bytes)
    start = time.monotonic()
    sql = "\n".join(dataset.statements(scale)).encode()
    done = subprocess.run(source.client_argv("--batch"), input=sql, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"generating the dataset failed: {done.stderr.decode(errors='replace')[-1000:]}")
    seconds = time.monotonic() - start
    print(f"generated scale {scale} in {seconds:.1f} s", file=sys.stderr)
    return round(seconds, 1), scale


def _prepare(ctx: Context, s3: MotoS3, variants: list[Variant], work: Path) -> None:
    """The plain dump that g loads, the bucket, and the backup that h restores (none of it timed)."""
    with open(ctx.dump_file, "wb") as out:
        subprocess.run(["mariadb-dump", f"--defaults-extra-file={ctx.source_cnf}", *DUMP_FLAGS], stdout=out, check=True)
    s3.client().create_bucket(Bucket=BUCKET)
    if any(v.key == "k" for v in variants):
        # User databases only: myloader cannot reload the system schema (mysql.user is a view since 10.4).
        subprocess.run(["mydumper", f"--defaults-file={ctx.source_cnf}", "--routines", "--events", "--triggers",
                        f"--threads={ctx.mydumper_threads}", "--trx-consistency-only", "--regex",
                        r"^(?!(mysql|sys|test)\.)", f"--outputdir={ctx.mydumper_dir}"], check=True)
    if any(v.key in "hj" for v in variants):
        env = {**os.environ, **s3.env, **ctx.source_env, "BACKUP_URL": f"s3://{BUCKET}/{RESTORE_PREFIX}",
               "PYTHONPATH": str(PROJECT)}
        subprocess.run([ctx.python, "-m", "agent", "backup", "--json"], env=env, check=True, stdout=subprocess.DEVNULL,
                       cwd=work)


def _repeat(ctx: Context, s3: MotoS3, target: BenchServer, variants: list[Variant], *, reps: int,
            work: Path, source: BenchServer) -> list[dict[str, Any]]:
    """Every variant ``reps`` times; besides the command's own figures, the CPU seconds moto and the
    two MariaDB servers spent meanwhile (they share the 2 cores, so they explain part of the time)."""
    others = {"moto_cpu": s3.process, "server_cpu": source.process, "target_cpu": target.process}
    runs = []
    for rep in range(reps):
        order = variants[rep % len(variants):] + variants[:rep % len(variants)]
        for variant in order:
            if variant.kind == "restore":
                target.drop_user_databases()
            temp = work / f"tmp-{variant.key}-{rep}"
            command = variant.command(ctx, temp)
            before = {name: cpu_seconds(p.pid) for name, p in others.items() if p is not None}
            m = run_measured(command.argv, env=command.env, temp_dir=temp, stdin_path=command.stdin)
            spent = {name: round(cpu_seconds(others[name].pid) - value, 2) for name, value in before.items()}
            run = {"variant": variant.key, "rep": rep, "seconds": round(m.seconds, 3),
                   "peak_tree_rss": m.peak_tree_rss, "max_process_rss": m.max_process_rss,
                   "peak_temp_bytes": m.peak_temp_bytes, "compressed_bytes": variant.compressed_size(m, temp),
                   "cpu_seconds": round(m.cpu_seconds, 2),
                   "returncode": m.returncode, "load": os.getloadavg()[0], **spent}
            if blocks := _COMMIT_BLOCK.findall(m.stderr):
                run["commit_block_ms"] = max(float(ms) for ms in blocks)
            if m.returncode != 0:
                run["error"] = m.stderr[-2000:]
            runs.append(run)
            print(f"rep {rep} {variant.key} {m.seconds:7.2f} s rss {m.peak_tree_rss / 1e6:6.1f} MB "
                  f"temp {m.peak_temp_bytes / 1e6:7.1f} MB rc {m.returncode}", file=sys.stderr)
            shutil.rmtree(temp, ignore_errors=True)
            shutil.rmtree(temp.with_name(temp.name + "-bucket"), ignore_errors=True)
            if variant.kind == "backup":
                s3.empty_bucket(BUCKET, prefix=RUNS_PREFIX + "/")
    return runs


def summarize(runs: list[dict[str, Any]], *, dump_bytes: int) -> dict[str, dict[str, Any]]:
    """Per variant: the median time, its ratio to the floor of its kind, and the worst memory/disk."""
    summary: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(r["variant"] for r in runs):
        mine = [r for r in runs if r["variant"] == key and r["returncode"] == 0]
        if not mine:
            summary[key] = {"label": BY_KEY[key].label, "failed": True}
            continue
        sizes = [r["compressed_bytes"] for r in mine if r["compressed_bytes"]]
        summary[key] = {
            "label": BY_KEY[key].label, "kind": BY_KEY[key].kind, "runs": len(mine),
            "median_seconds": round(statistics.median(r["seconds"] for r in mine), 3),
            "all_seconds": [r["seconds"] for r in mine],
            "peak_tree_rss": max(r["peak_tree_rss"] for r in mine),
            "max_process_rss": max(r["max_process_rss"] for r in mine),
            "peak_temp_bytes": max(r["peak_temp_bytes"] for r in mine),
            "compressed_bytes": sizes[-1] if sizes else None,
            **{name: round(statistics.median(r.get(name, 0) for r in mine), 2)
               for name in ("cpu_seconds", "moto_cpu", "server_cpu", "target_cpu")},
            **({"commit_block_ms": max(r["commit_block_ms"] for r in mine)}
               if all("commit_block_ms" in r for r in mine) else {}),
            "compression_ratio": round(dump_bytes / sizes[-1], 2) if sizes else None,
        }
    for key, floor in (("abcdefilmnop", "a"), ("ghjk", "g")):
        base = summary.get(floor, {}).get("median_seconds")
        for k in key:
            if base and k in summary and "median_seconds" in summary[k]:
                summary[k]["ratio_to_floor"] = round(summary[k]["median_seconds"] / base, 2)
    return summary


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a running process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "not installed"


def write_results(result: dict[str, Any], *, out_dir: Path, name: str) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{name}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    return path
