"""Restoring a physical backup into a data directory a server starts on.

    for each backup of the chain (full first): bucket → SHA1 → [age] → zstd → ``mbstream -x``
    then ``mariadb-backup --prepare`` the full, and ``--prepare --incremental-dir`` each incremental in order

Order matters, because a data directory is either whole or useless:
1. everything that can be refused is refused before any download: a target directory that is not
   empty, a chain with a missing link (agent.common.chains), a mariadb-backup of another server series;
2. the chain is unpacked and prepared in a staging directory beside the target (same filesystem, so
   the last step is a rename) and the target appears only when every SHA1 matched and every prepare
   succeeded; any failure or SIGTERM removes the staging directory: nothing is left half-written;
3. each incremental is unpacked only when the previous step is prepared and removed once applied, so
   the extra disk is the largest incremental, not the whole chain.
"""

from __future__ import annotations

import contextlib
import grp
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.verify.unpacking import ArtifactDamagedError, open_dump
from shared.errors import BackupFailedError, BadInputError
from shared.manifest import Manifest
from shared.mariadb_backup import BACKUP_BIN, MBSTREAM_BIN, require_series
from shared.processes import stop_process
from shared.readers import CHUNK_BYTES as CHUNK
from shared.readers import Progress
from shared.storage import Storage

log = logging.getLogger("mariadb_ha_backup.restore")


class DatadirNotEmptyError(BadInputError):
    """``restore --datadir`` names a directory that already holds files (a restore never overwrites one)."""


class PrepareFailedError(BackupFailedError):
    """``mbstream -x`` or ``mariadb-backup --prepare`` failed; the message carries the tail of its output."""


@dataclass(frozen=True)
class DatadirRestoreResult:
    backup_id: str
    datadir: str
    chain: list[str]  # ids prepared, full first
    stored_bytes: int  # downloaded, every SHA1 checked
    raw_bytes: int  # of mbstream unpacked
    seconds: float
    notes: list[str] = field(default_factory=list)


def check_datadir_target(datadir: Path) -> None:
    """Exit 2 unless ``datadir`` is absent or an empty directory, in an existing directory."""
    if datadir.exists() and (not datadir.is_dir() or any(datadir.iterdir())):
        raise DatadirNotEmptyError(f"--datadir {datadir} is not empty: a physical restore makes a new data "
                                   "directory and never writes into one that holds files")
    if not datadir.parent.is_dir():
        raise BadInputError(f"--datadir {datadir}: its parent directory {datadir.parent} does not exist")


def check_owner(owner: str) -> None:
    """``--owner USER[:GROUP]`` must name an existing user (and group) before anything is downloaded."""
    user, _, group = owner.partition(":")
    try:
        pwd.getpwnam(user)
        if group:
            grp.getgrnam(group)
    except KeyError:
        raise BadInputError(f"--owner {owner[:60]!r}: no such user or group on this machine") from None


def restore_datadir(storage: Storage, chain: Sequence[Manifest], *, datadir: Path, identities: Sequence[Any] = (),
                    progress: Progress | None = None, owner: str | None = None) -> DatadirRestoreResult:
    """Unpack and prepare ``chain`` (agent.common.chains.chain_of: full first) into ``datadir``."""
    clock = time.monotonic()
    check_datadir_target(datadir)
    if owner is not None:
        check_owner(owner)
    require_series(chain[0].source.server_version)
    staging = Path(tempfile.mkdtemp(prefix=f".{datadir.name}.restoring-", dir=datadir.parent))
    try:
        data, stored, raw = staging / "data", 0, 0
        for position, manifest in enumerate(chain):
            unpacked = data if position == 0 else staging / f"incremental-{manifest.id}"
            sizes = unpack(storage, manifest, into=unpacked, identities=identities, progress=progress)
            stored, raw = stored + sizes[0], raw + sizes[1]
            prepare(data, incremental=unpacked if position else None, log_path=staging / "prepare.log")
            if position:
                shutil.rmtree(unpacked)
        if owner is not None:
            chown_tree(data, owner)
        if datadir.exists():
            datadir.rmdir()  # checked empty above
        data.rename(datadir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    notes = [] if owner else [f"files are owned by uid {os.geteuid()}: give --owner (e.g. mysql:mysql) or chown -R "
                              "the directory if mariadbd runs as another user"]
    return DatadirRestoreResult(backup_id=chain[-1].id, datadir=str(datadir), chain=[m.id for m in chain],
                                stored_bytes=stored, raw_bytes=raw, seconds=round(time.monotonic() - clock, 2),
                                notes=notes)


def unpack(storage: Storage, manifest: Manifest, *, into: Path, identities: Sequence[Any] = (),
           progress: Progress | None = None) -> tuple[int, int]:
    """Stream one backup into ``mbstream -x -C into``; (stored bytes, mbstream bytes). Raises if the SHA1,
    a size or the stream's structure does not match the manifest (``into`` is then half-written: callers
    unpack into a staging directory)."""
    into.mkdir(mode=0o700)
    err_path = into.parent / f"mbstream-{manifest.id}.err"
    with open_dump(storage, manifest, identities=identities) as reader, open(err_path, "wb") as err:
        process = subprocess.Popen([MBSTREAM_BIN, "-x", "-C", str(into)], stdin=subprocess.PIPE, stderr=err)
        assert process.stdin is not None
        try:
            with contextlib.suppress(BrokenPipeError):  # mbstream stopped early: its exit code says why
                while chunk := reader.read(CHUNK):
                    process.stdin.write(chunk)
                    if progress is not None:
                        progress(len(chunk))
                process.stdin.close()
            code = process.wait()
        finally:
            stop_process(process, grace_seconds=5)
        report = reader.finish()
    if report.problems:
        raise ArtifactDamagedError(f"backup {manifest.id} does not match its records: " + "; ".join(report.problems))
    if code != 0:
        raise PrepareFailedError(f"mbstream -x of backup {manifest.id} failed (exit {code}): {_tail(err_path)}")
    return report.stored_bytes, report.raw_bytes


def prepare(data: Path, *, incremental: Path | None, log_path: Path) -> None:
    """``--prepare``: apply the copied redo log (and an incremental's page deltas) so InnoDB starts clean."""
    argv = [BACKUP_BIN, "--prepare", f"--target-dir={data}",
            *([f"--incremental-dir={incremental}"] if incremental is not None else [])]
    with open(log_path, "ab") as output:
        done = subprocess.run(argv, stdout=output, stderr=output, check=False)
    if done.returncode != 0:
        raise PrepareFailedError(f"mariadb-backup --prepare failed (exit {done.returncode}): {_tail(log_path)}")


def chown_tree(root: Path, owner: str) -> None:
    user, _, group = owner.partition(":")
    for path in (root, *root.rglob("*")):
        shutil.chown(path, user=user, group=group or None)


def _tail(path: Path) -> str:
    with contextlib.suppress(OSError):
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-3:])[:500]
    return "no output"
