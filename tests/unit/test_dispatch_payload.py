"""The test-invocation payload shared by the three functions, parsed strictly."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.errors import BadInputError
from shared.k8s.invocation import DispatchRequest, parse_request
from shared.k8s.targets import Target


def test_empty_payload_is_a_scheduled_run() -> None:
    assert parse_request(None) == parse_request({}) == DispatchRequest()


def test_full_payload() -> None:
    request = parse_request({"dry_run": True, "scheduled_time": "2025-01-31T03:00:00+01:00",
                             "targets": [{"namespace": "db", "service": "mariadb", "secret": "root"}]})
    assert request == DispatchRequest(dry_run=True, scheduled_time=datetime(2025, 1, 31, 2, tzinfo=UTC),
                                      targets=[Target("db", "mariadb", "root")])


def test_scheduled_time_without_offset_is_utc_like_every_time() -> None:
    assert parse_request({"scheduled_time": "2025-01-31 02:00"}).scheduled_time == datetime(2025, 1, 31, 2, tzinfo=UTC)


@pytest.mark.parametrize(("payload", "message"), [
    ({"dryrun": True}, "unknown payload field(s) 'dryrun'; allowed: dry_run, scheduled_time, targets"),
    ({"dry_run": "yes"}, "payload dry_run must be true or false"),
    ({"scheduled_time": 1738288800}, "payload scheduled_time must be an RFC 3339 string"),
    ({"scheduled_time": "tomorrow"}, "payload scheduled_time 'tomorrow' is not a time"),
    ({"targets": []}, "payload targets must be a non-empty JSON list"),
    ([1, 2], "the invocation payload must be a JSON object"),
])
def test_bad_payloads(payload: object, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        parse_request(payload)
    assert message in str(caught.value)
