"""Retry policies (tenacity) shared by the dump, the Kubernetes calls and storage.

Exponential backoff with full jitter, bounded both by attempts and by total time, so an unattended
Job never spins forever and a failover (a Galera node dropping out, a Service re-routing) gets a few
seconds to settle. Only the exception types passed in are retried: configuration, credential and
not-found errors are raised at once.
"""

from __future__ import annotations

import logging

from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

# First retry after up to 1 s, doubling, capped at 30 s between attempts: long enough for a Galera
# node to be evicted (~4-6 s with the default evs timeouts) without wasting a whole schedule slot.
_BACKOFF_MULTIPLIER_S = 1.0
_BACKOFF_MAX_S = 30.0


def retrying(
    *, retry_on: tuple[type[BaseException], ...], attempts: int, max_seconds: float, what: str, logger: logging.Logger
) -> Retrying:
    """A tenacity ``Retrying`` that logs each retry as a warning naming ``what`` and the error."""

    def log_retry(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        logger.warning(
            "%s failed (attempt %d of %d), retrying: %s",
            what,
            state.attempt_number,
            attempts,
            exc,
            extra={"event": "retry", "attempt": state.attempt_number, "what": what},
        )

    return Retrying(
        retry=retry_if_exception_type(retry_on),
        # stop_before_delay, not stop_after_delay: never start a backoff sleep that would end past the
        # budget, so a run gives up within max_seconds (plus the last attempt's own duration) instead
        # of overshooting by up to _BACKOFF_MAX_S.
        stop=stop_after_attempt(attempts) | stop_before_delay(max_seconds),
        wait=wait_random_exponential(multiplier=_BACKOFF_MULTIPLIER_S, max=_BACKOFF_MAX_S),
        before_sleep=log_retry,
        reraise=True,
    )
