"""infra/helm/mariadb-ha-backup with a real helm: lint, render over several values files, the render
valid for Kubernetes 1.30 (kubernetes-validate --strict) and clean for checkov, and the CronJob's Job
equal to the dispatcher's Job (shared/k8s/job_spec.py) built from the same settings."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from shared.k8s.archiver_spec import build_archiver_deployment
from shared.k8s.job_settings import AGENT_ENV_PASSTHROUGH, job_settings_from_env
from shared.k8s.job_spec import build_job, cronjob_name
from shared.k8s.targets import Target

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "infra" / "helm" / "mariadb-ha-backup"
CHECKOV = ROOT / ".venv-checkov" / "bin" / "checkov"
NAMESPACE = "mariadb"
VALUES_FILES = [None, *sorted(p.name for p in (CHART / "ci").glob("*.yaml"))]
SCHEDULING = ("nodeSelector", "tolerations", "affinity")

# Chart value → the dispatcher's environment variable (shared/k8s/job_settings.py) with the same meaning.
VALUE_TO_ENV = {
    ("storage", "provider"): "CLOUD_PROVIDER", ("storage", "url"): "BACKUP_URL",
    ("storage", "prefix"): "BACKUP_PREFIX", ("backup", "format"): "BACKUP_FORMAT",
    ("backup", "method"): "BACKUP_METHOD", ("backup", "fullEvery"): "BACKUP_FULL_EVERY",
    ("backup", "copyThreads"): "BACKUP_COPY_THREADS", ("backup", "dumpThreads"): "BACKUP_DUMP_THREADS",
    ("retention", "keepLast"): "BACKUP_KEEP_LAST", ("retention", "maxAgeDays"): "BACKUP_MAX_AGE_DAYS",
    ("backup", "retrySeconds"): "BACKUP_RETRY_SECONDS", ("backup", "retryAttempts"): "BACKUP_RETRY_ATTEMPTS",
    ("metrics", "pushgateway"): "BACKUP_METRICS_PUSHGATEWAY", ("notifications", "url"): "BACKUP_NOTIFY_URL",
    ("encryption", "recipients"): "BACKUP_ENCRYPT_RECIPIENTS", ("objectLock", "days"): "BACKUP_LOCK_DAYS",
    ("objectLock", "mode"): "BACKUP_LOCK_MODE",
    ("serviceAccount", "name"): "AGENT_SERVICE_ACCOUNT", ("job", "backoffLimit"): "JOB_BACKOFF_LIMIT",
    ("job", "activeDeadlineSeconds"): "JOB_ACTIVE_DEADLINE_SECONDS",
    ("job", "ttlSecondsAfterFinished"): "JOB_TTL_SECONDS_AFTER_FINISHED",
    ("job", "spoolSizeLimit"): "JOB_SPOOL_SIZE_LIMIT", ("job", "tmpSizeLimit"): "JOB_TMP_SIZE_LIMIT",
    ("job", "runAsUser"): "JOB_RUN_AS_USER",
    ("resources", "requests", "cpu"): "JOB_CPU_REQUEST", ("resources", "limits", "cpu"): "JOB_CPU_LIMIT",
    ("resources", "requests", "memory"): "JOB_MEMORY_REQUEST", ("resources", "limits", "memory"): "JOB_MEMORY_LIMIT",
    ("resources", "requests", "ephemeral-storage"): "JOB_EPHEMERAL_STORAGE_REQUEST",
    ("resources", "limits", "ephemeral-storage"): "JOB_EPHEMERAL_STORAGE_LIMIT",
}
PITR_TO_ENV = {"uploadSeconds": "BINLOG_UPLOAD_SECONDS", "sources": "BINLOG_SOURCES", "serverId": "BINLOG_SERVER_ID",
               "sourcesService": "BINLOG_SOURCES_SERVICE"}
PROVIDER_BUCKET = {"aws": {("storage", "s3", "bucket"): "S3_BUCKET", ("storage", "s3", "region"): "AWS_REGION"},
                   "gcp": {("storage", "gcs", "bucket"): "GCS_BUCKET"},
                   "azure": {("storage", "azure", "container"): "AZURE_STORAGE_CONTAINER",
                             ("storage", "azure", "account"): "AZURE_STORAGE_ACCOUNT"}}


def helm_binary() -> str:
    """helm on PATH, else the one scripts/bootstrap puts in the virtualenv running the tests."""
    for candidate in (shutil.which("helm"), Path(sys.executable).parent / "helm", ROOT / ".venv" / "bin" / "helm"):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise AssertionError("helm is missing: scripts/bootstrap installs it into .venv/bin")


HELM = helm_binary()


def helm(*args: str, chart: Path = CHART) -> subprocess.CompletedProcess[str]:
    return subprocess.run([HELM, *args], cwd=chart, capture_output=True, text=True, timeout=120, check=False)


def values_args(values_file: str | None) -> list[str]:
    return ["-f", str(CHART / "ci" / values_file)] if values_file else []


def render(values_file: str | None, *extra: str) -> list[dict[str, Any]]:
    done = helm("template", "r", ".", "--namespace", NAMESPACE, *values_args(values_file), *extra)
    assert done.returncode == 0, done.stderr
    return [doc for doc in yaml.safe_load_all(done.stdout) if doc]


def merged_values(values_file: str | None) -> dict[str, Any]:
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    if values_file:
        _merge(values, yaml.safe_load((CHART / "ci" / values_file).read_text()))
    return values


def _merge(base: dict[str, Any], overlay: dict[str, Any]) -> None:
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value


def dispatcher_env(values: dict[str, Any]) -> dict[str, str]:
    """What the dispatcher would be configured with for the same settings."""
    image = values["image"]
    env = {"AGENT_IMAGE": f"{image['repository']}@{image['digest']}" if image["digest"]
           else f"{image['repository']}:{image['tag']}"}
    for path, name in {**VALUE_TO_ENV, **PROVIDER_BUCKET[values["storage"]["provider"]]}.items():
        value: Any = values
        for key in path:
            value = value[key]
        if value not in (None, ""):
            env[name] = str(value)
    return env


def by_kind(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    kinds = [doc["kind"] for doc in docs]
    assert len(kinds) == len(set(kinds)), kinds
    return {doc["kind"]: doc for doc in docs}


def test_every_variable_the_dispatcher_passes_to_a_job_is_a_chart_value() -> None:
    """A new to_job option in shared/config must get a chart value too, or the two paths drift."""
    mapped = set(VALUE_TO_ENV.values()) | {name for names in PROVIDER_BUCKET.values() for name in names.values()}
    assert set(AGENT_ENV_PASSTHROUGH) <= mapped


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_helm_lint_strict(values_file) -> None:
    done = helm("lint", "--strict", ".", *values_args(values_file))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_cronjob_runs_the_dispatchers_job(values_file) -> None:
    values = merged_values(values_file)
    cronjob = by_kind(render(values_file))["CronJob"]
    spec = cronjob["spec"]
    target = Target(namespace=NAMESPACE, service=values["mariadb"]["service"],
                    secret=values["mariadb"]["existingSecret"])
    job = build_job(target=target, settings=job_settings_from_env(dispatcher_env(values)),
                             scheduled_time=datetime(2026, 1, 1, 4, tzinfo=UTC))
    rendered = spec["jobTemplate"]["spec"]
    pod = rendered["template"]["spec"]
    # Scheduling constraints are the chart's only addition to the pod (the dispatcher's Job has none).
    assert {key: pod.pop(key) for key in SCHEDULING if key in pod} == {
        key: values[key] for key in SCHEDULING if values[key]}
    assert rendered == job["spec"]
    assert spec["jobTemplate"]["metadata"]["labels"] == job["metadata"]["labels"]
    assert (spec["schedule"], spec["timeZone"], spec["suspend"], spec["concurrencyPolicy"]) == (
        values["schedule"], values["timeZone"], values["suspend"], "Forbid")
    assert (spec["successfulJobsHistoryLimit"], spec["failedJobsHistoryLimit"]) == (3, 3)


def test_a_changed_value_shows_up_as_a_difference() -> None:
    """The comparison is not vacuous: a chart value the dispatcher does not know about breaks equality."""
    values = merged_values(None)
    pod = by_kind(render(None, "--set", "job.spoolSizeLimit=30Gi"))["CronJob"]["spec"]["jobTemplate"]["spec"]
    job = build_job(target=Target(namespace=NAMESPACE, service="mariadb-ha", secret="mariadb-ha"),
                             settings=job_settings_from_env(dispatcher_env(values)),
                             scheduled_time=datetime(2026, 1, 1, 4, tzinfo=UTC))
    assert pod != job["spec"]
    limits = pod["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits["ephemeral-storage"] == f"{30 * 1024 + 256 + 1024}Mi"  # spool + tmp + 1Gi, like JobSettings


@pytest.mark.parametrize("service", ["mariadb-ha", "a" * 34, "galera-cluster-for-the-payments-team-eu-west", "x" * 63])
def test_cronjob_name_is_the_one_the_code_gives(service) -> None:
    cronjob = by_kind(render(None, "--set", f"mariadb.service={service}"))["CronJob"]
    target = Target(namespace=NAMESPACE, service=service, secret="s")
    assert cronjob["metadata"]["name"] == cronjob_name(target)
    assert len(cronjob["metadata"]["name"]) <= 52


def test_rbac_reads_one_secret_and_the_service_account_carries_workload_identity() -> None:
    docs = by_kind(render("gcp-pitr-values.yaml"))
    assert docs["Role"]["rules"] == [{"apiGroups": [""], "resources": ["secrets"], "resourceNames": ["galera-root"],
                                      "verbs": ["get"]}]
    assert docs["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": "db-backup",
                                                "namespace": NAMESPACE}]
    annotations = docs["ServiceAccount"]["metadata"]["annotations"]
    assert annotations["iam.gke.io/gcp-service-account"] == "db-backup@acme.iam.gserviceaccount.com"
    assert docs["NetworkPolicy"]["spec"] == {"podSelector": {"matchLabels": {
        "app.kubernetes.io/name": "mariadb-ha-backup", "app.kubernetes.io/instance": "galera"}},
        "policyTypes": ["Ingress"]}  # no ingress rule: the pods serve nothing
    assert "ServiceAccount" not in by_kind(render("s3-url-values.yaml"))
    assert "Role" not in by_kind(render("s3-url-values.yaml"))


@pytest.mark.parametrize("values_file", ["gcp-pitr-values.yaml", "azure-values.yaml"])
def test_pitr_renders_the_archiver_deployment_the_code_builds(values_file) -> None:
    """``pitr.enabled`` → exactly shared/k8s/archiver_spec.py's Deployment for the same settings."""
    values = merged_values(values_file)
    docs = by_kind(render(values_file, "--set", "pitr.enabled=true"))
    rendered = docs["Deployment"]
    target = Target(namespace=NAMESPACE, service=values["mariadb"]["service"],
                    secret=values["mariadb"]["existingSecret"])
    binlog_env = {name: str(values["pitr"][key]) for key, name in PITR_TO_ENV.items()
                  if values["pitr"][key] not in (None, "")}
    built = build_archiver_deployment(target=target, settings=job_settings_from_env(dispatcher_env(values)),
                                      binlog_env=binlog_env)
    pod = rendered["spec"]["template"]["spec"]
    assert {key: pod.pop(key) for key in SCHEDULING if key in pod} == {
        key: values[key] for key in SCHEDULING if values[key]}
    assert rendered["spec"] == built["spec"]
    assert rendered["metadata"]["name"] == built["metadata"]["name"]
    assert built["metadata"]["labels"].items() <= rendered["metadata"]["labels"].items()
    assert pod["containers"][0]["args"] == ["archive-binlogs", "--follow"]
    assert "Deployment" not in by_kind(render(None))


