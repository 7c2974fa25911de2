"""Demo driver: start a throwaway mariadbd, load examples/sample-data.sql, run the backup CLI against
it with a local directory as the bucket, show the checks a user would run on what landed, then prove
the backup restores: the restore drill, and a real restore into a second fresh server whose table
checksums must equal the source's. Then physical backups: a full mariadb-backup copy and an incremental
on it, the chain drilled, and restored into a data directory that a second server starts on, again
compared table by table. Last, a point-in-time restore: marked writes after the backup, the binlog
archived (twice, compacted into one segment), and ``restore --until`` the second between two marks."""

from __future__ import annotations

import os
import secrets
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT))

from agent.drill.throwaway_server import ThrowawayServer  # noqa: E402  # after the path setup above

BUCKET = PROJECT / "demo-backups"
# The demo server writes a ROW binary log, as PITR needs (docs/PITR.md), so the backup records its
# snapshot's GTID position and the point-in-time part below has a binlog to archive.
BINLOG_ARGS = ("--log-bin=demo-bin", "--server-id=1", "--binlog-format=ROW")
MARKERS = ("before the target second", "in the target second", "after the target second")
CLI = str(PROJECT / ".venv" / "bin" / "mariadb-ha-backup")


def show(argv: list[str], *, cwd: Path = PROJECT, env: dict[str, str] | None = None) -> str:
    print(f"\n$ {shlex.join(argv)}", flush=True)
    done = subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, text=True, check=False)
    print(done.stdout, end="", flush=True)
    if done.returncode != 0:
        raise SystemExit(f"demo: {argv[0]} exited {done.returncode}")
    return done.stdout


def main() -> None:
    BUCKET.mkdir(exist_ok=True)
    with ThrowawayServer(extra_args=BINLOG_ARGS) as server, tempfile.TemporaryDirectory() as secrets_dir:
        print(f"throwaway MariaDB on 127.0.0.1:{server.port}; loading examples/sample-data.sql")
        server.execute((PROJECT / "examples" / "sample-data.sql").read_text())
        password = secrets.token_urlsafe(16)
        server.set_root_password(password)
        password_file = Path(secrets_dir, "root-password")
        password_file.write_text(password)
        env = {
            **os.environ,
            "CLOUD_PROVIDER": "local",
            "LOCAL_BACKUP_DIR": str(BUCKET),
            "CELL_DEFAULT_NAMESPACE": "demo",
            "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
            "MARIADB_HOST": "127.0.0.1",
            "MARIADB_PORT": str(server.port),
            "MARIADB_PASSWORD_FILE": str(password_file),
        }
        show([CLI, "backup"], env=env)
        newest = sorted((BUCKET / "mariadb-ha-backup" / "demo" / "mariadb-ha").iterdir())[-1]
        show(["ls", "-l", str(newest.relative_to(PROJECT))])
        show(["sha1sum", "-c", "mariadb-ha-backup.tar.gz.sha1"], cwd=newest)
        show(["tar", "tzvf", "mariadb-ha-backup.tar.gz"], cwd=newest)
        show([CLI, "list"], env=env)
        show([CLI, "verify", "--latest", "--restore-test"], env=env)
        with ThrowawayServer() as target:
            target.set_root_password(password)
            show([CLI, "restore", "--latest"], env={**env, "MARIADB_PORT": str(target.port)})
            source_sums, target_sums = checksums(server), checksums(target)
            # The demo's own check, printed as such: `restore` itself does not run CHECKSUM TABLE.
            print(f"\n[demo check, not restore output] CHECKSUM TABLE on {len(source_sums)} tables: source and "
                  "restored target " + ("are identical" if source_sums == target_sums else "DIFFER"))
            if source_sums != target_sums:
                raise SystemExit("demo: the restored data differs from the source")
        # A recorded drill: drill.json beside the backup with the measured restore time (list's DRILLED column).
        show([CLI, "drill"], env=env)
        demo_physical(server, env=env)
        demo_point_in_time(server, env=env, password=password)
        show([CLI, "status"], env=env)
    print(f"\ndemo: OK — the backup is in {newest.relative_to(PROJECT)}")


