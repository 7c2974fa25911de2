"""Run configuration, loaded in sections from one option table; bad input raises ``ConfigError`` (exit 2).

``OPTIONS`` (options.py) lists every setting once: environment name, CLI flag, help, section, the commands
that read it. A command
merges the environment and its flags once into ``ConfigValues`` and loads only the sections it needs,
each a frozen dataclass with one loader: ``load_destination``, ``load_source``, ``load_retry``
(a ``RetryPolicy``), ``load_keep_policy``, ``load_tmp_dir``, ``load_format``, ``load_method`` (logical or
physical, and the physical knobs); ``load_backup_settings``
composes them into ``Settings`` for ``backup``. Nothing else reads ``os.environ`` for these settings
(the SDKs still read their own standard variables, e.g. AWS_ENDPOINT_URL).

How to add a setting:
  1. add an ``Option(env, flag, help, section, commands, to_job)`` row to ``OPTIONS`` (flag None:
     environment only; ``commands``: the commands whose loaders read it);
  2. read it in that section's loader with the helpers in parsing.py (or write a new small
     ``load_<section>(values: Mapping[str, str])`` returning a frozen dataclass, exported here);
  3. call the loader from the commands that need it: ``load_<section>(config)`` where ``config`` is the
     command's ``ConfigValues``. The flag (shown by those commands only), the Job pass-through (``to_job``)
     and ``--help`` follow by themselves;
  4. run ``scripts/config-reference`` to regenerate docs/CONFIGURATION.md (a unit test fails until you do).
"""

from shared.config.binlog import ArchiveSettings, Endpoint, load_archive_settings
from shared.config.destination import PROVIDERS, Destination, load_destination, parse_backup_url, validate_prefix
from shared.config.options import DEFAULT_LOCAL_DIR, OPTIONS, RESTORE_YES_ENV, ConfigValues, Option
from shared.config.parsing import ConfigError
from shared.config.physical import MethodSettings, load_method
from shared.config.sections import (
    FORMATS,
    KeepPolicy,
    load_format,
    load_keep_policy,
    load_restore_confirmed,
    load_retry,
    load_tmp_dir,
)
from shared.config.settings import Settings, load_backup_settings, load_settings
from shared.config.source import (
    DEFAULT_SECRET_KEY,
    DNS1035_LABEL,
    DNS1123_LABEL,
    DNS1123_SUBDOMAIN,
    SECRET_KEY,
    SourceSettings,
    load_source,
)
from shared.retry import RetryPolicy

__all__ = [
    "DEFAULT_LOCAL_DIR",
    "DEFAULT_SECRET_KEY",
    "DNS1035_LABEL",
    "DNS1123_LABEL",
    "DNS1123_SUBDOMAIN",
    "FORMATS",
    "OPTIONS",
    "PROVIDERS",
    "RESTORE_YES_ENV",
    "SECRET_KEY",
    "ArchiveSettings",
    "ConfigError",
    "ConfigValues",
    "Destination",
    "Endpoint",
    "KeepPolicy",
    "MethodSettings",
    "Option",
    "RetryPolicy",
    "Settings",
    "SourceSettings",
    "load_archive_settings",
    "load_backup_settings",
    "load_destination",
    "load_format",
    "load_keep_policy",
    "load_method",
    "load_restore_confirmed",
    "load_retry",
    "load_settings",
    "load_source",
    "load_tmp_dir",
    "parse_backup_url",
    "validate_prefix",
]
