"""``verify`` of a physical backup: the chain it needs is unbroken, and every backup of it is intact.

A physical incremental restores only on top of its parent, and so on down to a full backup; a SHA1
check of the last link alone would pass on a chain whose middle link is gone. This walks the chain
(agent.common.chains) and runs the one-pass artifact check (agent.verify.integrity) on every link.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from agent.common.chains import BrokenChainError, chain_of
from agent.verify.integrity import VerifyReport, verify_backup
from shared.manifest import Manifest
from shared.storage import Storage


@dataclass(frozen=True)
class ChainReport:
    backup_id: str
    chain: tuple[Manifest, ...]  # full first; empty when the chain is broken
    reports: tuple[VerifyReport, ...]  # one per link, in chain order
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict[str, Any]:
        """The last link's report (what ``verify`` prints for any backup), the problems of every link, and
        each link's report under ``chain``."""
        last = asdict(self.reports[-1]) if self.reports else {"backup_id": self.backup_id}
        return {**last, "problems": list(self.problems), "ok": self.ok, "chain": [asdict(r) for r in self.reports]}


def verify_chain(storage: Storage, manifest: Manifest, *, backups: Mapping[str, Manifest],
                 identities: Mapping[str, Sequence[Any]]) -> ChainReport:
    """Never raises for a damaged or broken chain: the report says what is wrong (``raise_if_failed``)."""
    try:
        chain = tuple(chain_of(manifest, backups))
    except BrokenChainError as exc:
        return ChainReport(backup_id=manifest.id, chain=(), reports=(), problems=(str(exc),))
    reports = tuple(verify_backup(storage, m, identities=identities.get(m.id, ())) for m in chain)
    problems = tuple(f"{r.backup_id}: {p}" for r in reports for p in r.problems)
    return ChainReport(backup_id=manifest.id, chain=chain, reports=reports, problems=problems)
