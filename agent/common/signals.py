"""Turn SIGTERM/SIGINT into an exception in the main thread, so every ``finally`` and ``__exit__``
runs: the dump is stopped, multipart uploads are aborted, the temp dir is removed, no manifest is
written. Kubernetes sends SIGTERM on eviction and waits terminationGracePeriodSeconds before SIGKILL.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from shared.errors import TerminatedError

_HANDLED = (signal.SIGTERM, signal.SIGINT)


@contextmanager
def signals_raise_terminated() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return
    fired = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        # Raise once; a second signal during cleanup must not interrupt the cleanup itself.
        if not fired.is_set():
            fired.set()
            raise TerminatedError(signum)

    with _handled_by(handler):
        yield


@contextmanager
def signals_set(stop: threading.Event) -> Iterator[None]:
    """SIGTERM/SIGINT only set ``stop``: for a long-running loop that finishes its work (uploads what it
    has) and returns normally, instead of unwinding from wherever the signal landed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    with _handled_by(handler):
        yield


@contextmanager
def _handled_by(handler: Callable[[int, FrameType | None], None]) -> Iterator[None]:
    """SIGTERM/SIGINT go to ``handler`` inside the block; the previous handlers come back after it."""
    previous = {s: signal.signal(s, handler) for s in _HANDLED}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
