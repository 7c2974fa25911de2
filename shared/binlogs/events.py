"""A minimal reader of MariaDB binlog events: enough to find transactions, their GTIDs and commit times.

It parses the v4 event header (timestamp, type, server_id, size, next position, flags) and the bodies
of the few events that matter for archiving and point-in-time restore: Format_description (checksum
algorithm), Rotate, Gtid_list, GTID (seq_no, domain_id, flags), Query (its statement text, to see
COMMIT/ROLLBACK) and XID. Everything else passes through as raw bytes. A hand-written reader because
the libraries that parse binlogs (PyPI ``mysql-replication``) bring their own network client and
decode rows; we only need the boundaries, from a file or a byte buffer that may end mid-event.

Transactions (MariaDB 10.x, ``binlog_format=ROW``): a GTID event opens every event group. A group
whose GTID event has ``FL_STANDALONE`` (DDL and other implicit-commit statements) ends with its
Query event; any other group ends with an XID event (InnoDB), a Query ``COMMIT``/``ROLLBACK``
(non-transactional engines), or an XA_PREPARE event (the first half of an XA transaction; its
``XA COMMIT``/``XA ROLLBACK`` is a group of its own). A group without a known end raises, so a
transaction is never dropped silently.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.binlogs.gtid import Gtid
from shared.binlogs.layout import BINLOG_MAGIC
from shared.errors import BackupFailedError

HEADER = struct.Struct("<IBIIIH")  # timestamp, type, server_id, event_size, next_position, flags
HEADER_SIZE = HEADER.size  # 19
CHECKSUM_SIZE = 4  # CRC32

QUERY_EVENT = 2
ROTATE_EVENT = 4
FORMAT_DESCRIPTION_EVENT = 15
XID_EVENT = 16
ANNOTATE_ROWS_EVENT = 160
BINLOG_CHECKPOINT_EVENT = 161
GTID_EVENT = 162
GTID_LIST_EVENT = 163
START_ENCRYPTION_EVENT = 164
XA_PREPARE_LOG_EVENT = 38  # MariaDB's number (MySQL's XA_PREPARE is 38 too)

GTID_FL_STANDALONE = 0x01
_CHECKSUM_ALG_OFF = 0
_QUERY_POST_HEADER = struct.Struct("<IIBHH")  # thread_id, exec_time, db_len, error_code, status_vars_len
_GTID_BODY = struct.Struct("<QIB")  # seq_no, domain_id, flags2


class BinlogFormatError(BackupFailedError):
    """The bytes are not a binlog this reader understands (bad magic, impossible event size, an event
    group without a known end): exit 1, never a silently dropped transaction."""


@dataclass(frozen=True)
class Event:
    """One event: its parsed header, where it starts in its file, and its raw bytes (checksum included)."""

    offset: int
    timestamp: int
    type_code: int
    server_id: int
    size: int
    next_position: int
    flags: int
    raw: bytes

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)

    @property
    def end(self) -> int:
        return self.offset + self.size

    def body(self, *, checksum: bool) -> bytes:
        """The post-header and payload, without the trailing CRC32 when the file has checksums."""
        return self.raw[HEADER_SIZE:len(self.raw) - CHECKSUM_SIZE if checksum else None]


def parse_events(buffer: bytes | memoryview, *, offset: int) -> Iterator[Event]:
    """The complete events in ``buffer``, whose first byte is at file position ``offset``; stops quietly
    at a trailing partial event (a file still being written), so callers resume from the last ``end``."""
    view = memoryview(buffer)
    position = 0
    while len(view) - position >= HEADER_SIZE:
        timestamp, type_code, server_id, size, next_position, flags = HEADER.unpack_from(view, position)
        if size < HEADER_SIZE:
            raise BinlogFormatError(f"binlog event at offset {offset + position} claims {size} bytes")
        if len(view) - position < size:
            return
        yield Event(offset=offset + position, timestamp=timestamp, type_code=type_code, server_id=server_id,
                    size=size, next_position=next_position, flags=flags,
                    raw=bytes(view[position:position + size]))
        position += size


def check_magic(head: bytes) -> None:
    if head[:len(BINLOG_MAGIC)] != BINLOG_MAGIC:
        raise BinlogFormatError("not a binlog file (no \\xfebin magic)")


def read_file_events(data: bytes) -> Iterator[Event]:
    """Every complete event of a whole binlog file's bytes (magic included)."""
    check_magic(data)
    return parse_events(memoryview(data)[len(BINLOG_MAGIC):], offset=len(BINLOG_MAGIC))


def has_checksums(format_description: Event) -> bool:
    """Whether the events after this Format_description carry a CRC32. The algorithm byte sits just
    before the FDE's own 4-byte checksum field, which is present whatever the algorithm."""
    if format_description.type_code != FORMAT_DESCRIPTION_EVENT:
        raise BinlogFormatError(f"expected a Format_description event, got type {format_description.type_code}")
    return format_description.raw[-CHECKSUM_SIZE - 1] != _CHECKSUM_ALG_OFF


