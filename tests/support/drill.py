"""The drill Job's second container, on this machine: an empty ``mariadbd`` whose root logs in over TCP
without a password (what the MariaDB image starts with MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1).

- ``empty_drill_server``: such a server on 127.0.0.1:``.port``; ``.address`` is the ``DRILL_SERVER`` value.
  The drill gives every root account a password, so the test reads the server back as ``checker``
  (created before the drill, all privileges, over the private socket): ``table_checksums(server)`` works.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.drill.throwaway_server import ThrowawayServer


class EmptyDrillServer(ThrowawayServer):
    checker = False

    def start(self) -> EmptyDrillServer:
        super().start()
        self.execute("CREATE USER checker@localhost; GRANT ALL ON *.* TO checker@localhost;")
        self.checker = True
        return self

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client_argv(self, *args: str) -> list[str]:
        argv = super().client_argv(*args)
        return [a.replace("-uroot", "-uchecker") for a in argv] if self.checker else argv


@pytest.fixture
def empty_drill_server() -> Iterator[EmptyDrillServer]:
    # Under /tmp: the server's socket path must stay under 108 bytes.
    server = EmptyDrillServer(base_dir=Path("/tmp"), extra_args=("--max-allowed-packet=1G",))
    server.start()
    yield server
    server.stop()
