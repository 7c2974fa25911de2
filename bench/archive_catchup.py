"""Catch-up rate of ``archive-binlogs``: how fast a one-shot run archives a binlog backlog.

``python -m bench.archive_catchup [--batches 20]``

A throwaway mariadbd with ROW binlogs (64 MiB files) gets ``--batches`` rounds of one 5,000-row
INSERT (1 kB rows) plus 1,000 single-row autocommit INSERTs; then one ``archive-binlogs`` run (no
``--follow``) archives the whole backlog into a local-directory bucket. Reports binlog MB, transactions,
wall time and MB/s (process start included), and writes ``bench/results/archive_catchup.json``. This is
how long an archiver needs to catch up after an outage, before the lag figures apply again.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.drill.throwaway_server import ThrowawayServer

HERE = Path(__file__).resolve().parent
SERVER_ARGS = ("--log-bin=bin", "--server-id=1", "--binlog-format=ROW", "--max-binlog-size=64M",
               "--innodb-flush-log-at-trx-commit=2")


def fill(server: ThrowawayServer, batches: int) -> None:
    server.execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, body TEXT)")
    for k in range(batches):  # the SQL is built from loop integers only
        server.execute(f"INSERT INTO items SELECT seq, REPEAT('x', 1000) FROM seq_{k * 5000 + 1}_to_{k * 5000 + 5000}",  # noqa: S608
                       database="shop")
        rows = (f"INSERT INTO shop.items VALUES ({10**7 + k * 1000 + i}, 'y');" for i in range(1000))  # noqa: S608
        server.execute("".join(rows))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-archive-catchup-"))
    bucket = work / "bucket"
    bucket.mkdir()
    with ThrowawayServer(base_dir=work, extra_args=SERVER_ARGS) as server:
        fill(server, args.batches)
        assert server.dir is not None
        binlog_bytes = sum(p.stat().st_size for p in (server.dir / "data").glob("bin.[0-9]*"))
        server.set_root_password("bench-catchup")
        env = {"PATH": os.environ["PATH"], "CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket),
               "BACKUP_PREFIX": "bench/pitr", "BACKUP_TMPDIR": str(work), "MARIADB_HOST": "127.0.0.1",
               "MARIADB_PORT": str(server.port), "MARIADB_PASSWORD": "bench-catchup"}
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "agent", "archive-binlogs", "--json"], env=env,
                              cwd=HERE.parent, capture_output=True, text=True, check=True)
        seconds = time.monotonic() - started
    summary = json.loads(done.stdout)
    result = {"binlog_mb": round(binlog_bytes / 1e6, 1), "transactions": summary["transactions"],
              "segments": summary["segments"], "seconds": round(seconds, 2),
              "mb_per_second": round(binlog_bytes / 1e6 / seconds, 1),
              "transactions_per_second": round(summary["transactions"] / seconds)}
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "archive_catchup.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
