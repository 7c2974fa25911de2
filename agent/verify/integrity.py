"""``verify``: is a stored backup intact? One streaming pass over the artifact, no temp disk.

Three records of the artifact must agree with the bytes in the bucket: the ``.sha1`` sidecar (what
``sha1sum -c`` checks on a downloaded copy), the manifest (SHA1, stored size, dump size, tar member),
and the archive's own structure (every gzip/zstd member decompresses, the tar stream has exactly the
expected member and ends properly). The ``accounts.sql`` beside it must match the manifest's SHA1.
A mismatch names which record disagrees with what.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.verify.unpacking import ReadReport, check_artifact, check_stored_bytes
from shared.errors import VerifyFailedError
from shared.manifest import Manifest
from shared.storage import ObjectNotFoundError, Storage

_SIDECAR = re.compile(r"^([0-9a-f]{40}) [ *](.+)\n?$")


@dataclass(frozen=True)
class VerifyReport:
    """One verification: what was checked and every difference found (``ok`` when there is none)."""

    backup_id: str
    artifact_key: str
    sha1: str
    stored_bytes: int
    raw_bytes: int
    problems: tuple[str, ...]
    content_checked: bool = True  # False: encrypted and no identity given, only SHA1 and size were checked

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_backup(storage: Storage, manifest: Manifest, *, identities: Sequence[Any] = ()) -> VerifyReport:
    """Check one complete backup; never raises for a damaged backup (see ``raise_if_failed``).

    An encrypted backup without ``identities`` gets the checks that need no key: SHA1 (against the
    sidecar and the manifest) and stored size; the report says the content was not checked."""
    sidecar_sha1, problems = _read_sidecar(storage, manifest)
    content_checked = not manifest.artifact.layers or bool(identities)
    if content_checked:
        read = check_artifact(storage, manifest, identities=identities)
    else:
        read = check_stored_bytes(storage, manifest)
    problems += read.problems
    problems += sha1_problems(read, manifest=manifest, sidecar_sha1=sidecar_sha1)
    problems += _accounts_problems(storage, manifest)
    return VerifyReport(backup_id=manifest.id, artifact_key=manifest.artifact.key, sha1=read.sha1,
                        stored_bytes=read.stored_bytes, raw_bytes=read.raw_bytes, problems=tuple(problems),
                        content_checked=content_checked)


def sha1_problems(read: ReadReport, *, manifest: Manifest, sidecar_sha1: str | None) -> list[str]:
    found = []
    if read.sha1 != manifest.artifact.sha1:
        found.append(f"SHA1 of {manifest.artifact.name} is {read.sha1}, the manifest says {manifest.artifact.sha1}")
    if sidecar_sha1 is not None and read.sha1 != sidecar_sha1:
        found.append(f"SHA1 of {manifest.artifact.name} is {read.sha1}, the .sha1 sidecar says {sidecar_sha1}")
    return found


def _read_sidecar(storage: Storage, manifest: Manifest) -> tuple[str | None, list[str]]:
    """The SHA1 the sidecar records, and any problem with the sidecar itself."""
    try:
        with storage.open_read(manifest.sha1_key) as stream:
            # A sidecar is one short line; reading a bounded amount keeps a bogus huge object harmless.
            text = stream.read(4096).decode("utf-8", errors="replace")
    except ObjectNotFoundError:
        return None, [f"the .sha1 sidecar {manifest.sha1_key} is missing"]
    match = _SIDECAR.match(text)
    if match is None:
        return None, [f"the .sha1 sidecar {manifest.sha1_key} is not in sha1sum format"]
    digest, name = match.groups()
    problems = [] if name == manifest.artifact.name else [
        f"the .sha1 sidecar names {name!r}, not {manifest.artifact.name!r} (sha1sum -c would fail)"]
    return digest, problems


def _accounts_problems(storage: Storage, manifest: Manifest) -> list[str]:
    """``accounts.sql`` (see agent.common.accounts) must be there and match the manifest's SHA1."""
    if manifest.accounts is None:
        return []
    try:
        with storage.open_read(manifest.accounts.key) as stream:
            data = stream.read()
    except ObjectNotFoundError:
        return [f"the accounts file {manifest.accounts.key} is missing"]
    digest = hashlib.sha1(data, usedforsecurity=False).hexdigest()
    if digest != manifest.accounts.sha1:
        return [f"SHA1 of {manifest.accounts.key} is {digest}, the manifest says {manifest.accounts.sha1}"]
    return []


def raise_if_failed(report: VerifyReport) -> None:
    if report.problems:
        raise VerifyFailedError(f"backup {report.backup_id} failed verification: " + "; ".join(report.problems))
