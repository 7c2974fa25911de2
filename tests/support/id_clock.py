"""``skipping_id_clock``: back-to-back backups without waiting for the next backup-id second.

A backup id is its start second, and a run whose second is taken waits for the next one
(agent/backup/id_claims.py). Tests that take several backups of one bucket within a second would
sleep through those waits. With this fixture the in-process CLI (tests/support/cli.py: local
destinations) reads its id from a clock that moves on a second instead of waiting for it: the claim
still finds the second taken and still retries, as the real clock makes it; only the wall-clock wait
is gone. The ids are then up to a few seconds ahead of the real clock, in the order the runs were
made. Runs in a separate process (cloud destinations, ``start_cli``) keep the real clock, as does
everything but the id (manifests' other times, drill records, binlog events).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from agent.backup import id_claims


class SkippingIdClock(id_claims.IdClock):
    """The real clock (or one stopped ``at`` a moment), plus every second moved on instead of waited for."""

    def __init__(self, *, at: datetime | None = None) -> None:
        self.at = at
        self.skipped = 0

    def now(self) -> datetime:
        return (self.at or datetime.now(UTC)) + timedelta(seconds=self.skipped)

    def wait_for_next_second(self) -> None:
        self.skipped += 1


@pytest.fixture
def skipping_id_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[SkippingIdClock]:
    clock = SkippingIdClock()
    monkeypatch.setattr(id_claims, "CLOCK", clock)
    yield clock
