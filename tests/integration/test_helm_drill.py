"""The chart's restore-drill CronJob (drill.enabled) with a real helm: exactly the Job the dispatcher's
``dispatch --drill`` creates for the same settings (shared/k8s/drill_spec.py), lint-clean, valid for
Kubernetes 1.30, clean for checkov, and absent unless enabled."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.k8s.drill_spec import build_drill_cronjob, drill_cronjob_name, drill_settings_from_env
from shared.k8s.job_settings import job_settings_from_env
from shared.k8s.targets import Target
from tests.integration.test_helm_chart import (
    CHART,
    CHECKOV,
    HELM,
    NAMESPACE,
    SCHEDULING,
    VALUES_FILES,
    dispatcher_env,
    helm,
    merged_values,
    values_args,
)

DRILL_VALUES = {"serverImage": "DRILL_SERVER_IMAGE", "serverRunAsUser": "DRILL_SERVER_RUN_AS_USER",
                "datadirSizeLimit": "DRILL_DATADIR_SIZE_LIMIT", "recoveryTargetSeconds": "DRILL_RECOVERY_TARGET_SECONDS",
                "identitySecret": "BACKUP_DECRYPT_IDENTITY_SECRET", "pointInTime": "DRILL_POINT"}
SERVER_RESOURCES = {("requests", "cpu"): "DRILL_SERVER_CPU_REQUEST", ("requests", "memory"): "DRILL_SERVER_MEMORY_REQUEST",
                    ("limits", "memory"): "DRILL_SERVER_MEMORY_LIMIT"}


def render(values_file: str | None, *sets: str) -> list[dict[str, Any]]:
    done = helm("template", "r", ".", "--namespace", NAMESPACE, *values_args(values_file), "--set", "drill.enabled=true",
                *[arg for s in sets for arg in ("--set", s)])
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def drill_cronjob(docs: list[dict[str, Any]]) -> dict[str, Any]:
    [found] = [d for d in docs if d["kind"] == "CronJob" and d["metadata"]["labels"]["app.kubernetes.io/component"]
               == "drill"]
    return found


def drill_env(values: dict[str, Any]) -> dict[str, str]:
    drill = values["drill"]
    env = {name: str(drill[key]) for key, name in DRILL_VALUES.items() if drill.get(key) not in (None, "", False)}
    env.update({name: str(drill["serverResources"][a][b]) for (a, b), name in SERVER_RESOURCES.items()})
    return {**dispatcher_env(values), **env}


@pytest.mark.parametrize(("values_file", "sets"), [
    (None, ()),
    ("gcp-pitr-values.yaml", ("drill.recoveryTargetSeconds=1800", "drill.serverImage=mariadb:11.4@sha256:" + "a" * 64,
                              "drill.pointInTime=true")),
    ("azure-values.yaml", ("drill.identitySecret=backup-age-identity", "drill.datadirSizeLimit=50Gi")),
    ("s3-url-values.yaml", ("drill.serverRunAsUser=1001", "drill.serverResources.limits.memory=4Gi")),
])
def test_drill_cronjob_runs_the_dispatchers_drill_job(values_file, sets) -> None:
    values = merged_values(values_file)
    for assignment in sets:
        path, _, value = assignment.partition("=")
        *parents, leaf = path.split(".")
        holder = values
        for key in parents:
            holder = holder[key]
        holder[leaf] = int(value) if value.isdigit() else value == "true" if value in ("true", "false") else value
    cronjob = drill_cronjob(render(values_file, *sets))
    target = Target(namespace=NAMESPACE, service=values["mariadb"]["service"], secret=values["mariadb"]["existingSecret"])
    env = drill_env(values)
    built = build_drill_cronjob(target=target, settings=job_settings_from_env(env), drill=drill_settings_from_env(env),
                                schedule=values["drill"]["schedule"])
    rendered = cronjob["spec"]["jobTemplate"]["spec"]
    pod = rendered["template"]["spec"]
    assert {key: pod.pop(key) for key in SCHEDULING if key in pod} == {key: values[key] for key in SCHEDULING
                                                                        if values[key]}
    assert rendered == built["spec"]["jobTemplate"]["spec"]
    assert cronjob["metadata"]["name"] == drill_cronjob_name(target) == built["metadata"]["name"]
    assert cronjob["spec"]["jobTemplate"]["metadata"]["labels"] == built["spec"]["jobTemplate"]["metadata"]["labels"]
    assert cronjob["spec"]["schedule"] == "0 6 * * 0"
    text = json.dumps(cronjob)
    assert values["mariadb"]["existingSecret"] not in text.replace(values["mariadb"]["service"], "")


def test_a_changed_drill_value_shows_up_as_a_difference() -> None:
    values = merged_values(None)
    env = drill_env(values)
    target = Target(namespace=NAMESPACE, service="mariadb-ha", secret="mariadb-ha")
    built = build_drill_cronjob(target=target, settings=job_settings_from_env(env), drill=drill_settings_from_env(env),
                                schedule="0 6 * * 0")
    rendered = drill_cronjob(render(None, "drill.datadirSizeLimit=30Gi"))
    assert rendered["spec"]["jobTemplate"]["spec"] != built["spec"]["jobTemplate"]["spec"]


def test_no_drill_unless_enabled() -> None:
    done = helm("template", "r", ".", "--namespace", NAMESPACE)
    assert "component: drill" not in done.stdout and done.returncode == 0


@pytest.mark.parametrize("service", ["a" * 35, "galera-cluster-for-the-payments-team-eu-west", "x" * 63])
def test_long_service_names_give_the_codes_cronjob_name(service) -> None:
    cronjob = drill_cronjob(render(None, f"mariadb.service={service}"))
    assert cronjob["metadata"]["name"] == drill_cronjob_name(Target(namespace=NAMESPACE, service=service, secret="s"))
    assert len(cronjob["metadata"]["name"]) <= 52


@pytest.mark.parametrize(("setting", "complaint"), [
    ("drill.schedule=weekly", "drill.schedule"),
    ("drill.datadirSizeLimit=20GB", "drill.datadirSizeLimit"),
    ("drill.serverImage=not an image", "drill.serverImage"),
    ("drill.recoveryTargetSeconds=0", "drill.recoveryTargetSeconds"),
])
def test_values_schema_rejects_bad_drill_values(setting, complaint) -> None:
    done = helm("template", "r", ".", "--namespace", NAMESPACE, "--set", "drill.enabled=true", "--set", setting)
    assert done.returncode == 1
    assert complaint in done.stderr


def test_lint_validate_and_checkov_with_the_drill(tmp_path) -> None:
    for values_file in VALUES_FILES:
        done = helm("lint", "--strict", ".", *values_args(values_file), "--set", "drill.enabled=true")
        assert done.returncode == 0, done.stdout + done.stderr
    docs = [d for d in render("azure-values.yaml", "drill.identitySecret=backup-age-identity")
            if d["kind"] != "PrometheusRule"]
    rendered = tmp_path / "render" / "drill.yaml"
    rendered.parent.mkdir()
    rendered.write_text(yaml.safe_dump_all(docs))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(validator), "--strict", "-k", "1.30.0", str(rendered)], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    env = {"PATH": f"{Path(HELM).parent}:/usr/bin:/bin", "HOME": str(tmp_path)}
    done = subprocess.run([str(CHECKOV), "--directory", str(rendered.parent), "--framework", "kubernetes",
                           "--skip-download", "--output", "json"], capture_output=True, text=True, timeout=300,
                          check=False, env=env)
    report = json.loads(done.stdout)
    summary = report["summary"]
    assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["results"].get("failed_checks")
    drill_checks = [c for c in report["results"]["passed_checks"] if "drill" in c["resource"]]
    assert len(drill_checks) > 30
    skipped = report["results"]["skipped_checks"]
    assert all(len(c["check_result"].get("suppress_comment") or "") >= 20 for c in skipped)


def test_the_role_adds_the_identity_secret_only_for_drills_that_need_it() -> None:
    def secrets(docs: list[dict[str, Any]]) -> list[str]:
        [role] = [d for d in docs if d["kind"] == "Role"]
        return role["rules"][0]["resourceNames"]

    assert secrets(render(None)) == ["mariadb-ha"]
    assert secrets(render(None, "drill.identitySecret=backup-age-identity")) == ["mariadb-ha", "backup-age-identity"]


def test_notes_say_how_to_start_a_drill_now(tmp_path) -> None:
    """helm renders NOTES.txt only on install; render it through tpl in a copy of the chart."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    shutil.copy(CHART / "templates" / "NOTES.txt", chart / "NOTES.txt")
    (chart / "templates" / "notes-preview.yaml").write_text('notes: |\n{{ tpl (.Files.Get "NOTES.txt") . | indent 2 }}\n')

    def notes(*sets: str) -> str:
        done = helm("template", "r", ".", "-n", NAMESPACE, *[a for s in sets for a in ("--set", s)], "--show-only",
                    "templates/notes-preview.yaml", chart=chart)
        assert done.returncode == 0, done.stderr
        return str(yaml.safe_load(done.stdout)["notes"])

    with_drill = notes("drill.enabled=true")
    assert "kubectl -n mariadb create job --from=cronjob/mariadb-ha-drill-mariadb-ha mariadb-ha-drill-mariadb-ha-manual-" \
        in with_drill
    assert "app.kubernetes.io/component=drill -c agent" in with_drill
    assert "mariadb-ha-backup status --max-drill-age 8d" in with_drill
    assert "drill" not in notes().lower()
