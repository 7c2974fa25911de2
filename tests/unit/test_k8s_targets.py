"""Targets from DISPATCH_TARGETS or the single-target variables, validated before any API call."""

from __future__ import annotations

import json

import pytest

from shared.errors import BadInputError
from shared.k8s.targets import Target, targets_from_env, with_default_secret_key

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
    ('[{"namespace": "db", "service": "m", "secret": "s", "secret_key": "a/b"}]',
     "DISPATCH_TARGETS[0].secret_key 'a/b' is not a Secret key"),
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


def test_secret_key_per_target_else_the_dispatchers_default() -> None:
    # One fleet, two shapes: a mariadb-operator cluster (root-password) and a Bitnami chart.
    fleet = [{"namespace": "a", "service": "galera", "secret": "galera"},
             {"namespace": "b", "service": "mariadb-galera", "secret": "mariadb-galera",
              "secret_key": "mariadb-root-password"}]
    targets = targets_from_env({"DISPATCH_TARGETS": json.dumps(fleet)})
    assert [t.password_key for t in with_default_secret_key(targets, {})] == ["root-password", "mariadb-root-password"]
    assert [t.password_key for t in with_default_secret_key(targets, {"MARIADB_HA_SECRET_KEY": "pw"})] == [
        "pw", "mariadb-root-password"]
    with pytest.raises(BadInputError, match="MARIADB_HA_SECRET_KEY 'a b' is not a Secret key"):
        with_default_secret_key(targets, {"MARIADB_HA_SECRET_KEY": "a b"})


def test_a_cluster_can_opt_out_of_the_parallel_dump_in_its_jobs_environment() -> None:
    from shared.k8s.job_settings import job_settings_from_env
    from shared.k8s.job_spec import build_job

    raw = [{"namespace": "a", "service": "galera", "secret": "s", "dump_threads": 1},
           {"namespace": "b", "service": "db", "secret": "s"}]
    galera, plain = targets_from_env({"DISPATCH_TARGETS": json.dumps(raw)})
    assert galera.dump_threads == 1 and plain.dump_threads is None
    settings = job_settings_from_env({"AGENT_IMAGE": "img:1", "BACKUP_URL": "s3://b", "BACKUP_DUMP_THREADS": "4"})

    def threads(target: Target) -> str:
        from datetime import UTC, datetime

        job = build_job(target=target, settings=settings, scheduled_time=datetime(2026, 1, 1, tzinfo=UTC))
        env = job["spec"]["template"]["spec"]["containers"][0]["env"]
        return next(e["value"] for e in env if e["name"] == "BACKUP_DUMP_THREADS")

    assert (threads(galera), threads(plain)) == ("1", "4")
    with pytest.raises(BadInputError, match=r"dump_threads must be a whole number from 1 to 64"):
        targets_from_env({"DISPATCH_TARGETS": json.dumps([{**raw[1], "dump_threads": "2"}])})
