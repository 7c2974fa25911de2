"""Object layout of the binlog archive (a contract shared by the archiver, restore, list, prune, status).

Everything lives under ``<prefix>/binlogs/`` beside the backup folders (whose names are backup ids, so
the backup catalog ignores this folder)::

    <prefix>/binlogs/segments/<seq:012d>.binlog   an immutable segment
    <prefix>/binlogs/index/<seq:012d>.json        its index record, written after it (the commit marker)
    <prefix>/binlogs/gaps/<seq:012d>.json         a recorded gap, in place of a segment
    <prefix>/binlogs/rollups/<first:012d>-<last:012d>.json   the records first..last in one object
    <prefix>/binlogs/segments/<first:012d>-<last:012d>.binlog   segments first..last compacted into one
    <prefix>/binlogs/compactions/<first:012d>-<last:012d>.json  its record (the commit marker)

``seq`` is one archive-wide counter: every segment and every gap takes the next number, so the merged
list of index and gap records, sorted by ``seq``, is the archive's history in order. Keys never contain
the server's binlog file names: those repeat across nodes and after a failover (each Galera node numbers
its own ``bin.000001``...), the counter does not.

A segment is a self-contained, valid binlog file: the magic ``\\xfebin``, the source file's
Format_description event, then only complete transactions (a GTID event through its XID/COMMIT), so
``mariadb-binlog SEGMENT`` decodes it alone and a replay can stop at any segment boundary. A segment
without an index record is not part of the archive (an upload interrupted before its commit marker);
the next archiver run writes that ``seq`` again.

A rollup (``shared.binlogs.rollups``) repeats, in one object, the index and gap records of a closed
stretch of ``seq`` (an hour of archiving, at most ``ROLLUP_MAX_RECORDS`` records), so readers of a
month-long archive read hundreds of objects instead of hundreds of thousands. The records stay the
source of truth: a rollup is written after them, and one that is missing or disagrees is read around.
"""

from __future__ import annotations

import re

BINLOGS_FOLDER = "binlogs"
SEGMENTS = "segments"
INDEX = "index"
GAPS = "gaps"
ROLLUPS = "rollups"
COMPACTIONS = "compactions"
SEQ_DIGITS = 12
SEGMENT_SUFFIX = ".binlog"
RECORD_SUFFIX = ".json"
BINLOG_MAGIC = b"\xfebin"

# A segment may carry layer suffixes (``000000000007.binlog.age`` when encrypted: shared.formats.LAYERS).
_SEQ_NAME = re.compile(r"^(\d{12})\.(binlog|json)((\.[a-z0-9]+)*)$")
_ROLLUP_NAME = re.compile(r"^(\d{12})-(\d{12})\.json$")
# Keys are listed by blocks of this many seqs (a key prefix of the first 9 digits), so a reader can list
# the records after a given seq without listing the whole folder. 1,000 is also S3's page size.
SEQ_BLOCK = 1000


def binlogs_root(prefix: str) -> str:
    """``<prefix>/binlogs/`` with exactly one slash between parts."""
    return f"{prefix.strip('/')}/{BINLOGS_FOLDER}/"


def _key(prefix: str, folder: str, seq: int, suffix: str) -> str:
    if seq < 0 or seq >= 10**SEQ_DIGITS:
        raise ValueError(f"segment sequence number {seq} out of range")
    return f"{binlogs_root(prefix)}{folder}/{seq:0{SEQ_DIGITS}d}{suffix}"


def segment_key(prefix: str, seq: int, *, layer_suffix: str = "") -> str:
    return _key(prefix, SEGMENTS, seq, SEGMENT_SUFFIX + layer_suffix)


def index_key(prefix: str, seq: int) -> str:
    return _key(prefix, INDEX, seq, RECORD_SUFFIX)


def gap_key(prefix: str, seq: int) -> str:
    return _key(prefix, GAPS, seq, RECORD_SUFFIX)


def rollup_key(prefix: str, first_seq: int, last_seq: int) -> str:
    return _key(prefix, ROLLUPS, first_seq, f"-{last_seq:0{SEQ_DIGITS}d}{RECORD_SUFFIX}")


def compacted_segment_key(prefix: str, first_seq: int, last_seq: int) -> str:
    """The one segment replacing the segments first..last (``shared.binlogs.compaction``)."""
    return _key(prefix, SEGMENTS, first_seq, f"-{last_seq:0{SEQ_DIGITS}d}{SEGMENT_SUFFIX}")


def compaction_key(prefix: str, first_seq: int, last_seq: int) -> str:
    """The record that commits a compacted segment (written after it, like an index record)."""
    return _key(prefix, COMPACTIONS, first_seq, f"-{last_seq:0{SEQ_DIGITS}d}{RECORD_SUFFIX}")


def rollup_range(key: str) -> tuple[int, int] | None:
    """``(first_seq, last_seq)`` of a rollup key, or None for a key that is not one."""
    match = _ROLLUP_NAME.match(key.rsplit("/", 1)[-1])
    return (int(match.group(1)), int(match.group(2))) if match else None


def compaction_range(key: str) -> tuple[int, int] | None:
    """``(first_seq, last_seq)`` of a compaction record's key, or None for a key that is not one."""
    return rollup_range(key)  # the same ``<first>-<last>.json`` name


def block_prefix(prefix: str, folder: str, block: int) -> str:
    """The listing prefix of the keys of ``folder`` whose seq lies in ``[block * SEQ_BLOCK, +SEQ_BLOCK)``."""
    return f"{folder_prefix(prefix, folder)}{block:0{SEQ_DIGITS - 3}d}"


def folder_prefix(prefix: str, folder: str) -> str:
    """The listing prefix of one of ``segments``, ``index``, ``gaps``."""
    return f"{binlogs_root(prefix)}{folder}/"


def seq_of(key: str) -> int | None:
    """The sequence number in a segment/index/gap key, or None for a key that is not one of ours."""
    match = _SEQ_NAME.match(key.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None
