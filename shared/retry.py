"""Retry policy (a value) and the one way to call something with it (tenacity underneath).

Exponential backoff with full jitter, bounded both by attempts and by total time, so an unattended
Job never spins forever and a failover (a Galera node dropping out, a Service re-routing) gets a few
seconds to settle. Only the exception types passed in are retried: configuration, credential and
not-found errors are raised at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

_T = TypeVar("_T")

# First retry after up to 1 s, doubling, capped at 30 s between attempts: long enough for a Galera
# node to be evicted (~4-6 s with the default evs timeouts) without wasting a whole schedule slot.
_BACKOFF_MULTIPLIER_S = 1.0
_BACKOFF_MAX_S = 30.0


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try: at most ``attempts`` calls, no new backoff sleep past ``max_seconds``."""

    attempts: int
    max_seconds: float


def call_with_retries(
    fn: Callable[[], _T],
    *,
    policy: RetryPolicy,
    retry_on: tuple[type[BaseException], ...],
    what: str,
    logger: logging.Logger,
) -> _T:
    """``fn()``, called again on ``retry_on`` errors per ``policy``; the last error is re-raised as is.

    Each retry is logged as a warning naming ``what``, the attempt ("attempt 1 of 5") and the error.
    """

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning("%s failed (attempt %d of %d), retrying: %s", what, state.attempt_number, policy.attempts,
                       exc, extra={"event": "retry", "attempt": state.attempt_number, "what": what})

    retrying = Retrying(
        retry=retry_if_exception_type(retry_on),
        # stop_before_delay, not stop_after_delay: never start a backoff sleep that would end past the
        # budget, so a run gives up within max_seconds (plus the last attempt's own duration) instead
        # of overshooting by up to _BACKOFF_MAX_S.
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.max_seconds),
        wait=wait_random_exponential(multiplier=_BACKOFF_MULTIPLIER_S, max=_BACKOFF_MAX_S),
        before_sleep=log_retry,
        reraise=True,
    )
    return retrying(fn)
