"""A byte counter with throughput on a terminal (tqdm); nothing at all when stderr is not a TTY
(JSON logs there already carry the totals)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def byte_progress(label: str) -> Iterator[Callable[[int], None]]:
    if not sys.stderr.isatty():
        yield lambda n: None
        return
    from tqdm import tqdm  # only on a terminal: importing it costs ~15 ms at every agent start

    with tqdm(desc=label, unit="B", unit_scale=True, unit_divisor=1024, file=sys.stderr, leave=False) as bar:
        yield bar.update