@dataclass(frozen=True)
class GtidInfo:
    gtid: Gtid
    standalone: bool


def gtid_of(event: Event) -> GtidInfo:
    """A GTID event's GTID: seq_no and domain from the body, server_id from the header."""
    seq_no, domain_id, flags2 = _GTID_BODY.unpack_from(event.raw, HEADER_SIZE)
    return GtidInfo(Gtid(domain_id, event.server_id, seq_no), standalone=bool(flags2 & GTID_FL_STANDALONE))


def gtid_list_of(event: Event) -> list[Gtid]:
    """A Gtid_list event's GTIDs (the binlog state at the start of its file, one per domain)."""
    (count,) = struct.unpack_from("<I", event.raw, HEADER_SIZE)
    count &= 0x0FFFFFFF  # the top 4 bits are flags
    entries = struct.iter_unpack("<IIQ", event.raw[HEADER_SIZE + 4:HEADER_SIZE + 4 + 16 * count])
    return [Gtid(domain_id, server_id, seq_no) for domain_id, server_id, seq_no in entries]


def rotate_target(event: Event, *, checksum: bool) -> tuple[str, int]:
    """A Rotate event's next file name and position."""
    body = event.body(checksum=checksum)
    (position,) = struct.unpack_from("<Q", body)
    return body[8:].decode("utf-8", "replace"), position


def query_text(event: Event, *, checksum: bool) -> str:
    """A Query event's statement (the schema name and status variables skipped)."""
    body = event.body(checksum=checksum)
    _thread, _exec, db_len, _error, status_len = _QUERY_POST_HEADER.unpack_from(body)
    start = _QUERY_POST_HEADER.size + status_len + db_len + 1
    return body[start:].decode("utf-8", "replace")


def ends_transaction(event: Event, *, standalone: bool, checksum: bool) -> bool:
    """Whether ``event``, met inside an event group, is that group's last event."""
    if event.type_code in (XID_EVENT, XA_PREPARE_LOG_EVENT):
        return True
    if event.type_code != QUERY_EVENT:
        return False
    if standalone:
        return True
    statement = query_text(event, checksum=checksum).strip().upper()
    return statement in ("COMMIT", "ROLLBACK") or statement.startswith(("XA COMMIT", "XA ROLLBACK"))


@dataclass(frozen=True)
class Transaction:
    """One complete event group: [start, end) in its file; ``time`` is the commit (last event) time."""

    gtid: Gtid
    start: int
    end: int
    timestamp: int
    events: tuple[Event, ...]

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


class TransactionScanner:
    """Groups a stream of events into transactions; fed event by event, so it works on a growing file.

    ``feed`` returns the transaction an event completes, or None. Events outside any group
    (Format_description, Rotate, Gtid_list, Binlog_checkpoint) are remembered, not returned:
    ``format_description`` and ``gtid_list`` hold the latest ones.
    """

    def __init__(self) -> None:
        self.format_description: Event | None = None
        self.gtid_list: list[Gtid] | None = None
        self._open: list[Event] = []
        self._open_gtid: GtidInfo | None = None

    @property
    def checksum(self) -> bool:
        return self.format_description is not None and has_checksums(self.format_description)

    @property
    def in_transaction(self) -> bool:
        return self._open_gtid is not None

    def feed(self, event: Event) -> Transaction | None:
        if event.type_code == GTID_EVENT:
            if self._open_gtid is not None:
                raise BinlogFormatError(f"event group {self._open_gtid.gtid} has no end this reader knows before "
                                        f"the next GTID event at offset {event.offset}")
            self._open, self._open_gtid = [event], gtid_of(event)
            return None
        if event.type_code == FORMAT_DESCRIPTION_EVENT and self._open_gtid is not None:
            # A new file began inside a group: the server stopped mid-write (crash) and never committed
            # it; crash recovery rolled it back, so it is not a transaction.
            self._open, self._open_gtid = [], None
        if self._open_gtid is None:
            self._remember(event)
            return None
        self._open.append(event)
        if not ends_transaction(event, standalone=self._open_gtid.standalone, checksum=self.checksum):
            return None
        done = Transaction(gtid=self._open_gtid.gtid, start=self._open[0].offset, end=event.end,
                           timestamp=event.timestamp, events=tuple(self._open))
        self._open, self._open_gtid = [], None
        return done

    def _remember(self, event: Event) -> None:
        if event.type_code == FORMAT_DESCRIPTION_EVENT:
            self.format_description = event
        elif event.type_code == GTID_LIST_EVENT:
            self.gtid_list = gtid_list_of(event)


def transactions_of_file(data: bytes) -> Iterator[Transaction]:
    """Every complete transaction in a whole binlog file (an archived segment, say)."""
    scanner = TransactionScanner()
    for event in read_file_events(data):
        done = scanner.feed(event)
        if done is not None:
            yield done
