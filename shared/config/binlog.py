"""The binlog section: what ``archive-binlogs`` adds to the backup's destination, source and retry.

Rows ``BINLOG_*`` of ``OPTIONS`` (section "binlog"). The nodes to follow default to the source's
host and port (a Service that balances over healthy nodes is enough); ``BINLOG_SOURCES`` lists the
nodes themselves so the archiver can prefer a Synced one and fail over in a known order;
``BINLOG_SOURCES_SERVICE`` names a Service whose pods are those nodes (the agent reads them through the
Kubernetes API when it starts, ``agent.pitr.sources``), so no list is written by hand.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Mapping
from dataclasses import dataclass

from shared.config.parsing import ConfigError
from shared.config.source import DNS1035_LABEL

DEFAULT_UPLOAD_SECONDS = 10.0
# A rollup (shared.binlogs.rollups) closes at the end of each UTC hour of archiving, or earlier at this many
# records: a busy server cuts a segment every ~5 s, ~720 an hour, so an hour is one object of ~400 kB; the
# cap keeps a catch-up run (a backlog archived within one hour) from making one huge object.
DEFAULT_ROLLUP_RECORDS = 1000
# A replication server id is an unsigned 32-bit number; 0 means "not a replica" to the server.
_SERVER_ID_MAX = 2**32 - 1
# Derived ids have the top bit set: far above the small ids operators give real nodes (1, 2, 3...).
_DERIVED_BASE = 1 << 31


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int

    def __str__(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class ArchiveSettings:
    upload_seconds: float  # everything committed is in the bucket within this many seconds (--follow)
    server_id: int  # our replication server id; two clients with one id kill each other's dump thread
    sources: tuple[Endpoint, ...]  # the nodes we may follow, in order of preference
    sources_service: str | None = None  # else: the pods behind this Service are the sources
    rollup_records: int = DEFAULT_ROLLUP_RECORDS  # at most this many records per rollup (shared.binlogs.rollups)
    compact: bool = False  # join each rolled-up hour's segments of one binlog file (shared.binlogs.compaction)


def load_archive_settings(raw: Mapping[str, str], *, host: str, port: int, prefix: str) -> ArchiveSettings:
    """``host``/``port`` (the Service) are the only source unless BINLOG_SOURCES names the nodes."""
    service = raw.get("BINLOG_SOURCES_SERVICE", "").strip() or None
    if service and raw.get("BINLOG_SOURCES", "").strip():
        raise ConfigError("BINLOG_SOURCES and BINLOG_SOURCES_SERVICE are both set: give the nodes one way")
    if service and not DNS1035_LABEL.match(service):
        raise ConfigError(f"BINLOG_SOURCES_SERVICE {service[:60]!r} is not a Service name")
    return ArchiveSettings(
        upload_seconds=_upload_seconds(raw.get("BINLOG_UPLOAD_SECONDS")),
        server_id=_server_id(raw.get("BINLOG_SERVER_ID"), prefix=prefix),
        sources=_sources(raw.get("BINLOG_SOURCES"), default=Endpoint(host, port)),
        sources_service=service,
        rollup_records=_rollup_records(raw.get("BINLOG_ROLLUP_RECORDS")),
        compact=_on_off(raw.get("BINLOG_COMPACT")),
    )


def _on_off(value: str | None) -> bool:
    if value is None or value.strip().lower() in ("", "off", "0", "false", "no"):
        return False
    if value.strip().lower() in ("on", "1", "true", "yes"):
        return True
    raise ConfigError(f"BINLOG_COMPACT must be on or off, not {value[:40]!r}")


def _rollup_records(value: str | None) -> int:
    if value is None:
        return DEFAULT_ROLLUP_RECORDS
    if not value.strip().isdigit() or not 1 <= int(value) <= 100_000:
        raise ConfigError(f"BINLOG_ROLLUP_RECORDS must be a whole number from 1 to 100000, not {value[:40]!r}")
    return int(value)


def _upload_seconds(value: str | None) -> float:
    if value is None:
        return DEFAULT_UPLOAD_SECONDS
    try:
        seconds = float(value)
    except ValueError:
        raise ConfigError(f"BINLOG_UPLOAD_SECONDS must be a number of seconds, not {value[:40]!r}") from None
    if not 1 <= seconds <= 3600:
        raise ConfigError(f"BINLOG_UPLOAD_SECONDS must be between 1 and 3600, not {value[:40]}")
    return seconds


def derived_server_id(prefix: str) -> int:
    """A stable part (the target's prefix, so archivers of different clusters differ and stay
    recognisable in SHOW SLAVE HOSTS) plus a random part per process (so a second archiver of the same
    target, say a pod still terminating, never shares an id with the new one)."""
    stable = zlib.crc32(prefix.encode()) & 0x7FFF
    return _DERIVED_BASE | stable << 16 | random.SystemRandom().randrange(1, 1 << 16)


def _server_id(value: str | None, *, prefix: str) -> int:
    if value is None:
        return derived_server_id(prefix)
    if not value.isdigit() or not 1 <= int(value) <= _SERVER_ID_MAX:
        raise ConfigError(f"BINLOG_SERVER_ID must be a whole number from 1 to {_SERVER_ID_MAX}, not {value[:40]!r}")
    return int(value)


def _sources(value: str | None, *, default: Endpoint) -> tuple[Endpoint, ...]:
    if value is None or not value.strip():
        return (default,)
    return tuple(_endpoint(part.strip(), default_port=default.port) for part in value.split(",") if part.strip())


def _endpoint(text: str, *, default_port: int) -> Endpoint:
    host, sep, port = text.partition(":")
    valid_port = not sep or (port.isdigit() and 1 <= int(port) <= 65535)
    if not host or not valid_port or any(c.isspace() for c in host):
        raise ConfigError(f"BINLOG_SOURCES: {text[:60]!r} is not host or host:port")
    return Endpoint(host, int(port) if sep else default_port)
