"""``python -m bench.physical --size 500M [--reps 2]``: physical backups against our logical ones (issue 20).

Same servers and bucket as the main benchmark (bench/servers.py: two throwaway mariadbd with 1 GB buffer
pools, moto S3 on loopback) and the same dataset (bench/dataset.py). Measured with bench/measure.py
(wall time, peak RSS of the whole process tree, peak bytes in the command's private temp dir):

0. after generating, InnoDB's dirty pages are flushed (``checkpoint``: why, in its docstring);
1. zstd level for the mbstream (untimed copy of one stream to disk, then compressed in-process at each
   level with the pipeline's own compressor, 2 threads): seconds and stored bytes per level;
2. per repetition, in an order alternating between the two methods:
   - logical backup: ``agent backup`` (the default tar.gz) to moto;
   - physical full backup: ``agent backup`` with ``BACKUP_METHOD=physical``;
   - ~1% of the rows changed (the lowest 1% of keys of every table: ``ONE_PERCENT``), then a physical
     incremental: ``agent backup --incremental``;
   - logical restore: ``agent restore --latest --yes`` (verifies first, parallel sessions) into the target;
   - physical restore: ``agent restore ID --datadir D`` of the full, then mariadbd started on D until it
     answers (the figure is both together: "to a started server"); and of the full + incremental chain.
Results: ``bench/results/physical-<size>.json``; docs/PERFORMANCE.md quotes them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from agent.drill.throwaway_server import ThrowawayServer
from bench import dataset
from bench.__main__ import parse_size
from bench.measure import Measurement, run_measured
from bench.servers import SERVER_ARGS, BenchServer, MotoS3
from shared.compression import open_compressor

PROJECT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
BUCKET = "bench-physical"
LEVELS = (1, 3)
CHUNK = 1 << 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.physical")
    parser.add_argument("--size", type=parse_size, default=parse_size("500M"), help="raw dump size (default 500M)")
    parser.add_argument("--reps", type=int, default=2, help="repetitions (default 2)")
    parser.add_argument("--work", type=Path, default=HERE / "work", help="scratch directory (default bench/work)")
    parser.add_argument("--skip-levels", action="store_true",
                        help="skip the zstd level comparison (it writes one whole mbstream to disk first)")
    args = parser.parse_args(argv)
    name = f"{args.size / 10**9:g}G" if args.size >= 10**9 else f"{args.size / 10**6:g}M"
    work = args.work / f"physical-{name}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        result = run(size=args.size, reps=args.reps, work=work, levels=not args.skip_levels)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    out = HERE / "results" / f"physical-{name}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    print(f"wrote {out}", file=sys.stderr)
    return 0


def run(*, size: int, reps: int, work: Path, levels: bool = True) -> dict[str, Any]:
    meta: dict[str, Any] = {"started": datetime.now(UTC).isoformat(timespec="seconds"), "requested_bytes": size,
                            "reps": reps, "cpus": os.cpu_count(), "load_before": os.getloadavg()}
    with BenchServer(base_dir=work) as source, BenchServer(base_dir=work) as target, \
            MotoS3(log=work / "moto.log") as s3:
        scale = dataset.scale_for(size)
        clock = time.monotonic()
        _sql(source, "\n".join(dataset.statements(scale)))
        meta["generate_seconds"], meta["scale"] = round(time.monotonic() - clock, 1), scale
        meta["innodb_bytes"] = int(_sql(source, "SELECT SUM(data_length + index_length) FROM information_schema.tables"
                                                " WHERE table_schema NOT IN ('mysql', 'sys')").strip())
        meta["checkpoint_seconds"] = checkpoint(source)
        meta["zstd_levels"] = zstd_levels(source, work) if levels else {}
        s3.client().create_bucket(Bucket=BUCKET)
        env = {**os.environ, **s3.env, **source.agent_env(), "PYTHONPATH": str(PROJECT)}
        runs = [one_rep(rep, env=env, s3=s3, source=source, target=target, work=work) for rep in range(reps)]
    meta["load_after"] = os.getloadavg()
    return {"meta": meta, "runs": runs, "summary": summarize(runs)}


def zstd_levels(source: BenchServer, work: Path) -> dict[str, dict[str, float]]:
    """One mbstream on disk (untimed), then each level over it with the pipeline's compressor."""
    stream = work / "level-probe.mbstream"
    cnf = source.write_option_file(work / "probe.cnf")
    with open(stream, "wb") as out:
        subprocess.run(["mariadb-backup", f"--defaults-extra-file={cnf}", "--backup", "--stream=mbstream",
                        f"--target-dir={work / 'probe-target'}", "--parallel=2"], stdout=out,
                       stderr=subprocess.DEVNULL, check=True)
    found = {}
    for level in LEVELS:
        clock, cpu = time.monotonic(), time.process_time()
        with open(stream, "rb") as src, open(os.devnull, "wb") as sink:
            counted = _Counting(sink)
            writer = open_compressor("zstd", counted, level=level)  # type: ignore[arg-type]  # a binary sink
            while chunk := src.read(CHUNK):
                writer.write(chunk)
            writer.close()
        found[str(level)] = {"seconds": round(time.monotonic() - clock, 2),
                             "cpu_seconds": round(time.process_time() - cpu, 2), "stored_bytes": counted.count,
                             "ratio": round(stream.stat().st_size / counted.count, 2)}
    found["raw_bytes"] = {"bytes": stream.stat().st_size}  # type: ignore[dict-item]  # one extra row for the raw size
    stream.unlink()
    return found


