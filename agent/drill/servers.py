"""Where a drill restores: a throwaway ``mariadbd`` started here, or the drill Job's own server.

``verify --restore-test`` on a laptop or in CI starts a private server (``agent.drill.throwaway_server``);
in a cluster the agent image has no ``mariadbd``, so the drill Job runs the user's server image as a
second container and the agent is given its address (``DRILL_SERVER``, ``agent.drill.given_server``).
Either way the restore gets a defaults file for root with a random password over TCP, the path a
real restore takes.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agent.drill.given_server import given_server
from agent.drill.throwaway_server import ThrowawayServer
from shared.config import Endpoint
from shared.mariadb_client import run_client_query, write_defaults_file

# A throwaway server takes any row the source could dump (the restore raises a real target's limit).
THROWAWAY_SERVER_ARGS = ("--max-allowed-packet=1G",)
LOCAL = "throwaway server on this machine"


@dataclass(frozen=True)
class DrillServer:
    defaults_file: Path
    description: str  # for the record: where the drill restored

    def version(self) -> str:
        return run_client_query(self.defaults_file, "SELECT VERSION()")[0][0]


def describe(address: Endpoint | None) -> str:
    return LOCAL if address is None else f"drill server {address}"


@contextmanager
def drill_server(address: Endpoint | None, *, run_dir: Path) -> Iterator[DrillServer]:
    """The given server at ``address``, or (None) a throwaway one started here and removed afterwards."""
    if address is not None:
        with given_server(address, run_dir=run_dir) as defaults:
            yield DrillServer(defaults_file=defaults, description=describe(address))
        return
    with ThrowawayServer(base_dir=run_dir, extra_args=THROWAWAY_SERVER_ARGS) as server:
        password = secrets.token_urlsafe(24)
        server.set_root_password(password)
        defaults = write_defaults_file(run_dir, host=server.host, port=server.port, user="root", password=password)
        yield DrillServer(defaults_file=defaults, description=LOCAL)
