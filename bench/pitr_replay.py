"""``python -m bench.pitr_replay [--transactions 20000] [--reps 3]``: how fast ``restore --until`` replays.

1. A source ``mariadbd`` writing ROW binlogs (16 MB files) gets an empty table and a backup (the CLI, to a
   local bucket: the manifest records the snapshot's GTID), then ``--transactions`` autocommit writes:
   multi-row INSERTs of ~200-byte rows, every tenth an UPDATE of a range.
2. The binlog files are archived as segments (``tests.support.archive_from_files``: whole server files, the
   archive's layout and index records), and ``restore --until`` is planned to the last archived second
   (timed: download, SHA1 check, scan, cut, write the replay files).
3. Per repetition, on a target whose table is reset to the snapshot's (empty) state:
   - ours: ``agent.pitr.replay.replay`` (mariadb-binlog → GTID-setting filter → one mariadb session);
   - plain: ``mariadb-binlog FILES | mariadb`` in a shell, same files, same client flags;
   - plain with the per-transaction GTID session settings dropped by ``grep -v`` (as ours does).
   Both must leave the table with the source's ``CHECKSUM TABLE``.

Rates are binlog bytes (the replay files) and transactions per second of wall time, median of the reps.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from agent.common.catalog import scan_backups
from agent.drill.throwaway_server import ThrowawayServer
from agent.pitr.planning import plan_point_in_time
from agent.pitr.replay import replay
from agent.restore.restoring import CLIENT_FLAGS
from bench.servers import BenchServer
from shared.binlogs.index import iter_history
from shared.binlogs.records import SegmentRecord
from shared.storage import open_storage
from tests.support.archive_from_files import archive_binlog_files, server_binlog_files

PROJECT = Path(__file__).resolve().parents[1]
PREFIX = "bench/pitr"
TABLE = ("CREATE TABLE bench.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, k INT NOT NULL, payload VARCHAR(200), "
         "KEY (k)) ENGINE=InnoDB")
SOURCE_ARGS = ("--innodb-buffer-pool-size=512M", "--innodb-flush-log-at-trx-commit=2", "--log-bin=bin",
               "--server-id=1", "--binlog-format=ROW", "--max-binlog-size=16M", "--max-allowed-packet=256M")
ROWS_PER_INSERT = 5


class BinlogSource(BenchServer):
    """The bench server's settings, but writing the binlog a point-in-time restore needs."""

    def __init__(self, *, base_dir: Path) -> None:
        super().__init__(base_dir=base_dir)
        self.extra_args = (*(a for a in self.extra_args if a != "--skip-log-bin"), *SOURCE_ARGS)


def workload(transactions: int) -> bytes:
    lines = []
    for i in range(transactions):
        if i % 10 == 9:
            # Only integers from this loop go into the statements.
            lines.append(f"UPDATE bench.t SET payload = CONCAT('u{i}-', LEFT(payload, 150)) WHERE k = {i % 997};")  # noqa: S608
        else:
            values = ",".join(f"({i % 997}, '{'p' * 180}{i:08d}{r}')" for r in range(ROWS_PER_INSERT))
            lines.append(f"INSERT INTO bench.t (k, payload) VALUES {values};")  # noqa: S608
    return "\n".join(lines).encode()


def run_cli(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "-m", "agent", *args], env=env, cwd=PROJECT, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"bench: agent {args[0]} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def reset(target: ThrowawayServer) -> None:
    target.execute(f"DROP DATABASE IF EXISTS bench; CREATE DATABASE bench; {TABLE};")


# The three per-transaction GTID settings our replay drops, dropped by grep: isolates their cost.
GTID_LINES = r"^/\*M!100001 SET @@session\.(gtid_domain_id|server_id|gtid_seq_no)="


def plain_pipeline(files: list[Path], option_file: Path, *, drop_gtid_settings: bool = False) -> float:
    decode = shlex.join(["mariadb-binlog", "--no-defaults", *map(str, files)])
    apply = shlex.join(["mariadb", f"--defaults-extra-file={option_file}", *CLIENT_FLAGS])
    middle = f" | grep -Ev {shlex.quote(GTID_LINES)}" if drop_gtid_settings else ""
    started = time.perf_counter()
    subprocess.run(["sh", "-ec", f"{decode}{middle} | {apply}"], check=True)
    return time.perf_counter() - started


