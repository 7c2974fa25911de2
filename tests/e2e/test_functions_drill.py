"""A cloud function deployed a second time with ``DISPATCH_KIND=drill`` creates the restore-drill Job:
the Lambda handler, called the way Lambda calls it, against the Kubernetes API emulator."""

from __future__ import annotations

import pytest

from shared.errors import BadInputError
from tests.e2e.test_functions_aws import LambdaContext, event, lambda_env, load_handler  # noqa: F401  # fixture
from tests.integration.test_drill_dispatch_kmock import DRILL_ENV, EXPECTED_DRILL_JOB
from tests.support.kube import KubeApi


def test_scheduled_drill_function_creates_the_drill_job(lambda_env: KubeApi,  # noqa: F811  # the fixture
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DISPATCH_KIND", "drill")
    for name, value in DRILL_ENV.items():
        monkeypatch.setenv(name, value)

    response = load_handler().handler(event("scheduler_scheduled_run.json"), LambdaContext())

    name = "mariadb-ha-drill-mariadb-ha-202501310200"
    assert response == {"jobs": [{"name": name, "namespace": "cell-a", "status": "created"}]}
    [created] = lambda_env.created_jobs()
    assert created["spec"] == EXPECTED_DRILL_JOB["spec"]
    assert created["metadata"]["labels"]["app.kubernetes.io/component"] == "drill"


def test_drill_function_without_the_server_image_fails_before_touching_the_cluster(
        lambda_env: KubeApi, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811  # the fixture
    monkeypatch.setenv("DISPATCH_KIND", "drill")
    monkeypatch.delenv("DRILL_SERVER_IMAGE", raising=False)

    with pytest.raises(BadInputError, match="DRILL_SERVER_IMAGE is not set"):
        load_handler().handler(event("scheduler_scheduled_run.json"), LambdaContext())
    assert lambda_env.created_jobs() == []
