"""Building a segment: a valid, self-contained binlog file made of complete transactions.

``magic + Format_description + transactions`` is all ``mariadb-binlog`` needs to decode a file: the
Format_description tells it the event layout and the checksum algorithm. The copy of that event has
its "file in use" flag cleared (and its CRC32 recomputed), because a segment is complete the moment
it is written; left set, ``mariadb-binlog`` would warn that the file "was not closed properly".

The events keep their original headers, so ``end_log_pos`` in a decoded segment still names the
position in the server's own file (``source_file`` in the index record), which is what an operator
comparing with ``SHOW BINLOG EVENTS`` on the server wants to see.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Sequence
from typing import Any

from shared.binlogs.events import CHECKSUM_SIZE, HEADER_SIZE, Event, Transaction, has_checksums
from shared.binlogs.layout import BINLOG_MAGIC
from shared.binlogs.records import SegmentRecord
from shared.formats import UnknownFormatError

LOG_EVENT_BINLOG_IN_USE_F = 0x1
_FLAGS_OFFSET = HEADER_SIZE - 2  # the 2-byte flags field ends the v4 header


def closed_format_description(event: Event) -> bytes:
    """The Format_description's bytes with the in-use flag cleared and its checksum made right again."""
    raw = bytearray(event.raw)
    struct.pack_into("<H", raw, _FLAGS_OFFSET, event.flags & ~LOG_EVENT_BINLOG_IN_USE_F)
    if has_checksums(event):
        struct.pack_into("<I", raw, len(raw) - CHECKSUM_SIZE, zlib.crc32(raw[:-CHECKSUM_SIZE]))
    return bytes(raw)


def build_segment(format_description: Event, transactions: Sequence[Transaction]) -> bytes:
    """The segment file's bytes; ``transactions`` must all come from the file ``format_description`` heads."""
    if not transactions:
        raise ValueError("a segment needs at least one transaction")
    parts = [BINLOG_MAGIC, closed_format_description(format_description)]
    parts.extend(event.raw for transaction in transactions for event in transaction.events)
    return b"".join(parts)


def segment_plaintext(stored: bytes, record: SegmentRecord, *, identities: Sequence[Any] = ()) -> bytes:
    """The binlog inside a stored segment, its layers undone (check ``record.sha1`` on ``stored`` first).

    An encrypted segment (``record.layers == ["age"]``) needs ``identities``: without them this raises
    the same exit-2 error as a restore of an encrypted backup without an identity."""
    from shared.encryption import decrypt_bytes
    from shared.encryption.keys import AGE_LAYER, IdentityMissingError

    for layer in reversed(record.layers):
        if layer != AGE_LAYER:
            raise UnknownFormatError(f"binlog segment {record.segment} has an unknown layer {layer[:40]!r}")
        if not identities:
            raise IdentityMissingError(f"binlog segment {record.segment} is encrypted: set "
                                       "BACKUP_DECRYPT_IDENTITY_FILE or BACKUP_DECRYPT_IDENTITY_SECRET")
        stored = decrypt_bytes(stored, identities, what=f"binlog segment {record.segment}")
    return stored