class _Counting:
    def __init__(self, sink: Any) -> None:
        self.sink, self.count = sink, 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return int(self.sink.write(data))

    def flush(self) -> None:
        self.sink.flush()


def one_rep(rep: int, *, env: dict[str, str], s3: MotoS3, source: BenchServer, target: BenchServer,
            work: Path) -> dict[str, Any]:
    logical = {**env, "BACKUP_URL": f"s3://{BUCKET}/logical-{rep}"}
    physical = {**env, "BACKUP_URL": f"s3://{BUCKET}/physical-{rep}", "BACKUP_METHOD": "physical"}
    found: dict[str, Any] = {"rep": rep}
    backups = [("logical_backup", logical, []), ("physical_full", physical, [])]
    for key, cmd_env, extra in backups if rep % 2 == 0 else backups[::-1]:
        found[key] = measured(["backup", "--json", *extra], cmd_env, work / f"tmp-{key}-{rep}")
    _sql(source, "\n".join(ONE_PERCENT))
    found["physical_incremental"] = measured(["backup", "--json", "--incremental"], physical,
                                             work / f"tmp-incremental-{rep}")
    target.drop_user_databases()
    found["logical_restore"] = measured(["restore", "--latest", "--yes"], {**logical, **target.agent_env()},
                                        work / f"tmp-lrestore-{rep}")
    full_id = found["physical_full"]["backup_id"]
    found["physical_restore"] = restore_and_start(full_id, physical, work / f"datadir-full-{rep}", work)
    found["physical_restore_chain"] = restore_and_start(found["physical_incremental"]["backup_id"], physical,
                                                        work / f"datadir-chain-{rep}", work)
    s3.empty_bucket(BUCKET)
    return found


def measured(args: list[str], env: dict[str, str], temp: Path) -> dict[str, Any]:
    m = run_measured([sys.executable, "-m", "agent", *args], env={**env, "TMPDIR": str(temp),
                                                                   "BACKUP_TMPDIR": str(temp)}, temp_dir=temp)
    shutil.rmtree(temp, ignore_errors=True)
    summary = json.loads(m.stdout) if m.returncode == 0 and m.stdout.startswith("{") else {}
    print(f"{args[0]} {' '.join(args[2:])} {env.get('BACKUP_METHOD', 'logical')}: {m.seconds:.2f} s, rss "
          f"{m.peak_tree_rss / 1e6:.0f} MB, temp {m.peak_temp_bytes / 1e6:.1f} MB, rc {m.returncode}", file=sys.stderr)
    if m.returncode != 0:
        raise SystemExit(f"bench: agent {args[0]} failed: {m.stderr[-1500:]}")
    return {**_figures(m), "backup_id": summary.get("backup_id"), "stored_bytes": summary.get("compressed_bytes"),
            "raw_bytes": summary.get("raw_bytes")}


def restore_and_start(backup_id: str, env: dict[str, str], datadir: Path, work: Path) -> dict[str, Any]:
    """``restore --datadir`` then mariadbd on it, answering queries: both timed, summed."""
    restored = measured(["restore", backup_id, "--datadir", str(datadir), "--json"], env, work / "tmp-prestore")
    clock = time.monotonic()
    with ThrowawayServer(base_dir=work, datadir=datadir, extra_args=SERVER_ARGS) as server:
        start_seconds = time.monotonic() - clock
        tables = server.execute("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop'").strip()
    datadir_bytes = sum(p.stat().st_size for p in datadir.rglob("*") if p.is_file())
    shutil.rmtree(datadir, ignore_errors=True)
    return {**restored, "start_seconds": round(start_seconds, 2), "datadir_bytes": datadir_bytes,
            "seconds_to_started_server": round(restored["seconds"] + start_seconds, 2), "shop_tables": int(tables)}


