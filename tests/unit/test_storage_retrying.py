"""Retries wrap any backend from outside: transient failures are ridden out, nothing else is retried.

A dict-backed ``Storage`` whose calls fail on demand stands in for a flaky bucket (the same layer runs
against moto through a fault-injecting proxy in the integration contract suite). Backoff sleeps are
skipped so the tests take milliseconds.
"""

from __future__ import annotations

import io
import logging
import types
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import BinaryIO

import pytest

from shared.retry import RetryPolicy
from shared.storage import (
    ObjectInfo,
    ObjectNotFoundError,
    StorageConfigError,
    TransientStorageError,
)
from shared.storage.replayable import ReopeningReader
from shared.storage.retrying import RetryingStorage


class FlakyStorage:
    """In-memory bucket; the next ``failures`` calls of any kind raise ``error`` first."""

    url = "mem://bucket"

    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.failures: list[Exception] = []

    def _maybe_fail(self) -> None:
        if self.failures:
            raise self.failures.pop(0)

    def put(self, key: str, stream: BinaryIO) -> int:
        data = stream.read()  # consumed even when the call then fails, like a real upload
        self._maybe_fail()
        self.objects[key] = data
        return len(data)

    def open_read(self, key: str) -> BinaryIO:
        self._maybe_fail()
        if key not in self.objects:
            raise ObjectNotFoundError(key)
        return io.BytesIO(self.objects[key])

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        for key in sorted(self.objects):
            if key.startswith(prefix):
                yield ObjectInfo(key=key, size=len(self.objects[key]), modified=datetime.now(UTC))
            self._maybe_fail()  # fails half-way through the listing

    def delete(self, key: str) -> None:
        self._maybe_fail()
        self.objects.pop(key, None)


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    import tenacity.nap

    monkeypatch.setattr(tenacity.nap, "time", types.SimpleNamespace(sleep=lambda _seconds: None))


@pytest.fixture
def flaky() -> FlakyStorage:
    storage = FlakyStorage()
    storage.objects = {"p/a": b"aaa", "p/b": b"bb", "q/c": b"c"}
    return storage


def storage_warnings(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "mariadb_ha_backup.storage" and r.levelno == logging.WARNING]


def test_transient_failures_are_ridden_out_and_logged(flaky: FlakyStorage, caplog: pytest.LogCaptureFixture) -> None:
    storage = RetryingStorage(flaky, policy=RetryPolicy(attempts=3, max_seconds=60))

    flaky.failures = [TransientStorageError("HTTP 503 SlowDown")] * 2
    with storage.open_read("p/a") as stream:
        assert stream.read() == b"aaa"
    flaky.failures = [TransientStorageError("connection reset")]
    assert [info.key for info in storage.list("p/")] == ["p/a", "p/b"]  # no duplicate from the retry
    flaky.failures = [TransientStorageError("timeout")]
    storage.delete("p/b")

    assert sorted(flaky.objects) == ["p/a", "q/c"]
    assert len(storage_warnings(caplog)) == 4
    assert "SlowDown" in storage_warnings(caplog)[0].getMessage()


def test_gives_up_after_the_attempts_with_the_last_error(flaky: FlakyStorage) -> None:
    storage = RetryingStorage(flaky, policy=RetryPolicy(attempts=3, max_seconds=60))
    flaky.failures = [TransientStorageError(f"failure {n}") for n in range(1, 5)]

    with pytest.raises(TransientStorageError, match="failure 3"):
        storage.open_read("p/a")


@pytest.mark.parametrize("error", [StorageConfigError("no such bucket"), ObjectNotFoundError("gone")])
def test_config_and_missing_errors_are_never_retried(
    flaky: FlakyStorage, caplog: pytest.LogCaptureFixture, error: Exception
) -> None:
    storage = RetryingStorage(flaky, policy=RetryPolicy(attempts=5, max_seconds=60))
    flaky.failures = [error, TransientStorageError("would have succeeded after this")]

    with pytest.raises(type(error)):
        storage.delete("p/a")
    assert storage_warnings(caplog) == []
    assert "p/a" in flaky.objects


def test_put_is_not_retried_because_its_stream_is_one_shot(flaky: FlakyStorage) -> None:
    storage = RetryingStorage(flaky, policy=RetryPolicy(attempts=5, max_seconds=60))
    flaky.failures = [TransientStorageError("reset")]

    with pytest.raises(TransientStorageError):
        storage.put("new", io.BytesIO(b"payload"))
    assert "new" not in flaky.objects


def test_a_rewindable_upload_is_retried_from_a_fresh_stream(
    flaky: FlakyStorage, caplog: pytest.LogCaptureFixture
) -> None:
    streams: list[io.BytesIO] = []

    def make_stream() -> io.BytesIO:
        streams.append(io.BytesIO(b"the whole artifact"))
        return streams[-1]

    flaky.failures = [TransientStorageError("reset"), TransientStorageError("503")]
    with ReopeningReader(make_stream) as upload:
        stored = RetryingStorage(flaky, policy=RetryPolicy(attempts=3, max_seconds=60)).put("art", upload)  # type: ignore[arg-type]

    assert len(streams) == 3
    assert stored == len(b"the whole artifact")
    assert flaky.objects["art"] == b"the whole artifact"
    assert all(stream.closed for stream in streams)
    assert len(storage_warnings(caplog)) == 2


def test_a_rewindable_upload_does_not_retry_a_failing_source(flaky: FlakyStorage) -> None:
    opened: list[io.BytesIO] = []

    def source_that_vanishes() -> io.BytesIO:
        if opened:
            raise OSError("spool file vanished")
        opened.append(io.BytesIO(b"first attempt"))
        return opened[-1]

    flaky.failures = [TransientStorageError("reset")]
    upload = ReopeningReader(source_that_vanishes)
    with pytest.raises(OSError, match="spool file vanished"):
        RetryingStorage(flaky, policy=RetryPolicy(attempts=5, max_seconds=60)).put("art", upload)  # type: ignore[arg-type]
    upload.close()
    assert "art" not in flaky.objects
