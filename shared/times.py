"""Times as people and records write them: one parser, one set of forms, every result in UTC.

Every time the project reads goes through ``parse_time``: ``restore --at``/``--until``, ``verify --until``,
``dispatch --scheduled-time``, the cloud functions' payloads and schedule headers, and the binlog archive's
own index and gap records. The accepted forms:

- a backup id: ``20240501T120000Z``
- ISO 8601 / RFC 3339: ``2024-05-01T12:00:00Z``, ``2024-05-01 12:00+02:00``, ``2019-10-12T07:20:50.52Z``
- a date: ``2024-05-01`` (its first second)

A time without an offset is UTC, like the backup ids: the operator reads ids and ``list`` output in UTC,
so a bare ``12:00`` meaning the machine's local time would point at the wrong backup.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from shared.errors import BadInputError
from shared.layout import ID_FORMAT

_ID_SHAPE = re.compile(r"^\d{8}T\d{6}Z$")
ACCEPTED_FORMS = "2024-05-01T12:00:00Z, 2024-05-01 or a backup id"


class TimeFormatError(BadInputError):
    """A time (option, payload field, header or record) that is none of the accepted forms."""


def parse_time(text: str, *, what: str) -> datetime:
    """``what`` names where the text came from (``--until``, ``payload scheduled_time``) for the error."""
    value = text.strip()
    try:
        moment = datetime.strptime(value, ID_FORMAT) if _ID_SHAPE.match(value) else datetime.fromisoformat(value)
    except ValueError:
        raise TimeFormatError(f"{what} {text[:40]!r} is not a time: use {ACCEPTED_FORMS}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def format_time(moment: datetime) -> str:
    """The one way times are written in records and JSON output: ISO 8601, whole seconds, ``Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