# ~1% of each table's rows, the 1% with the lowest keys: OLTP changes cluster (recent orders, open
# tickets), and an incremental copies changed *pages*, so 1% of rows spread one per page would change
# every page and measure nothing but a full copy. Through columns no index holds.
ONE_PERCENT = (
    "UPDATE shop.customers SET last_login = NOW() WHERE id <= (SELECT MAX(id) / 100 FROM shop.customers);",
    "UPDATE shop.orders SET status = 'shipped', updated_at = NOW() "
    "WHERE id <= (SELECT MAX(id) / 100 FROM shop.orders);",
    "UPDATE shop.order_items SET quantity = quantity + 1 WHERE order_id <= (SELECT MAX(id) / 100 FROM shop.orders);",
    "UPDATE crm.tickets SET state = 'closed', closed_at = NOW() WHERE id <= (SELECT MAX(id) / 100 FROM crm.tickets);",
    "UPDATE crm.attachments SET mime = 'application/pdf' WHERE id <= (SELECT MAX(id) / 100 FROM crm.attachments);",
    "UPDATE analytics.page_events SET event_type = 'updated' "
    "WHERE id <= (SELECT MAX(id) / 100 FROM analytics.page_events);",
)


def checkpoint(source: BenchServer) -> float:
    """Flush every dirty page so InnoDB's checkpoint catches up with the freshly generated data (untimed).

    An incremental copies every page changed since its parent's *start checkpoint* (mariadb-backup's
    to_lsn), so a full taken right after loading gigabytes, with a 512 MB redo log not yet checkpointed,
    makes the next incremental as big as the full. A production server's load happened long ago; this
    puts the bench server in that state. Restores the server's own setting afterwards."""
    clock = time.monotonic()
    previous = _sql(source, "SELECT @@innodb_max_dirty_pages_pct").strip()
    _sql(source, "SET GLOBAL innodb_max_dirty_pages_pct = 0")
    try:
        while int(_sql(source, "SELECT variable_value FROM information_schema.global_status "
                               "WHERE variable_name = 'Innodb_buffer_pool_pages_dirty'").strip() or 0) > 0:
            time.sleep(0.5)
        time.sleep(2)  # the checkpoint follows the flush
    finally:
        _sql(source, f"SET GLOBAL innodb_max_dirty_pages_pct = {float(previous)}")
    return round(time.monotonic() - clock, 1)


def _figures(m: Measurement) -> dict[str, Any]:
    return {"seconds": round(m.seconds, 2), "peak_tree_rss": m.peak_tree_rss, "peak_temp_bytes": m.peak_temp_bytes,
            "cpu_seconds": round(m.cpu_seconds, 2)}


def _sql(server: BenchServer, sql: str) -> str:
    done = subprocess.run(server.client_argv("--batch", "--skip-column-names"), input=sql.encode(),
                          capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"SQL failed: {done.stderr.decode(errors='replace')[-1000:]}")
    return done.stdout.decode()


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    keys = [k for k in runs[0] if k != "rep"]
    summary: dict[str, Any] = {}
    for key in keys:
        rows = [r[key] for r in runs]
        seconds = "seconds_to_started_server" if "seconds_to_started_server" in rows[0] else "seconds"
        summary[key] = {"median_seconds": round(statistics.median(r[seconds] for r in rows), 2),
                        "all_seconds": [r[seconds] for r in rows],
                        "peak_tree_rss": max(r["peak_tree_rss"] for r in rows),
                        "peak_temp_bytes": max(r["peak_temp_bytes"] for r in rows),
                        "stored_bytes": rows[-1].get("stored_bytes")}
    s = summary
    s["ratios"] = {
        "physical_backup_vs_logical": round(s["physical_full"]["median_seconds"]
                                            / s["logical_backup"]["median_seconds"], 2),
        "logical_restore_vs_physical": round(s["logical_restore"]["median_seconds"]
                                             / s["physical_restore"]["median_seconds"], 2),
        "incremental_vs_full_seconds": round(s["physical_incremental"]["median_seconds"]
                                             / s["physical_full"]["median_seconds"], 2),
        "incremental_vs_full_bytes": round(s["physical_incremental"]["stored_bytes"]
                                           / s["physical_full"]["stored_bytes"], 3),
    }
    return summary


def table(result: dict[str, Any]) -> str:
    s = result["summary"]
    lines = ["| step | median s | peak RSS MB | temp MB | stored MB |", "|---|---:|---:|---:|---:|"]
    for key, value in s.items():
        if key == "ratios":
            continue
        stored = f"{value['stored_bytes'] / 1e6:.1f}" if value.get("stored_bytes") else "-"
        lines.append(f"| {key} | {value['median_seconds']} | {value['peak_tree_rss'] / 1e6:.0f} | "
                     f"{value['peak_temp_bytes'] / 1e6:.1f} | {stored} |")
    lines.append("")
    lines += [f"- {k}: {v}" for k, v in s["ratios"].items()]
    if result["meta"]["zstd_levels"]:
        lines.append(f"- zstd levels on the mbstream: {json.dumps(result['meta']['zstd_levels'])}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
