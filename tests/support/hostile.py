"""A server full of hostile content (``hostile.sql``): odd names, history, sequences, definers, markers.

Loaded with ``--comments`` so routine and trigger comments reach the server (the client strips them
by default), and dumped with the project's own flags.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from agent.drill.throwaway_server import ThrowawayServer
from shared.dump import DUMP_FLAGS

HOSTILE_SQL = Path(__file__).with_name("hostile.sql")
HOSTILE_DATABASES = (
    "empty_db",
    "hist",
    "innocent",
    "nums",
    "odd`name",
    "seqs",
    "sp ace;db",
    "victim",
    "xref",
    "ünï-cødé",
)


def load_hostile(server: ThrowawayServer) -> None:
    argv = server.client_argv("--comments", "--batch")
    done = subprocess.run(argv, input=HOSTILE_SQL.read_bytes(), capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")


def dump_all(server: ThrowawayServer, *extra: str) -> bytes:
    """The server's all-databases dump with the agent's flags (plus ``extra``), over the private socket."""
    argv = ["mariadb-dump", "--no-defaults", "-uroot", f"--socket={server.socket_path}", *DUMP_FLAGS, *extra]
    done = subprocess.run(argv, capture_output=True, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")
    return done.stdout
