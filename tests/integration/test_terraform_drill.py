"""The kubernetes Terraform module's restore-drill CronJob, read as HCL: opt-in, and the pod that
infra/kubernetes/drill-cronjob.yaml (rendered from shared/k8s/drill_spec.py) describes."""

from __future__ import annotations

from typing import Any

import yaml

from tests.integration.test_terraform_modules import ROOT, TERRAFORM, empty_dirs, one, parsed, resolved


def rendered_pod() -> dict[str, Any]:
    cronjob = next(yaml.safe_load_all((ROOT / "infra" / "kubernetes" / "drill-cronjob.yaml").read_text()))
    return cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]


def variables() -> dict[str, Any]:
    return {name: v for entry in parsed(TERRAFORM / "modules" / "kubernetes")["variable"] for name, v in entry.items()}


def test_drill_is_opt_in_and_weekly() -> None:
    body = one("kubernetes", "kubernetes_cron_job_v1", "drill")
    assert body["count"] == "${var.drill_enabled ? 1 : 0}"
    assert variables()["drill_enabled"]["default"] is False
    spec = body["spec"][0]
    assert (spec["schedule"], spec["concurrency_policy"]) == ("${var.drill_schedule}", "Forbid")
    assert variables()["drill_schedule"]["default"] == "0 6 * * 0"


def test_drill_pod_is_the_rendered_drill_pod() -> None:
    body = one("kubernetes", "kubernetes_cron_job_v1", "drill")
    job = body["spec"][0]["job_template"][0]["spec"][0]
    pod = job["template"][0]["spec"][0]
    expected = rendered_pod()
    assert job["backoff_limit"] == 0
    assert pod["automount_service_account_token"] is expected["automountServiceAccountToken"] is False
    server, agent = pod["init_container"][0], pod["container"][0]
    [want_server], [want_agent] = expected["initContainers"], expected["containers"]
    assert (server["name"], server["restart_policy"], server["args"]) == (
        want_server["name"], want_server["restartPolicy"], want_server["args"])
    assert [(e["name"], e["value"]) for e in server["env"]] == [(e["name"], e["value"]) for e in want_server["env"]]
    assert server["resources"][0]["requests"]["memory"] == want_server["resources"]["requests"]["memory"]
    assert server["resources"][0]["limits"]["memory"] == want_server["resources"]["limits"]["memory"]
    context = server["security_context"][0]
    assert (context["run_as_user"], context["read_only_root_filesystem"]) == (
        want_server["securityContext"]["runAsUser"], True)
    assert {m["name"]: m["mount_path"] for m in server["volume_mount"]} == {
        m["name"]: m["mountPath"] for m in want_server["volumeMounts"]}
    assert agent["args"] == want_agent["args"] == ["drill"]
    assert resolved("kubernetes", agent["resources"][0]) == want_agent["resources"]
    datadir = variables()["drill_datadir_size_limit"]["default"]
    sizes = empty_dirs("kubernetes", pod)
    assert sizes.pop("datadir") == "${var.drill_datadir_size_limit}"
    assert {**sizes, "datadir": datadir} == {v["name"]: v["emptyDir"]["sizeLimit"] for v in expected["volumes"]}


def test_drill_never_gets_the_root_secret() -> None:
    locals_ = {k: v for entry in parsed(TERRAFORM / "modules" / "kubernetes")["locals"] for k, v in entry.items()}
    env = str(locals_["drill_env"])
    assert "MARIADB_HA_SECRET_NAME" not in env and "DRILL_SERVER" in env
    want = [e["name"] for e in rendered_pod()["containers"][0]["env"]]
    assert "MARIADB_HA_SECRET_NAME" not in want
    assert "PASSWORD|SECRET" in str(variables()["drill_env"]["validation"])
