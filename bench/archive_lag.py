"""Archive lag (the RPO of point-in-time recovery) under a steady write load.

``python -m bench.archive_lag [--seconds 60] [--rate 20] [--upload-seconds 10] [--s3]``

One throwaway mariadbd with binlogs (ROW, 1 MiB files, so it rotates during the run) and one
``archive-binlogs --follow`` into a local-directory bucket (or moto S3). A writer commits ``--rate`` single-row
transactions per second through one client session and notes, for each, its GTID and the server's
commit time (``NOW(6)`` right after the autocommit INSERT). A watcher polls the bucket's index every
20 ms; a transaction's lag is the moment the index record covering its GTID appeared minus its commit
time: the time during which losing the cluster would have lost it. ``--s3`` uses a moto S3 server on
loopback instead of a local directory (the S3 API path: boto3, two PUTs per segment). Writes
``bench/results/archive_lag_<S>s[_s3].json`` and prints p50 / p99 / max.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from agent.drill.throwaway_server import ThrowawayServer
from bench.servers import MotoS3
from shared.binlogs import layout
from shared.binlogs.gtid import Gtid
from shared.binlogs.records import SegmentRecord
from shared.storage import Storage, open_storage

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PREFIX = "bench/pitr"
BINLOG_ARGS = ("--log-bin=bin", "--server-id=1", "--binlog-format=ROW", "--max-binlog-size=1M",
               "--innodb-flush-log-at-trx-commit=1", "--sync-binlog=0")
POLL_SECONDS = 0.02


def watch_index(storage: Storage, seen: dict[int, float], stop: threading.Event) -> None:
    """seq_no of every archived transaction (domain 0) → when its index record was first listed."""
    read: set[str] = set()
    while not stop.is_set():
        now = time.time()
        for info in storage.list(layout.folder_prefix(PREFIX, layout.INDEX)):
            if info.key not in read:
                with storage.open_read(info.key) as stream:
                    record = SegmentRecord.from_json(stream.read())
                first, last = Gtid.parse(record.first_gtid).seq_no, Gtid.parse(record.last_gtid).seq_no
                seen.update(dict.fromkeys(range(first, last + 1), now))
                read.add(info.key)
        stop.wait(POLL_SECONDS)


def write_load(server: ThrowawayServer, *, seconds: float, rate: float) -> list[tuple[int, float]]:
    """(GTID seq_no, commit time) of every transaction written at a steady ``rate`` per second."""
    client = subprocess.Popen(server.client_argv("--batch", "--skip-column-names", "--unbuffered", "shop"),
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert client.stdin is not None and client.stdout is not None
    commits: list[tuple[int, float]] = []
    start = time.monotonic()
    for n in range(int(seconds * rate)):
        time.sleep(max(0.0, start + n / rate - time.monotonic()))
        client.stdin.write("INSERT INTO items (body) VALUES (REPEAT('x', 2000));"
                           "SELECT @@last_gtid, UNIX_TIMESTAMP(NOW(6));\n")
        gtid, committed = client.stdout.readline().split("\t")
        commits.append((Gtid.parse(gtid).seq_no, float(committed)))
    client.stdin.close()
    client.wait()
    return commits


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] if len(values) > 1 else values[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--rate", type=float, default=20.0, help="transactions per second")
    parser.add_argument("--upload-seconds", default="10", help="BINLOG_UPLOAD_SECONDS")
    parser.add_argument("--s3", action="store_true", help="a moto S3 server instead of a local directory")
    parser.add_argument("--rollup-records", default=None,
                        help="BINLOG_ROLLUP_RECORDS (small, so rollups are written within the run)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-archive-lag-"))
    with contextlib.ExitStack() as stack:
        destination = stack.enter_context(_destination(work, s3=args.s3))
        result = _measure(args, work, destination)
    (HERE / "results").mkdir(exist_ok=True)
    rollups = f"_rollups{args.rollup_records}" if args.rollup_records else ""
    out = HERE / "results" / f"archive_lag_{args.upload_seconds}s{'_s3' if args.s3 else ''}{rollups}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0 if result["not_archived"] == 0 and result["archiver_exit_code"] == 0 else 1


@contextlib.contextmanager
def _destination(work: Path, *, s3: bool) -> Iterator[dict[str, str]]:
    """The agent's destination variables (and the SDK's, for moto)."""
    if not s3:
        (work / "bucket").mkdir()
        yield {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(work / "bucket")}
        return
    with MotoS3(log=work / "moto.log") as moto:
        moto.client().create_bucket(Bucket="bench-pitr")
        os.environ.update(moto.env)  # this process's watcher reaches moto through the same variables
        yield {**moto.env, "CLOUD_PROVIDER": "aws", "S3_BUCKET": "bench-pitr", "AWS_REGION": "us-east-1"}


def _measure(args: argparse.Namespace, work: Path, destination: dict[str, str]) -> dict[str, object]:
    storage = open_storage("s3://bench-pitr" if destination["CLOUD_PROVIDER"] == "aws"
                           else f"file://{destination['LOCAL_BACKUP_DIR']}")
    with ThrowawayServer(base_dir=work, extra_args=BINLOG_ARGS) as server:
        server.execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT AUTO_INCREMENT PRIMARY KEY, body TEXT)")
        server.set_root_password("bench-archive")
        env = {"PATH": os.environ["PATH"], **destination, "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(work),
               "MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": str(server.port), "MARIADB_PASSWORD": "bench-archive",
               "BINLOG_UPLOAD_SECONDS": args.upload_seconds,
               **({"BINLOG_ROLLUP_RECORDS": args.rollup_records} if args.rollup_records else {})}
        archiver = subprocess.Popen([sys.executable, "-m", "agent", "archive-binlogs", "--follow"], env=env,
                                    cwd=ROOT, stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        seen: dict[int, float] = {}
        stop = threading.Event()
        watcher = threading.Thread(target=watch_index, args=(storage, seen, stop), daemon=True)
        watcher.start()
        try:
            commits = write_load(server, seconds=args.seconds, rate=args.rate)
            deadline = time.monotonic() + 3 * float(args.upload_seconds) + 10
            while time.monotonic() < deadline and not all(seq in seen for seq, _ in commits):
                time.sleep(0.1)
        finally:
            stop.set()
            cpu = _cpu_seconds(archiver.pid)
            archiver.send_signal(signal.SIGTERM)
            archiver.wait(timeout=60)
        files = len(list((server.dir or work).glob("data/bin.[0-9]*")))
    lags = [seen[seq] - committed for seq, committed in commits if seq in seen]
    missing = sum(seq not in seen for seq, _ in commits)
    segments = len(list(storage.list(layout.folder_prefix(PREFIX, layout.INDEX))))
    rollups = len(list(storage.list(layout.folder_prefix(PREFIX, layout.ROLLUPS))))
    return {"seconds": args.seconds, "rate_per_second": args.rate, "upload_seconds": float(args.upload_seconds),
            "storage": destination["CLOUD_PROVIDER"], "transactions": len(commits), "not_archived": missing,
            "segments": segments, "binlog_files": files, "lag_p50": round(percentile(lags, 50), 3),
            "lag_p99": round(percentile(lags, 99), 3), "lag_max": round(max(lags), 3),
            "archiver_exit_code": archiver.returncode, "rollup_records": args.rollup_records, "rollups": rollups,
            "archiver_cpu_seconds": cpu}


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of the archiver process itself (not its mariadb-binlog child) so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return round((int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK"), 2)


if __name__ == "__main__":
    sys.exit(main())