def demo_physical(server: ThrowawayServer, *, env: dict[str, str]) -> None:
    """A full physical backup, a change, an incremental on it; the chain drilled, then restored into a data
    directory that a second server starts on, whose tables must equal the source's."""
    print("\n--- physical: mariadb-backup full + incremental, restored into a data directory ---")
    show([CLI, "backup", "--method", "physical"], env=env)
    server.execute("UPDATE shop.orders SET quantity = quantity + 1 WHERE id % 10 = 0;")
    show([CLI, "backup", "--method", "physical", "--incremental"], env=env)
    show([CLI, "list"], env=env)
    show([CLI, "verify", "--latest", "--restore-test"], env=env)
    with tempfile.TemporaryDirectory() as parent:
        datadir = Path(parent, "restored-datadir")
        show([CLI, "restore", "--latest", "--datadir", str(datadir)], env=env)
        with ThrowawayServer(datadir=datadir) as started:
            source_sums, restored_sums = checksums(server), checksums(started)
    print(f"\n[demo check, not restore output] CHECKSUM TABLE on {len(source_sums)} tables: source and the server "
          "started on the restored data directory " + ("are identical" if source_sums == restored_sums else "DIFFER"))
    if source_sums != restored_sums:
        raise SystemExit("demo: the physically restored data differs from the source")


def demo_point_in_time(server: ThrowawayServer, *, env: dict[str, str], password: str) -> None:
    """After the backup: marked writes in three different seconds, the binlog archived once, then a restore
    to the middle second into a fresh server, whose marker rows prove it holds that second and no later."""
    print("\n--- point in time: writes after the backup, restored to the second between two of them ---")
    server.execute("CREATE TABLE shop.pitr_markers (name VARCHAR(40) PRIMARY KEY, written DATETIME(3));")
    # Archived twice, with a rollup every 2 segments and compaction on: the rollup's two small segments
    # become one (binlogs/compactions/ commits it), and the restore below reads the compacted one.
    env = {**env, "BINLOG_ROLLUP_RECORDS": "2", "BINLOG_COMPACT": "on"}
    _mark(server, MARKERS[0])
    show([CLI, "archive-binlogs"], env=env)
    time.sleep(1.05 - time.time() % 1.0)  # early in a fresh second: the next marker has it to itself
    target_second = server.execute("SELECT DATE_FORMAT(UTC_TIMESTAMP(), '%Y-%m-%dT%H:%i:%sZ')").strip()
    _mark(server, MARKERS[1])
    time.sleep(1.1)
    _mark(server, MARKERS[2])
    print(server.execute("SELECT name, written FROM shop.pitr_markers ORDER BY written"), end="")
    show([CLI, "archive-binlogs"], env=env)
    archive = BUCKET / "mariadb-ha-backup" / "demo" / "mariadb-ha" / "binlogs"
    show(["ls", "-R", *(str((archive / folder).relative_to(PROJECT)) for folder in ("segments", "compactions"))])
    show([CLI, "list"], env=env)
    with ThrowawayServer() as target:
        target.set_root_password(password)
        show([CLI, "restore", "--until", target_second], env={**env, "MARIADB_PORT": str(target.port)})
        restored = target.execute("SELECT name FROM shop.pitr_markers ORDER BY written").splitlines()
    print(f"\nmarker rows in the server restored to {target_second}: {restored}")
    if restored != list(MARKERS[:2]):
        raise SystemExit("demo: the point-in-time restore does not hold exactly the writes up to that second")


def _mark(server: ThrowawayServer, marker: str) -> None:
    # Only the constant MARKERS above are interpolated.
    server.execute(f"INSERT INTO shop.pitr_markers VALUES ('{marker}', NOW(3))")  # noqa: S608


def checksums(server: ThrowawayServer) -> dict[str, str]:
    tables = server.execute(
        "SELECT CONCAT('`', table_schema, '`.`', table_name, '`') FROM information_schema.tables "
        "WHERE table_type = 'BASE TABLE' AND table_schema IN ('shop', 'crm', 'audit-log')"
    ).split()
    return dict(line.split("\t") for line in server.execute(f"CHECKSUM TABLE {', '.join(tables)}").splitlines())


if __name__ == "__main__":
    main()
