"""Telling operators how runs went: Prometheus metrics (``metrics``) and webhook notifications (``notify``).

Both are best effort by design: a monitoring outage must never turn a good backup into a failed one,
so every public function here logs a warning instead of raising.
"""
