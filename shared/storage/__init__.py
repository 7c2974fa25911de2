"""Storage backends by URL scheme, imported lazily so a missing cloud SDK only matters when used."""

from __future__ import annotations

import importlib
from urllib.parse import parse_qs, urlsplit

from shared.storage.base import (
    LOCK_MODES,
    FolderListing,
    LockingStorage,
    ObjectChangedError,
    ObjectExistsError,
    ObjectInfo,
    ObjectLockUnsupportedError,
    ObjectNotFoundError,
    Storage,
    StorageConfigError,
    StorageError,
    TransientStorageError,
)

__all__ = [
    "LOCK_MODES",
    "FolderListing",
    "LockingStorage",
    "ObjectChangedError",
    "ObjectExistsError",
    "ObjectInfo",
    "ObjectLockUnsupportedError",
    "ObjectNotFoundError",
    "Storage",
    "StorageConfigError",
    "StorageError",
    "TransientStorageError",
    "open_storage",
]

# scheme -> (module, pip extra that provides its SDK)
_BACKENDS = {
    "file": ("shared.storage.local", None),
    "s3": ("shared.storage.s3", "aws"),
    "gs": ("shared.storage.gcs", "gcp"),
    "azblob": ("shared.storage.azure", "azure"),
}


def open_storage(url: str) -> Storage:
    """The backend for a bucket-level URL such as ``s3://bucket?region=eu-west-1`` or ``file:///srv/b``.

    Each backend module exposes ``from_url(bucket_or_path, params) -> Storage``.
    """
    parts = urlsplit(url)
    if parts.scheme not in _BACKENDS:
        raise StorageConfigError(f"unsupported storage URL scheme {parts.scheme!r}")
    module_name, extra = _BACKENDS[parts.scheme]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        hint = f": pip install 'mariadb-ha-backup[{extra}]'" if extra else ""
        raise StorageConfigError(f"{parts.scheme}:// storage needs {exc.name}{hint}") from None
    params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    location = parts.path if parts.scheme == "file" else parts.netloc
    storage: Storage = module.from_url(location, params)
    return storage
