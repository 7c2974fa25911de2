"""Object layout (a contract): ``<prefix>/<backup-id>/<artifact>``, ``.sha1`` sidecar, manifest last.

The backup id is the UTC start time ``YYYYMMDDTHHMMSSZ``: it sorts chronologically as text, and it is
validated wherever a user supplies one so that ``../`` can never reach outside the prefix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from shared.errors import BadInputError
from shared.formats import artifact_format, layers_named

ID_FORMAT = "%Y%m%dT%H%M%SZ"
_ID_PATTERN = re.compile(r"^\d{8}T\d{6}Z$")
MANIFEST_NAME = "manifest.json"
SHA1_SUFFIX = ".sha1"



class BackupIdError(BadInputError):
    """A user-supplied backup id is not of the form YYYYMMDDTHHMMSSZ."""


def backup_id_at(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(ID_FORMAT)


def parse_backup_id(backup_id: str) -> datetime:
    if not _ID_PATTERN.match(backup_id):
        raise BackupIdError(f"backup id {backup_id[:40]!r} is not of the form YYYYMMDDTHHMMSSZ")
    try:
        return datetime.strptime(backup_id, ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise BackupIdError(f"backup id {backup_id!r} is not a valid UTC time") from None


@dataclass(frozen=True)
class BackupKeys:
    """All keys of one backup."""

    prefix: str
    backup_id: str
    format: str  # a name in shared/formats.py: it names the artifact
    layers: tuple[str, ...] = ()  # names in shared.formats.LAYERS, applied in order: <artifact>.age

    @property
    def folder(self) -> str:
        return f"{self.prefix}/{self.backup_id}/"

    @property
    def artifact_name(self) -> str:
        return artifact_format(self.format).stored_name(layers_named(self.layers))

    @property
    def artifact(self) -> str:
        return self.folder + self.artifact_name

    @property
    def sha1(self) -> str:
        return self.artifact + SHA1_SUFFIX

    @property
    def manifest(self) -> str:
        return self.folder + MANIFEST_NAME


def sha1_sidecar_text(hexdigest: str, artifact_name: str) -> bytes:
    """``sha1sum`` format (two spaces, file name, newline) so ``sha1sum -c`` works on a downloaded copy."""
    return f"{hexdigest}  {artifact_name}\n".encode()
