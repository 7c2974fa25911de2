"""The identities a read-side command needs for one backup, loaded before any of its data is downloaded.

An unencrypted backup needs none. For an encrypted one ``restore``, ``verify --restore-test`` and
binlog replay need an identity (exit 2 naming BACKUP_DECRYPT_IDENTITY_FILE / _SECRET when there is
none); plain ``verify`` can do without one, checking only the SHA1 and sizes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shared.encryption import DecryptionSettings, load_identities
from shared.encryption.keys import AGE_LAYER
from shared.manifest import Manifest


def identities_for(manifest: Manifest, settings: DecryptionSettings, *, required: bool = True) -> list[Any]:
    """The identities for ``manifest``'s artifact; empty when it is not encrypted, or when not ``required``
    and none is configured."""
    if AGE_LAYER not in manifest.artifact.layers or (not required and not settings.configured):
        return []
    return load_identities(settings, what=f"backup {manifest.id}", read_secret=_secret_reader(settings))


def _secret_reader(settings: DecryptionSettings) -> Callable[..., str] | None:
    if settings.identity_secret is None:
        return None
    from shared.k8s.secret import read_root_password  # the kubernetes client is heavy: only when a Secret is read

    return read_root_password


def configured_identities(settings: DecryptionSettings, *, what: str) -> list[Any]:
    """The configured identities, or none: for a point-in-time restore, which does not know before planning
    whether its base backup and segments are encrypted (each refuses on its own, exit 2, if one is and none
    is given)."""
    if not settings.configured:
        return []
    return load_identities(settings, what=what, read_secret=_secret_reader(settings))
