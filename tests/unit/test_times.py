"""The one time parser: the forms every option, payload, header and record accepts, all in UTC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import EXIT_BAD_INPUT
from shared.times import TimeFormatError, format_time, parse_time

T0 = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("20240501T120000Z", T0),
    ("2024-05-01T12:00:00Z", T0),
    ("2024-05-01 12:00", T0),  # no offset: UTC, like the backup ids
    ("2024-05-01T14:00:00+02:00", T0),
    (" 2024-05-01T12:00:00+00:00 ", T0),
    ("2024-05-01", T0 - timedelta(hours=12)),
    ("2024-05-01T12:00:00.52Z", T0 + timedelta(microseconds=520000)),  # Cloud Scheduler's header
])
def test_accepts_ids_iso_times_and_dates(text: str, expected: datetime) -> None:
    moment = parse_time(text, what="--until")
    assert moment == expected and moment.tzinfo is UTC


@pytest.mark.parametrize("text", ["yesterday", "2024-13-01", "20240501T250000Z", "", "1714564800"])
def test_rejects_what_is_not_a_time_naming_where_it_came_from(text: str) -> None:
    with pytest.raises(TimeFormatError) as caught:
        parse_time(text, what="--at")
    assert str(caught.value).startswith(f"--at {text!r} is not a time: use 2024-05-01T12:00:00Z")
    assert caught.value.exit_code == EXIT_BAD_INPUT


def test_written_times_read_back() -> None:
    assert format_time(T0 + timedelta(microseconds=1)) == "2024-05-01T12:00:00Z"
    assert parse_time(format_time(T0), what="record") == T0
