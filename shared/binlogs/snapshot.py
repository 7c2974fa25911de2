"""The binlog position of a backup's snapshot, read from the dump stream as it passes.

With ``--single-transaction --master-data=2 --gtid`` (and ``log_bin`` on), ``mariadb-dump`` 10.11 takes a
consistent snapshot without a global lock (``START TRANSACTION WITH CONSISTENT SNAPSHOT`` plus the
``binlog_snapshot_file/position`` status) and writes, as SQL comments:

- near the top:  ``-- CHANGE MASTER TO MASTER_LOG_FILE='bin.000002', MASTER_LOG_POS=801;``
- near the end:  ``-- SET GLOBAL gtid_slave_pos='0-7-5';`` (after the dump of ``mysql.gtid_slave_pos``)

The GTID state is what point-in-time restore starts from: every transaction in it is in the dump. The
file and position are the serving node's own (each Galera node numbers its binlog files itself), kept
for an operator. A ``DumpSniffer`` keeps only the first and the last 64 KiB of the stream, so watching
costs nothing however large the dump is.
"""

from __future__ import annotations

import re

from shared.binlogs.gtid import GtidError, format_state, parse_state
from shared.errors import BackupFailedError
from shared.manifest import BinlogPosition

# --master-data=2 writes CHANGE MASTER as a comment (1 would execute it on restore); --gtid adds the
# GTID state. Only valid when the server writes a binlog: otherwise the dump fails.
POSITION_FLAGS: tuple[str, ...] = ("--master-data=2", "--gtid")
# Both comments are a few hundred bytes from their end of the stream (measured: the CHANGE MASTER line
# within the first 2 KiB, the gtid_slave_pos line within the last 1 KiB); 64 KiB leaves room for long
# server version banners and many GTID domains.
WINDOW = 64 << 10

_FILE_POS = re.compile(rb"^-- CHANGE MASTER TO MASTER_LOG_FILE='([^']+)', MASTER_LOG_POS=(\d+);", re.MULTILINE)
_GTID_STATE = re.compile(rb"^-- SET GLOBAL gtid_slave_pos='([0-9,\- ]*)';", re.MULTILINE)


class SnapshotPositionError(BackupFailedError):
    """The dump ran with the position flags but did not carry the position comments."""


class DumpSniffer:
    """Fed every chunk of one dump attempt; ``restart`` when the dump is retried from the beginning."""

    def __init__(self) -> None:
        self._head = b""
        self._tail = b""

    def restart(self) -> None:
        self._head = self._tail = b""

    def feed(self, chunk: bytes) -> None:
        if len(self._head) < WINDOW:
            self._head += chunk[:WINDOW - len(self._head)]
        self._tail = (self._tail + chunk)[-WINDOW:] if len(chunk) < WINDOW else chunk[-WINDOW:]

    def position(self, *, node: str, server_id: int | None) -> BinlogPosition:
        """The snapshot's position, once the dump has ended successfully."""
        file_pos = _FILE_POS.search(self._head)
        gtid = _GTID_STATE.search(self._tail)
        if file_pos is None or gtid is None:
            missing = "CHANGE MASTER" if file_pos is None else "gtid_slave_pos"
            raise SnapshotPositionError(f"mariadb-dump --master-data=2 --gtid wrote no {missing} comment")
        try:
            state = format_state(parse_state(gtid.group(1).decode()))
        except GtidError as exc:
            raise SnapshotPositionError(f"mariadb-dump wrote an unreadable GTID state: {exc}") from None
        return BinlogPosition(gtid_state=state, file=file_pos.group(1).decode(errors="replace"),
                              position=int(file_pos.group(2)), node=node, server_id=server_id)
