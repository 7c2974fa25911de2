"""``manifest.json``: written last, so a backup exists only when its manifest does.

It records what a restore needs to check itself against: the artifact's key, size and SHA1, where
the data came from (server, Galera state, GTID position), how it was dumped (flags, never the
password), and a schema inventory (databases, tables, views, routines, triggers, events). ``method``
says which path reads it back: ``logical`` (a SQL dump, loaded by a client) or ``physical`` (a
mariadb-backup copy, prepared into a data directory; ``physical`` holds its LSNs and chain links).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from shared.errors import BackupFailedError

# 2: the artifact, .sha1 and accounts keys are names relative to the manifest's folder (1 stored them
# with the bucket prefix, so a copied backup read its original's objects). Both are read.
SCHEMA_VERSION = 2
_NESTED = ("artifact", "source", "inventory", "encryption", "retention", "binlog", "accounts", "evidence", "physical")
LOGICAL, PHYSICAL = "logical", "physical"  # a manifest's "method": mariadb-dump SQL or mariadb-backup's copy
FULL, INCREMENTAL = "full", "incremental"  # a physical backup's "kind"


class ManifestError(BackupFailedError):
    """A manifest is unreadable or lacks required fields."""


@dataclass(frozen=True)
class Artifact:
    key: str
    name: str
    sha1: str
    compressed_bytes: int
    raw_bytes: int
    compression: str  # "gzip" or "zstd"
    tar_member: str | None = None  # only for tar.gz
    layers: list[str] = field(default_factory=list)  # shared.formats.LAYERS applied after compression ("age")


@dataclass(frozen=True)
class Source:
    host: str
    port: int
    server_version: str
    namespace: str | None
    service: str | None
    server_hostname: str | None = None  # @@hostname: the node that served the dump
    gtid_binlog_pos: str | None = None
    galera: dict[str, str] | None = None  # wsrep_* status when the server is a Galera node
    max_allowed_packet: int | None = None  # the largest row the dump can hold; a restore target needs as much


@dataclass(frozen=True)
class BinlogPosition:
    """Where the dump's consistent snapshot stands in the binary log (``--master-data=2 --gtid``)."""

    gtid_state: str  # every transaction up to this GTID state (per domain) is in the dump
    file: str  # the serving node's own binlog file and offset: for an operator, not portable
    position: int
    node: str  # @@hostname answering the backup's preflight (the node the Service chose)
    server_id: int | None = None


@dataclass(frozen=True)
class Inventory:
    databases: list[str] = field(default_factory=list)
    tables: list[str] = field(default_factory=list)
    views: list[str] = field(default_factory=list)
    routines: list[str] = field(default_factory=list)
    triggers: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    sequences: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AccountsFile:
    """``accounts.sql`` beside the artifact: users, roles and grants as SQL (see agent.common.accounts)."""

    key: str
    sha1: str  # of the stored bytes (age-encrypted when ``encrypted``)
    accounts: list[str]
    encrypted: bool = False  # age-encrypted to the artifact's recipients (``accounts.sql.age``)


@dataclass(frozen=True)
class Evidence:
    """What the restore drill compares a restored server with, counted in the dump stream itself (so it
    is of the dump's own snapshot): rows per table (every row version for system-versioned tables)."""

    rows: dict[str, int] = field(default_factory=dict)
    history_dumped: bool = False  # --dump-history was used: versioned tables' rows include history


@dataclass(frozen=True)
class Encryption:
    """How the artifact is encrypted: public keys only (a recipient cannot decrypt anything)."""

    scheme: str  # "age"
    recipients: list[str]


@dataclass(frozen=True)
class ObjectLockHold:
    """Object lock on every object of the backup (BACKUP_LOCK_DAYS); the manifest field keeps the name
    ``retention``. Not keep-last/max-age: that is ``shared.config.KeepPolicy``."""

    until: str  # ISO 8601, UTC
    mode: str  # GOVERNANCE | COMPLIANCE


