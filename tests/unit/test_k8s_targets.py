"""Targets from DISPATCH_TARGETS or the single-target variables, validated before any API call."""

from __future__ import annotations

import json

import pytest

from shared.errors import BadInputError
from shared.k8s.targets import Target, targets_from_env

ONE = {"CELL_DEFAULT_NAMESPACE": "db", "MARIADB_HA_SERVICE_NAME": "mariadb", "MARIADB_HA_SECRET_NAME": "mariadb-root"}


def test_single_target_from_the_agent_variables() -> None:
    assert targets_from_env(ONE) == [Target(namespace="db", service="mariadb", secret="mariadb-root")]


def test_dispatch_targets_wins_over_single_target() -> None:
    fleet = [{"namespace": "a", "service": "mariadb", "secret": "root"},
             {"namespace": "b", "service": "galera", "secret": "galera.root"}]
    assert targets_from_env({**ONE, "DISPATCH_TARGETS": json.dumps(fleet)}) == [
        Target("a", "mariadb", "root"), Target("b", "galera", "galera.root")]


@pytest.mark.parametrize(("raw", "message"), [
    ("[{", "DISPATCH_TARGETS is not valid JSON"),
    ("{}", "DISPATCH_TARGETS must be a non-empty JSON list"),
    ("[]", "DISPATCH_TARGETS must be a non-empty JSON list"),
    ('["db"]', "DISPATCH_TARGETS[0] must be an object"),
    ('[{"namespace": "db", "service": "m"}]', "DISPATCH_TARGETS[0] needs string field(s) secret"),
    ('[{"namespace": "db", "service": "m", "secret": "s", "port": 3306}]', "unknown field(s) 'port'"),
    ('[{"namespace": "DB", "service": "m", "secret": "s"}]', "DISPATCH_TARGETS[0].namespace 'DB' is not a DNS label"),
    ('[{"namespace": "db", "service": "1m", "secret": "s"}]', "service '1m' is not a DNS-1035 label"),
    ('[{"namespace": "db", "service": "m", "secret": "../x"}]', "secret '../x' is not a DNS subdomain name"),
    ('[{"namespace": "db", "service": "m", "secret": "s"}, {"namespace": "db", "service": "m", "secret": "t"}]',
     "lists db/m more than once"),
])
def test_invalid_dispatch_targets(raw: str, message: str) -> None:
    with pytest.raises(BadInputError) as caught:
        targets_from_env({"DISPATCH_TARGETS": raw})
    assert message in str(caught.value)


def test_missing_single_target_variables_are_named() -> None:
    with pytest.raises(BadInputError) as caught:
        targets_from_env({"CELL_DEFAULT_NAMESPACE": "db"})
    assert str(caught.value) == ("no backup target: set DISPATCH_TARGETS, or MARIADB_HA_SERVICE_NAME, "
                                 "MARIADB_HA_SECRET_NAME")
