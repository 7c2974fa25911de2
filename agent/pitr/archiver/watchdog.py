"""Noticing a stream that stopped delivering while the cluster went on.

``mariadb-binlog`` waits forever on a silent connection: the server sends nothing while idle (no
heartbeat is asked for), so a node that vanished without closing its sockets (a powered-off machine, a
network partition) looks just like an idle one. A Galera node that drops out of the Primary component
keeps the connection but stops committing, while the other nodes carry on. Every ``CHECK_SECONDS`` the
watchdog asks the followed node over a fresh connection: is it still a Synced member, and where is it
writing? If the server was already past some position at the previous check and the stream has still
not delivered up to it, the stream is stalled. Either way the archiver treats it as a lost connection:
it commits what it has and continues on another node from the last archived GTID.
"""

from __future__ import annotations

import time

from agent.pitr.archiver.nodes import Node, NodeUnavailableError, current_position, inspect_node
from agent.pitr.archiver.stream import FileEvent, StreamError, file_order
from shared.mariadb_client import ClientConnectionError

# Two checks apart (20 s) is the longest a stall can last unnoticed; each check is two short queries.
CHECK_SECONDS = 10.0


class Watchdog:
    def __init__(self, node: Node, *, every_seconds: float = CHECK_SECONDS) -> None:
        self.node = node
        self.every_seconds = every_seconds
        self._seen: tuple[tuple[str, int], int] | None = None  # (file order key, position) delivered so far
        self._server_then: tuple[str, int] | None = None  # where the server was writing at the last check
        self._last_check = time.monotonic()

    def saw(self, events: list[FileEvent]) -> None:
        for item in events:
            if item.event.next_position > 0:
                self._seen = (file_order(item.file), item.event.next_position)

    def check(self) -> StreamError | None:
        """None while all is well (or not yet time to look); else why the stream should be given up."""
        if time.monotonic() - self._last_check < self.every_seconds:
            return None
        self._last_check = time.monotonic()
        try:
            inspect_node(self.node.endpoint, (self.node.defaults_file, self.node.binlog_defaults_file))
            file, position = current_position(self.node)
        except (NodeUnavailableError, ClientConnectionError) as exc:
            return StreamError("connection", f"health check of {self.node.endpoint} failed: {exc}")
        then, self._server_then = self._server_then, (file, position)
        if then is not None and (self._seen is None or self._seen < (file_order(then[0]), then[1])):
            return StreamError("connection", f"stream from {self.node.endpoint} stalled: the server was at "
                                             f"{then[0]}:{then[1]} {self.every_seconds:.0f} s ago, the stream "
                                             "has not delivered that far")
        return None

