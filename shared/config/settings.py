"""``Settings``: the sections a backup run needs, composed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from shared.config.destination import Destination, load_destination
from shared.config.options import ConfigValues
from shared.config.physical import MethodSettings, load_method
from shared.config.sections import (
    KeepPolicy,
    load_dump_threads,
    load_format,
    load_keep_policy,
    load_retry,
    load_tmp_dir,
)
from shared.config.source import SourceSettings, load_source
from shared.formats import ArtifactFormat
from shared.retry import RetryPolicy


@dataclass(frozen=True)
class Settings:
    destination: Destination
    source: SourceSettings
    format: ArtifactFormat
    retry: RetryPolicy
    keep: KeepPolicy
    tmp_dir: Path | None
    method: MethodSettings = field(default_factory=MethodSettings)  # default: logical, the seed's design
    dump_threads: int | None = None  # BACKUP_DUMP_THREADS: mariadb-dump sessions sharing one snapshot (None: unset)


def load_backup_settings(values: Mapping[str, str]) -> Settings:
    method = load_method(values)
    return Settings(destination=load_destination(values), source=load_source(values),
                    format=load_format(values, physical=method.physical), retry=load_retry(values),
                    keep=load_keep_policy(values), tmp_dir=load_tmp_dir(values), method=method,
                    dump_threads=load_dump_threads(values))


def load_settings(env: Mapping[str, str], overrides: Mapping[str, str | None] | None = None) -> Settings:
    """Backup settings from an environment mapping overridden by values keyed by env name (tests, tools)."""
    return load_backup_settings(ConfigValues.merge(env, overrides))
