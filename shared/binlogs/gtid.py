"""MariaDB GTIDs (``domain-server-seq``) and GTID states (one last GTID per replication domain).

A state is written the way MariaDB writes ``gtid_binlog_pos`` / ``gtid_slave_pos`` (``0-1-42,1-2-7``,
sorted by domain), so a stored value can be handed to the server as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_GTID = re.compile(r"^(\d+)-(\d+)-(\d+)$")


class GtidError(ValueError):
    """A GTID or GTID state string is malformed."""


@dataclass(frozen=True, order=True)
class Gtid:
    domain_id: int
    server_id: int
    seq_no: int

    def __str__(self) -> str:
        return f"{self.domain_id}-{self.server_id}-{self.seq_no}"

    @classmethod
    def parse(cls, text: str) -> Gtid:
        match = _GTID.match(text.strip())
        if not match:
            raise GtidError(f"not a GTID (domain-server-seq): {text[:60]!r}")
        return cls(*(int(part) for part in match.groups()))


GtidState = Mapping[int, Gtid]
"""The last GTID seen per domain id."""


def parse_state(text: str) -> dict[int, Gtid]:
    """``"0-1-42,1-2-7"`` → {0: Gtid(0,1,42), 1: Gtid(1,2,7)}; an empty string is the empty state."""
    state: dict[int, Gtid] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        gtid = Gtid.parse(part)
        if gtid.domain_id in state:
            raise GtidError(f"GTID state names domain {gtid.domain_id} twice: {text[:120]!r}")
        state[gtid.domain_id] = gtid
    return state


def format_state(state: GtidState) -> str:
    return ",".join(str(state[domain]) for domain in sorted(state))


def advance(state: GtidState, gtids: Iterable[Gtid]) -> dict[int, Gtid]:
    """The state after the given GTIDs were applied in order."""
    after = dict(state)
    for gtid in gtids:
        after[gtid.domain_id] = gtid
    return after


def contains(state: GtidState, gtid: Gtid) -> bool:
    """Whether ``gtid`` is at or before the state's position in its domain (already applied)."""
    last = state.get(gtid.domain_id)
    return last is not None and gtid.seq_no <= last.seq_no


def covered_by(state: GtidState, later: GtidState) -> bool:
    """Whether every domain's last GTID in ``state`` is also applied in ``later`` (``state`` ≤ ``later``)."""
    return all(contains(later, gtid) for gtid in state.values())
