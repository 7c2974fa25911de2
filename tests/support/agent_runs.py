"""Helpers for tests that run the agent against a real server: its environment, and ways to hold a
dump mid-stream (a table lock) and find the mariadb-dump child while it runs."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

from tests.support.mariadb_server import TestServer


def env_for(server: TestServer, bucket: Path, tmp: Path, **extra: str) -> dict[str, str]:
    return {
        "CLOUD_PROVIDER": "local",
        "LOCAL_BACKUP_DIR": str(bucket),
        "BACKUP_TMPDIR": str(tmp),
        "BACKUP_RETRY_ATTEMPTS": "2",
        "BACKUP_RETRY_SECONDS": "5",
        **server.agent_env(),
        **extra,
    }


def hold_table_lock(server: TestServer, table: str) -> subprocess.Popen[bytes]:
    """A session holding a write lock: mariadb-dump blocks on that table, mid-dump, until released."""
    holder = subprocess.Popen(server.client_argv(), stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    assert holder.stdin is not None
    holder.stdin.write(f"LOCK TABLES {table} WRITE; SELECT SLEEP(120);\n".encode())
    holder.stdin.flush()
    return holder


def wait_for(predicate, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached")


def dump_children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid), "-f", "mariadb-dump"], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]
