"""What a user checks in a binlog archive: every segment intact (SHA1), decodable alone by
``mariadb-binlog``, and the GTIDs of all segments together equal to the server's own binlogs."""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

from shared.binlogs import layout
from shared.binlogs.index import iter_history
from shared.binlogs.records import GapRecord, SegmentRecord
from shared.storage.local import LocalStorage

_GTID_LINE = re.compile(r"\tGTID (\d+-\d+-\d+)")


def decoded_gtids(path: Path) -> list[str]:
    """The GTID of every event group in a binlog file, as ``mariadb-binlog`` decodes it."""
    done = subprocess.run(["mariadb-binlog", "--no-defaults", "--verify-binlog-checksum", str(path)],
                          capture_output=True, check=True)
    return _GTID_LINE.findall(done.stdout.decode())


def server_gtids(data_dir: Path, basename: str = "bin") -> list[str]:
    """Every GTID in the server's own binlog files, oldest file first."""
    files = sorted(data_dir.glob(f"{basename}.[0-9]*"), key=lambda p: int(p.suffix[1:]))
    return [gtid for path in files for gtid in decoded_gtids(path)]


def history(bucket: Path, prefix: str) -> list[SegmentRecord | GapRecord]:
    return list(iter_history(LocalStorage(bucket), prefix))


def archived_gtids(bucket: Path, prefix: str) -> list[str]:
    """GTIDs of every indexed segment in seq order, after checking each segment's SHA1 and size."""
    found: list[str] = []
    for record in history(bucket, prefix):
        if isinstance(record, SegmentRecord):
            path = bucket / record.segment
            data = path.read_bytes()
            assert hashlib.sha1(data).hexdigest() == record.sha1 and len(data) == record.size
            gtids = decoded_gtids(path)
            assert (gtids[0], gtids[-1], len(gtids)) == (record.first_gtid, record.last_gtid, record.transactions)
            found.extend(gtids)
    return found


def archived_transactions(bucket: Path, prefix: str) -> int:
    """How many transactions the index says are archived: for an archive whose small segments
    compaction may already have replaced (``archived_gtids`` reads each small segment)."""
    return sum(r.transactions for r in history(bucket, prefix) if isinstance(r, SegmentRecord))


def segment_objects(bucket: Path, prefix: str) -> list[str]:
    folder = bucket / layout.folder_prefix(prefix, layout.SEGMENTS)
    return sorted(p.name for p in folder.glob("*")) if folder.exists() else []