@dataclass(frozen=True)
class PhysicalCopy:
    """What mariadb-backup recorded about a physical backup (method ``physical``), read from its own files:
    the LSNs from ``xtrabackup_checkpoints``, the Galera state from ``xtrabackup_galera_info``.

    A chain is a full backup and the incrementals applied on it in order: each incremental's ``from_lsn``
    is its parent's ``to_lsn`` (the copy starts where the parent's checkpoint stood), and ``parent``
    names that backup, so a chain is walked from any member to its ``base`` without a listing."""

    kind: str  # FULL | INCREMENTAL
    from_lsn: int  # 0 for a full
    to_lsn: int  # the checkpoint LSN when the copy started: the next incremental starts here
    last_lsn: int  # the redo log was copied up to here: the backup's consistent point
    base: str  # id of the chain's full backup (its own id for a full)
    parent: str | None = None  # id of the backup this incremental applies on; None for a full
    tool_version: str = ""  # mariadb-backup's version: a restore prepares with the same major version
    galera_info: str | None = None  # "uuid:seqno [wsrep gtid domain]" at the copy's consistent point (Galera only)


@dataclass(frozen=True)
class Manifest:
    id: str
    started_at: str
    finished_at: str
    format: str
    artifact: Artifact
    sha1_key: str
    source: Source
    dump_command: list[str]
    tool_version: str
    inventory: Inventory
    schema_version: int = SCHEMA_VERSION
    encryption: Encryption | None = None  # None: the artifact is stored unencrypted
    retention: ObjectLockHold | None = None  # None: no object lock
    binlog: BinlogPosition | None = None  # None when the server wrote no binlog (no point-in-time restore)
    accounts: AccountsFile | None = None
    evidence: Evidence | None = None
    warnings: list[str] = field(default_factory=list)  # what the backup knows will not come back as it was
    method: str = LOGICAL  # LOGICAL (mariadb-dump; dump_command) | PHYSICAL (mariadb-backup; physical)
    physical: PhysicalCopy | None = None  # set for method PHYSICAL

    def to_json(self) -> bytes:
        """The stored form: every key is a name in the backup's own folder (SCHEMA_VERSION 2)."""
        relative = self.in_folder("")
        return (json.dumps(asdict(relative), indent=2, ensure_ascii=False) + "\n").encode()

    def in_folder(self, folder: str) -> Manifest:
        """The manifest with its keys in ``folder`` (``<prefix>/<id>/``): a backup's objects all live beside
        its manifest, so a folder copied to another prefix or bucket reads its own objects, never the
        original's. Works on absolute (SCHEMA_VERSION 1) and relative keys alike."""

        def placed(key: str) -> str:
            return folder + key.rsplit("/", 1)[-1]

        accounts = replace(self.accounts, key=placed(self.accounts.key)) if self.accounts else None
        return replace(self, artifact=replace(self.artifact, key=placed(self.artifact.key)),
                       sha1_key=placed(self.sha1_key), accounts=accounts)

    @classmethod
    def from_json(cls, data: bytes, *, key: str | None = None) -> Manifest:
        """Parse a stored manifest; with ``key`` (where it was read), its keys are placed in that folder."""
        manifest = cls._parsed(data)
        return manifest.in_folder(key.rsplit("/", 1)[0] + "/" if "/" in key else "") if key is not None else manifest

    @classmethod
    def _parsed(cls, data: bytes) -> Manifest:
        try:
            raw: dict[str, Any] = json.loads(data)
            return cls(
                **{k: v for k, v in raw.items() if k not in _NESTED},
                artifact=Artifact(**raw["artifact"]),
                binlog=BinlogPosition(**raw["binlog"]) if raw.get("binlog") else None,
                source=Source(**raw["source"]),
                inventory=Inventory(**raw["inventory"]),
                encryption=Encryption(**raw["encryption"]) if raw.get("encryption") else None,
                retention=ObjectLockHold(**raw["retention"]) if raw.get("retention") else None,
                accounts=AccountsFile(**raw["accounts"]) if raw.get("accounts") else None,
                evidence=Evidence(**raw["evidence"]) if raw.get("evidence") else None,
                physical=PhysicalCopy(**raw["physical"]) if raw.get("physical") else None,
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestError(f"manifest is not valid: {type(exc).__name__}: {exc}") from None
