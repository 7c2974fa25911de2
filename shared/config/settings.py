"""``Settings``: the sections a backup run needs, composed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from shared.config.destination import Destination, load_destination
from shared.config.options import ConfigValues
from shared.config.sections import KeepPolicy, load_format, load_keep_policy, load_retry, load_tmp_dir
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


def load_backup_settings(values: Mapping[str, str]) -> Settings:
    return Settings(destination=load_destination(values), source=load_source(values), format=load_format(values),
                    retry=load_retry(values), keep=load_keep_policy(values), tmp_dir=load_tmp_dir(values))


def load_settings(env: Mapping[str, str], overrides: Mapping[str, str | None] | None = None) -> Settings:
    """Backup settings from an environment mapping overridden by values keyed by env name (tests, tools)."""
    return load_backup_settings(ConfigValues.merge(env, overrides))
