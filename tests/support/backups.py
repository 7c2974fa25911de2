"""Build backup artifacts in tests exactly as the agent does (same spool and archive code)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from shared.archive import CompressedSpool, open_targz
from shared.layout import TAR_MEMBER


def targz_bytes(sql: bytes, tmp: Path, *, member: str = TAR_MEMBER, mtime: int = 0) -> bytes:
    spool = CompressedSpool(tmp / f"spool-{hashlib.sha1(sql).hexdigest()}", member=member)
    spool.write(sql)
    header = spool.finish(mtime=mtime)
    with open_targz(spool.path, header=header, content_bytes=spool.content_bytes) as stream:
        return stream.read()