def measure(args: argparse.Namespace, work: Path) -> dict[str, object]:
    bucket = work / "bucket"
    bucket.mkdir()
    with BinlogSource(base_dir=work) as source, BenchServer(base_dir=work) as target:
        env = {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin", "CLOUD_PROVIDER": "local",
               "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_PREFIX": PREFIX, "BACKUP_TMPDIR": str(work),
               **source.agent_env()}
        source.execute(f"CREATE DATABASE bench; {TABLE};")
        run_cli(["backup"], env)
        subprocess.run(source.client_argv(), input=workload(args.transactions), check=True)
        expected = source.execute("CHECKSUM TABLE bench.t EXTENDED")
        assert source.dir is not None
        storage = open_storage(f"file://{bucket}")
        archive_binlog_files(storage, prefix=PREFIX, files=server_binlog_files(source.dir / "data"))
        last = [r for r in iter_history(storage, PREFIX) if isinstance(r, SegmentRecord)][-1].last_time
        started = time.perf_counter()
        plan = plan_point_in_time(storage, prefix=PREFIX, backups=scan_backups(storage, prefix=PREFIX), until=last,
                                  work_dir=work)
        plan_seconds = time.perf_counter() - started
        option_file = target.write_option_file(work / "target.cnf")
        ours: list[float] = []
        plain: list[float] = []
        grepped: list[float] = []

        def run_ours() -> None:
            clock = time.perf_counter()
            replay(plan.files, defaults_file=option_file, run_dir=work)
            ours.append(time.perf_counter() - clock)

        def run_plain() -> None:
            plain.append(plain_pipeline(list(plan.files), option_file))

        def run_grepped() -> None:
            grepped.append(plain_pipeline(list(plan.files), option_file, drop_gtid_settings=True))

        variants = [run_ours, run_plain, run_grepped]
        for rep in range(args.reps):
            # Rotate the order, so a noisy phase of the shared machine hits every variant alike.
            for variant in variants[rep % 3:] + variants[:rep % 3]:
                reset(target)
                variant()
                assert target.execute("CHECKSUM TABLE bench.t EXTENDED") == expected, "the target differs"
        size = sum(f.stat().st_size for f in plan.files)
        return {"when": datetime.now(UTC).isoformat(timespec="seconds"), "transactions": plan.transactions,
                "replay_files": len(plan.files), "binlog_bytes": size, "plan_seconds": round(plan_seconds, 2),
                "ours_seconds": [round(s, 2) for s in ours], "plain_seconds": [round(s, 2) for s in plain],
                "plain_without_gtid_settings_seconds": [round(s, 2) for s in grepped]}


def report(result: dict[str, object]) -> str:
    size, count = float(result["binlog_bytes"]), float(result["transactions"])  # type: ignore[arg-type]
    rows = []
    variants = (("restore --until replay (ours)", "ours_seconds"),
                ("`mariadb-binlog FILES \\| mariadb`", "plain_seconds"),
                ("same, GTID settings dropped by `grep -v`", "plain_without_gtid_settings_seconds"))
    for name, key in variants:
        median = statistics.median(result[key])  # type: ignore[arg-type]
        rows.append(f"| {name} | {median:.2f} s | {size / 1e6 / median:.1f} MB/s | {count / median:,.0f} tx/s |")
    return "\n".join([f"{count:,.0f} transactions, {size / 1e6:.1f} MB of binlog in {result['replay_files']} file(s); "
                      f"planning (download, SHA1, scan, cut) {result['plan_seconds']} s",
                      "| replay | median wall time | MB/s | transactions/s |", "|---|---|---|---|", *rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transactions", type=int, default=20_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    (PROJECT / "bench" / "work").mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pitr-", dir=PROJECT / "bench" / "work") as work:
        result = measure(args, Path(work))
    out = PROJECT / "bench" / "results" / "pitr-replay.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(report(result))
    print(f"\n(written to {out.relative_to(PROJECT)})")


if __name__ == "__main__":
    main()
