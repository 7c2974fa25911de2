"""The run's private 0700 directory (password file, spool, client stderr), removed however the run ends."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.config import ConfigError


@contextmanager
def private_run_dir(parent: Path | None) -> Iterator[Path]:
    """A fresh 0700 directory under ``parent`` (BACKUP_TMPDIR; None: the system temp dir)."""
    try:
        path = Path(tempfile.mkdtemp(prefix="mariadb-ha-backup-", dir=parent))
    except OSError as exc:
        raise ConfigError(f"cannot create a temp dir in {parent or tempfile.gettempdir()}: {exc.strerror}") from None
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
