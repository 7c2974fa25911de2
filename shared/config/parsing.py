"""Typed readers for one setting each: bounds checked, one-line errors naming the variable."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import TypeVar

from shared.errors import BadInputError

_Number = TypeVar("_Number", int, float)
_DURATION = re.compile(r"^\s*(\d{1,9})\s*([smhd])\s*$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ConfigError(BadInputError):
    """A setting is missing or malformed; the message names the setting, never a secret value."""


def optional_name(values: Mapping[str, str], name: str, pattern: re.Pattern[str], what: str) -> str | None:
    value = values.get(name)
    if value is not None and not pattern.match(value):
        raise ConfigError(f"{name} {safe(value)!r} is not {what}")
    return value


def whole_number(values: Mapping[str, str], name: str, *, low: int, high: int) -> int | None:
    """An integer setting within [low, high]; None when unset."""
    value = _converted(values, name, int, "a whole number")
    if value is not None and not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}, not {value}")
    return value


def positive_number(values: Mapping[str, str], name: str) -> float | None:
    """A number above 0 (and below 1e9, a typo guard); None when unset."""
    value = _converted(values, name, float, "a number")
    if value is not None and not 0 < value < 1e9:
        raise ConfigError(f"{name} must be a positive number, not {safe(values[name])}")
    return value


def _converted(values: Mapping[str, str], name: str, kind: Callable[[str], _Number], what: str) -> _Number | None:
    if name not in values:
        return None
    try:
        return kind(values[name])
    except ValueError:
        raise ConfigError(f"{name} must be {what}, not {safe(values[name])!r}") from None


def safe(value: str, limit: int = 80) -> str:
    """Echo user input safely: one line, bounded length (a stray secret in a URL must not flood logs)."""
    flat = value.replace("\n", "\\n").replace("\r", "\\r")
    return flat if len(flat) <= limit else flat[:limit] + "..."


def parse_duration(text: str, *, name: str) -> timedelta:
    """``90s``, ``30m``, ``26h``, ``7d`` → a timedelta; anything else is bad input naming ``name``."""
    match = _DURATION.match(text)
    if not match or int(match.group(1)) == 0:
        raise ConfigError(f"{name} must be a positive duration like 90s, 30m, 26h or 7d, not {text[:40]!r}")
    return timedelta(seconds=int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
