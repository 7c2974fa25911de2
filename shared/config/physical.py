"""The method section: logical (mariadb-dump) or physical (mariadb-backup) backups, and the physical knobs.

``BACKUP_METHOD=physical`` copies the data directory with mariadb-backup instead of dumping SQL: the
backup and the restore run at disk speed, and incrementals copy only the pages changed since their
parent. It needs the server's data directory readable where the agent runs (a Job on the node, with
the data volume mounted) and a mariadb-backup of the server's major version.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from shared.config.parsing import ConfigError, parse_duration, safe, whole_number
from shared.manifest import LOGICAL, PHYSICAL

METHODS = (LOGICAL, PHYSICAL)
# mariadb-backup --parallel: files copied at once. The copy is disk-bound and the compressor takes a
# core of its own; 2 keeps a small node's disk busy without starving the server it runs beside.
DEFAULT_COPY_THREADS = 2


@dataclass(frozen=True)
class MethodSettings:
    method: str = LOGICAL  # LOGICAL | PHYSICAL
    # Physical only. A full backup when the newest full is older than this, an incremental on the newest
    # backup of its chain otherwise; None: every backup is a full (unless `backup --incremental`).
    full_every: timedelta | None = None
    copy_threads: int = DEFAULT_COPY_THREADS
    # The server's data directory as mounted where the agent runs; None: the server's own @@datadir
    # (the agent runs on the server's machine or the same path is mounted).
    datadir: Path | None = None

    @property
    def physical(self) -> bool:
        return self.method == PHYSICAL


def load_method(values: Mapping[str, str]) -> MethodSettings:
    method = values.get("BACKUP_METHOD", LOGICAL)
    if method not in METHODS:
        raise ConfigError(f"BACKUP_METHOD must be one of {', '.join(METHODS)}, not {safe(method)!r}")
    full_every = values.get("BACKUP_FULL_EVERY")
    if method != PHYSICAL and full_every is not None:
        raise ConfigError("BACKUP_FULL_EVERY (--full-every) applies to BACKUP_METHOD=physical only")
    return MethodSettings(
        method=method,
        full_every=parse_duration(full_every, name="BACKUP_FULL_EVERY") if full_every is not None else None,
        copy_threads=whole_number(values, "BACKUP_COPY_THREADS", low=1, high=64) or DEFAULT_COPY_THREADS,
        datadir=Path(values["MARIADB_DATADIR"]) if "MARIADB_DATADIR" in values else None,
    )
