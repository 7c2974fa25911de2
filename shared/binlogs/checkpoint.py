"""How far the binlog archive is known complete: one small object the follower rewrites while caught up.

Without it the restorable window ends at the last archived *transaction*: on a database idle since
22:00, ``restore --until 22:30`` was refused although the archiver, polling the server every few
seconds, knew nothing had been committed since. So while ``archive-binlogs --follow`` has uploaded
everything it received and the followed server's ``@@gtid_binlog_pos`` equals the archived GTID state,
it writes ``<prefix>/binlogs/checkpoint.json`` (at most once per upload interval): that state and the
server's own UTC time of that check. Every transaction committed by then is in the archive, so any
second up to that time can be restored (the window, ``status``, ``list`` and ``restore --until`` read
it through ``agent.pitr.windows``). It counts only while its state is still the archive's newest state:
once newer transactions are archived, the window ends at them until the next checkpoint.

One object, overwritten in place (a few hundred bytes every upload interval); losing it only shortens
the window to the last transaction. Caveat: a binlog event carries the time its statement *started*,
so a transaction begun before a checkpoint and committed after it is stamped earlier than the
checkpoint; a restore to such a second that runs before that transaction is archived replays without
it (it is archived within the upload interval).
"""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass
from datetime import datetime

from shared.binlogs.layout import binlogs_root
from shared.storage import ObjectNotFoundError, Storage, StorageError
from shared.times import format_time, parse_time

CHECKPOINT_NAME = "checkpoint.json"


@dataclass(frozen=True)
class Checkpoint:
    gtid_state: str  # the archived state, equal to the server's @@gtid_binlog_pos at ``complete_at``
    complete_at: str  # ISO 8601 UTC: the server's clock when it showed that state
    node: str

    @property
    def time(self) -> datetime:
        return parse_time(self.complete_at, what="checkpoint complete_at")


def checkpoint_key(prefix: str) -> str:
    return binlogs_root(prefix) + CHECKPOINT_NAME


def write_checkpoint(storage: Storage, prefix: str, *, gtid_state: str, complete_at: datetime, node: str) -> None:
    body = Checkpoint(gtid_state=gtid_state, complete_at=format_time(complete_at), node=node)
    storage.put(checkpoint_key(prefix), io.BytesIO(json.dumps(asdict(body)).encode()))


def read_checkpoint(storage: Storage, prefix: str) -> Checkpoint | None:
    """The checkpoint, or None when there is none or it cannot be read (the window then ends at the last
    archived transaction: never later than what is known)."""
    try:
        with storage.open_read(checkpoint_key(prefix)) as stream:
            return Checkpoint(**json.loads(stream.read()))
    except (ObjectNotFoundError, ValueError, TypeError):
        return None
    except StorageError:
        return None