def test_prometheus_rule_is_the_alerts_file() -> None:
    rule = by_kind(render("gcp-pitr-values.yaml"))["PrometheusRule"]
    alerts = yaml.safe_load((ROOT / "infra" / "monitoring" / "alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"]
    assert rule["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert "PrometheusRule" not in by_kind(render(None))


@pytest.mark.parametrize(("setting", "complaint"), [
    ("storage.provder=aws", "Additional property provder is not allowed"),
    ("backup.format=rar", "backup.format"),
    ("job.spoolSizeLimit=20GB", "job.spoolSizeLimit"),
    ("metrics.pushgateway=gateway:9091", "metrics.pushgateway"),
])
def test_values_schema_rejects_bad_values(setting, complaint) -> None:
    done = helm("template", "r", ".", "--namespace", NAMESPACE, "--set", setting)
    assert done.returncode == 1
    assert complaint in done.stderr


@pytest.mark.parametrize("values_file", VALUES_FILES)
def test_render_is_valid_kubernetes_1_30(values_file, tmp_path) -> None:
    rendered = tmp_path / "render.yaml"
    docs = render(values_file)
    rendered.write_text(yaml.safe_dump_all([d for d in docs if d["kind"] != "PrometheusRule"]))
    validator = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run([str(validator), "--strict", "-k", "1.30.0", str(rendered)], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("passed for resource") == len(docs) - sum(d["kind"] == "PrometheusRule" for d in docs)


def test_notes_say_how_to_start_a_run_now_and_read_its_log(tmp_path) -> None:
    """helm renders NOTES.txt only on install; render it through tpl in a copy of the chart."""
    chart = tmp_path / "chart"
    shutil.copytree(CHART, chart)
    shutil.copy(CHART / "templates" / "NOTES.txt", chart / "NOTES.txt")
    (chart / "templates" / "notes-preview.yaml").write_text('notes: |\n{{ tpl (.Files.Get "NOTES.txt") . | indent 2 }}\n')
    done = helm("template", "r", ".", "-n", NAMESPACE, "--set", "pitr.enabled=true", "--show-only",
                "templates/notes-preview.yaml", chart=chart)
    assert done.returncode == 0, done.stderr
    notes = yaml.safe_load(done.stdout)["notes"]
    assert "kubectl -n mariadb create job --from=cronjob/mariadb-ha-backup-mariadb-ha" in notes
    assert "kubectl -n mariadb logs -f -l app.kubernetes.io/instance=mariadb-ha,app.kubernetes.io/component=backup" in notes
    assert "logs -f deployment/mariadb-ha-backup-binlogs-mariadb-ha" in notes


@pytest.fixture(scope="module")
def checkov_reports(tmp_path_factory) -> list[dict[str, Any]]:
    """checkov's helm framework over the chart (default values) and its kubernetes framework over each
    values file's render (helm on PATH: checkov's helm runner calls it)."""
    assert CHECKOV.exists(), "checkov is missing: scripts/bootstrap installs it into .venv-checkov"
    renders = tmp_path_factory.mktemp("renders")
    for values_file in VALUES_FILES:
        docs = render(values_file)
        (renders / f"{values_file or 'defaults.yaml'}").write_text(yaml.safe_dump_all(docs))
    env = {"PATH": f"{Path(HELM).parent}:/usr/bin:/bin", "HOME": str(renders)}
    reports = []
    for args in (["--directory", str(CHART.parent), "--framework", "helm"],
                 ["--directory", str(renders), "--framework", "kubernetes"]):
        done = subprocess.run([str(CHECKOV), *args, "--skip-download", "--output", "json"], capture_output=True,
                              text=True, timeout=300, check=False, env=env)
        report = json.loads(done.stdout)
        reports += report if isinstance(report, list) else [report]
    return reports


def test_checkov_finds_nothing_and_every_skip_says_why(checkov_reports) -> None:
    assert {r["check_type"] for r in checkov_reports} == {"helm", "kubernetes"}
    for report in checkov_reports:
        summary = report["summary"]
        assert (summary["failed"], summary["parsing_errors"]) == (0, 0), report["results"].get("failed_checks")
        assert summary["passed"] > 50
        skipped = report["results"]["skipped_checks"]
        assert skipped and all(len(c["check_result"].get("suppress_comment") or "") >= 20 for c in skipped)
