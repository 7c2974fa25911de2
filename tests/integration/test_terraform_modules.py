"""The Terraform modules, read as HCL: the security properties issue 5 asks for, checked statically.

Providers cannot be downloaded here, so nothing is planned; instead each module is parsed with
python-hcl2 and the properties a reviewer would look for are asserted on the parsed blocks: bucket
encryption, versioning, public access blocked, lifecycle expiry, the scheduled time in the
scheduler's input, no wildcard IAM actions, the Secret Role limited by resourceNames, the
dispatcher Role limited to create/get/list Jobs, typed and described variables.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
CLOUDS = ("aws", "gcp", "azure")
MODULES = (*CLOUDS, "kubernetes")
ROOTS = [TERRAFORM / "modules" / m for m in MODULES] + [TERRAFORM / "examples" / c for c in CLOUDS]
_OPTIONS = SerializationOptions(with_comments=False, explicit_blocks=False, strip_string_quotes=True)


@cache
def parsed(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of the .tf files in ``directory``, merged by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        with path.open() as handle:
            for kind, blocks in hcl2.load(handle, serialization_options=_OPTIONS).items():
                merged.setdefault(kind, []).extend(blocks)
    return merged


def resources(module: str, kind: str, block: str = "resource") -> dict[str, dict[str, Any]]:
    """name → body of every ``block`` (resource or data) of type ``kind`` in the module."""
    found: dict[str, dict[str, Any]] = {}
    for entry in parsed(TERRAFORM / "modules" / module).get(block, []):
        found.update(entry.get(kind, {}))
    return found


def one(module: str, kind: str, name: str) -> dict[str, Any]:
    bodies = resources(module, kind)
    assert name in bodies, f"{module}: no {kind}.{name}"
    return bodies[name]


_LOCAL = re.compile(r"^\$\{local\.([\w.]+)\}$")


def module_locals(module: str) -> dict[str, Any]:
    return {k: v for entry in parsed(TERRAFORM / "modules" / module).get("locals", []) for k, v in entry.items()}


def resolved(module: str, value: Any) -> Any:
    """``value`` with every plain ``${local.a.b}`` reference replaced by the module's local, recursively."""
    if isinstance(value, dict):
        return {k: resolved(module, v) for k, v in value.items()}
    if isinstance(value, list):
        return [resolved(module, v) for v in value]
    match = _LOCAL.match(value) if isinstance(value, str) else None
    if match is None:
        return value
    found: Any = module_locals(module)
    for name in match.group(1).split("."):
        found = found[name]
    return resolved(module, found)


def empty_dirs(module: str, pod: dict[str, Any]) -> dict[str, str]:
    """name → sizeLimit of a pod's emptyDir volumes: its ``volume`` blocks, and those a ``dynamic "volume"``
    makes from a map (``name = volume.key``, ``size_limit = volume.value``)."""
    sizes = {v["name"]: v["empty_dir"][0]["size_limit"] for v in pod.get("volume", [])}
    for dynamic in pod.get("dynamic", []):
        if "volume" in dynamic:
            sizes.update(resolved(module, dynamic["volume"]["for_each"]))
    return sizes


def walk(node: Any):
    """Every (key, value) pair in a parsed tree, depth first."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item)


# ---------------------------------------------------------------------------------------------
# Shape: files, variables, outputs, formatting
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("module", MODULES)
def test_module_has_the_four_standard_files(module: str) -> None:
    names = {p.name for p in (TERRAFORM / "modules" / module).glob("*.tf")}
    assert names == {"main.tf", "variables.tf", "outputs.tf", "versions.tf"}


@pytest.mark.parametrize("directory", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_variable_is_typed_and_described(directory: Path) -> None:
    variables = {name: body for entry in parsed(directory)["variable"] for name, body in entry.items()}
    assert variables
    untyped = sorted(name for name, body in variables.items() if not body.get("type"))
    undescribed = sorted(name for name, body in variables.items() if len(body.get("description", "")) < 10)
    assert (untyped, undescribed) == ([], [])


@pytest.mark.parametrize("directory", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_output_is_described(directory: Path) -> None:
    outputs = {name: body for entry in parsed(directory)["output"] for name, body in entry.items()}
    assert all(body.get("description") for body in outputs.values()), outputs


@pytest.mark.parametrize("directory", [TERRAFORM / "modules" / c for c in CLOUDS] + ROOTS[len(MODULES):],
                         ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bucket_function_and_schedule_names_are_outputs(directory: Path) -> None:
    outputs = {name for entry in parsed(directory)["output"] for name in entry}
    assert {"bucket_name", "function_name", "schedule_name"} <= outputs


@pytest.mark.parametrize("cloud", CLOUDS)
def test_example_wires_its_cloud_module_and_the_kubernetes_module(cloud: str) -> None:
    modules = {name: body for entry in parsed(TERRAFORM / "examples" / cloud)["module"] for name, body in entry.items()}
    sources = {body["source"] for body in modules.values()}
    assert sources == {f"../../modules/{cloud}", "../../modules/kubernetes"}
    kube = next(body for body in modules.values() if body["source"].endswith("/kubernetes"))
    assert "module.backup.agent_service_account_annotations" in kube["agent_service_account_annotations"]
    readme = (TERRAFORM / "examples" / cloud / "README.md").read_text()
    for topic in ("Inputs", "What gets created", "Change the schedule", "Test"):
        assert topic in readme, f"examples/{cloud}/README.md lacks a {topic!r} section"


def test_terraform_fmt_reports_no_file_to_rewrite() -> None:
    terraform = shutil.which("terraform")
    assert terraform, "terraform is not on PATH (the machine image provides it)"
    result = subprocess.run([terraform, "fmt", "-check", "-recursive", "-list=true", str(TERRAFORM)],
                            capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, "")


# ---------------------------------------------------------------------------------------------
# Buckets
# ---------------------------------------------------------------------------------------------


def test_aws_bucket_is_encrypted_versioned_private_and_expires() -> None:
    sse = one("aws", "aws_s3_bucket_server_side_encryption_configuration", "backups")
    algorithm = sse["rule"][0]["apply_server_side_encryption_by_default"][0]["sse_algorithm"]
    assert "AES256" in algorithm and "aws:kms" in algorithm  # SSE-S3 by default, KMS when a key is given
    versioning = one("aws", "aws_s3_bucket_versioning", "backups")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    block = one("aws", "aws_s3_bucket_public_access_block", "backups")
    assert all(block[k] is True for k in ("block_public_acls", "block_public_policy", "ignore_public_acls",
                                          "restrict_public_buckets"))
    ownership = one("aws", "aws_s3_bucket_ownership_controls", "backups")
    assert ownership["rule"][0]["object_ownership"] == "BucketOwnerEnforced"
    rules = one("aws", "aws_s3_bucket_lifecycle_configuration", "backups")["rule"]
    expiring = [r for r in rules if r.get("expiration", [{}])[0].get("days")]
    assert expiring and expiring[0]["status"] == "Enabled"
    assert expiring[0]["noncurrent_version_expiration"][0]["noncurrent_days"]
    assert all(r["abort_incomplete_multipart_upload"][0]["days_after_initiation"] for r in rules)


def test_aws_bucket_refuses_plain_http() -> None:
    policy = one("aws", "aws_s3_bucket_policy", "tls_only")["policy"]
    assert 'Effect = "Deny"' in policy and '"aws:SecureTransport" = "false"' in policy


def test_gcp_bucket_is_uniform_private_versioned_and_expires() -> None:
    bucket = one("gcp", "google_storage_bucket", "backups")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
    assert bucket["versioning"][0]["enabled"] is True
    actions = {rule["action"][0]["type"]: rule["condition"][0] for rule in bucket["lifecycle_rule"]}
    assert actions.keys() == {"Delete", "AbortIncompleteMultipartUpload"}
    assert any("encryption" in block for block in bucket["dynamic"])  # CMEK when kms_key_name is set


def test_azure_storage_is_private_tls12_versioned_with_a_policy() -> None:
    account = one("azure", "azurerm_storage_account", "backups")
    assert account["min_tls_version"] == "TLS1_2"
    assert account["allow_nested_items_to_be_public"] is False
    assert account["https_traffic_only_enabled"] is True
    assert account["shared_access_key_enabled"] is False  # Entra ID only: no keys to leak
    assert account["blob_properties"][0]["versioning_enabled"] is True
    assert one("azure", "azurerm_storage_container", "backups")["container_access_type"] == "private"
    rule = one("azure", "azurerm_storage_management_policy", "backups")["rule"][0]
    assert rule["actions"][0]["base_blob"][0]["delete_after_days_since_modification_greater_than"]
    assert "var.backup_prefix" in rule["filters"][0]["prefix_match"][0]


# ---------------------------------------------------------------------------------------------
# Schedules and functions
# ---------------------------------------------------------------------------------------------


def test_aws_schedule_passes_the_scheduled_time_and_retries_into_a_dead_letter_queue() -> None:
    schedule = one("aws", "aws_scheduler_schedule", "backup")
    target = schedule["target"][0]
    assert "<aws.scheduler.scheduled-time>" in target["input"]
    assert "scheduled_time" in target["input"]  # the payload key the handler reads
    assert schedule["schedule_expression_timezone"]
    assert target["retry_policy"][0]["maximum_retry_attempts"]
    assert target["dead_letter_config"][0]["arn"] == "${aws_sqs_queue.dead_letter.arn}"
    assert "schedule_expression" in schedule["lifecycle"][0]["ignore_changes"]  # console edits stick


def test_aws_lambda_is_deployed_from_the_package_with_its_hash() -> None:
    function = one("aws", "aws_lambda_function", "dispatcher")
    assert function["handler"] == "handler.handler"
    assert function["filename"] == "${var.function_zip_path}"
    assert function["source_code_hash"] == "${filebase64sha256(var.function_zip_path)}"


def test_gcp_scheduler_calls_the_function_with_an_oidc_token() -> None:
    job = one("gcp", "google_cloud_scheduler_job", "backup")
    http = job["http_target"][0]
    assert http["oidc_token"][0]["service_account_email"] == "${google_service_account.scheduler.email}"
    assert http["uri"] == http["oidc_token"][0]["audience"]
    assert "schedule" in job["lifecycle"][0]["ignore_changes"]
    function = one("gcp", "google_cloudfunctions2_function", "dispatcher")
    assert function["build_config"][0]["entry_point"] == "dispatch"


def test_azure_schedule_setting_survives_later_applies() -> None:
    app = one("azure", "azurerm_linux_function_app", "dispatcher")
    assert app["lifecycle"][0]["ignore_changes"] == ['${app_settings["BACKUP_SCHEDULE"]}']
    assert "BACKUP_SCHEDULE = var.backup_schedule" in app["app_settings"]
    assert app["identity"][0]["type"] == "SystemAssigned"
    assert app["zip_deploy_file"] == "${var.function_zip_path}"


def _function_environment(cloud: str) -> str:
    env = parsed(TERRAFORM / "modules" / cloud)["locals"]
    return next(str(entry["function_environment"]) for entry in env if "function_environment" in entry)


def _env_names_read_by(module: Path) -> set[str]:
    return set(re.findall(r'env\.get\("([A-Z0-9_]+)"', module.read_text()))


@pytest.mark.parametrize("cloud", CLOUDS)
def test_function_gets_every_variable_the_dispatch_code_reads(cloud: str) -> None:
    """Names come from shared/k8s (the dispatch engineer's code), so a rename there fails here."""
    k8s = ROOT / "shared" / "k8s"
    needed = _env_names_read_by(k8s / "clients.py") & {"K8S_ENDPOINT", "K8S_CA_DATA"}
    assert needed == {"K8S_ENDPOINT", "K8S_CA_DATA"}
    if cloud == "aws":
        needed |= _env_names_read_by(k8s / "eks_auth.py") - {"AWS_REGION", "AWS_DEFAULT_REGION"}  # Lambda sets those
    needed |= {"AGENT_IMAGE", "AGENT_SERVICE_ACCOUNT", "CLOUD_PROVIDER", "CELL_DEFAULT_NAMESPACE",
               "MARIADB_HA_SERVICE_NAME", "MARIADB_HA_SECRET_NAME"}
    needed |= {"aws": {"S3_BUCKET"}, "gcp": {"GCS_BUCKET"},
               "azure": {"AZURE_STORAGE_ACCOUNT", "AZURE_STORAGE_CONTAINER"}}[cloud]
    env = _function_environment(cloud)
    assert sorted(name for name in needed if f"{name} =" not in env) == []


# ---------------------------------------------------------------------------------------------
# Least privilege
# ---------------------------------------------------------------------------------------------


def _iam_actions(module: str) -> list[str]:
    actions = []
    for key, value in walk(parsed(TERRAFORM / "modules" / module)):
        if key in ("actions", "data_actions") and isinstance(value, list):
            actions.extend(value)
        if isinstance(value, str) and "Action" in value:  # jsonencode()d policies
            for listed in re.findall(r"Action = \[([^\]]*)\]", value):
                actions.extend(re.findall(r'"([^"]+)"', listed))
    return actions


@pytest.mark.parametrize("module", ("aws", "azure"))
def test_no_wildcard_iam_actions(module: str) -> None:
    actions = _iam_actions(module)
    assert actions, "no IAM actions found: the parser no longer sees the policies"
    assert [a for a in actions if "*" in a] == []


def test_aws_agent_may_only_touch_objects_under_its_prefix() -> None:
    policy = resources("aws", "aws_iam_policy_document", block="data")["agent_bucket"]
    statements = {s["sid"]: s for s in policy["statement"]}
    assert statements["ReadWriteOwnPrefix"]["resources"] == ["${local.bucket_arn}/${var.backup_prefix}/*"]
    listing = statements["ListOwnPrefix"]
    assert listing["condition"][0]["variable"] == "s3:prefix"
    assert listing["condition"][0]["values"] == ["${var.backup_prefix}/*"]


def test_aws_function_reaches_kubernetes_only_as_the_dispatcher_group() -> None:
    entry = one("aws", "aws_eks_access_entry", "function")
    assert entry["principal_arn"] == "${aws_iam_role.function.arn}"
    assert entry["kubernetes_groups"] == ["${var.kubernetes_group}"]
    assert "aws_eks_access_policy_association" not in str(parsed(TERRAFORM / "modules" / "aws"))
    association = one("aws", "aws_eks_pod_identity_association", "agent")
    assert association["service_account"] == "${var.agent_service_account_name}"


def test_gcp_grants_are_narrow() -> None:
    roles = [v for k, v in walk(parsed(TERRAFORM / "modules" / "gcp")) if k == "role"]
    assert sorted(roles) == ["${google_project_iam_custom_role.agent_retention[0].id}",
                             "roles/container.clusterViewer", "roles/iam.workloadIdentityUser",
                             "roles/run.invoker", "roles/run.invoker", "roles/storage.objectUser"]
    members = [v for k, v in walk(parsed(TERRAFORM / "modules" / "gcp")) if k == "member"]
    assert not [m for m in members if "allUsers" in m or "allAuthenticatedUsers" in m]
    grant = one("gcp", "google_storage_bucket_iam_member", "agent_objects")
    assert grant["condition"][0]["expression"] == "${local.prefix_condition}"
    identity = one("gcp", "google_service_account_iam_member", "agent_workload_identity")
    assert identity["member"].endswith(".svc.id.goog[${var.namespace}/${var.agent_service_account_name}]")


def test_azure_agent_writes_to_the_one_container_through_workload_identity() -> None:
    grant = one("azure", "azurerm_role_assignment", "agent_container")
    assert grant["role_definition_name"] == "Storage Blob Data Contributor"
    assert grant["scope"] == "${local.container_scope}"
    credential = one("azure", "azurerm_federated_identity_credential", "agent")
    assert credential["subject"] == "system:serviceaccount:${var.namespace}:${var.agent_service_account_name}"
    assert credential["audience"] == ["api://AzureADTokenExchange"]


def _kubernetes_rules() -> dict[str, list[dict[str, Any]]]:
    return {name: body["rule"] for name, body in resources("kubernetes", "kubernetes_role_v1").items()}


def test_secret_role_can_only_get_the_one_named_secret() -> None:
    assert _kubernetes_rules()["secret_reader"] == [
        {"api_groups": [""], "resources": ["secrets"], "resource_names": ["${var.secret_name}"], "verbs": ["get"]},
    ]


def test_dispatcher_role_can_only_create_get_and_list_jobs() -> None:
    assert _kubernetes_rules()["dispatcher"] == [
        {"api_groups": ["batch"], "resources": ["jobs"], "verbs": ["create", "get", "list"]},
    ]
    assert "kubernetes_cluster_role_v1" not in str(parsed(TERRAFORM / "modules" / "kubernetes"))


def _as_manifest_rules(rules: list[dict[str, Any]], resource_name: str) -> list[dict[str, Any]]:
    return [{"apiGroups": r["api_groups"], "resources": r["resources"],
             **({"resourceNames": [resource_name]} if "resource_names" in r else {}), "verbs": r["verbs"]}
            for r in rules]


def test_plain_rbac_manifests_grant_what_the_kubernetes_module_grants() -> None:
    documents = list(yaml.safe_load_all((ROOT / "infra" / "kubernetes" / "rbac.yaml").read_text()))
    roles = {d["metadata"]["name"].removeprefix("mariadb-ha-backup-").replace("-", "_"): d["rules"]
             for d in documents if d["kind"] == "Role"}
    from_hcl = {name: _as_manifest_rules(rules, "mariadb-ha") for name, rules in _kubernetes_rules().items()}
    assert roles == from_hcl


def test_physical_node_lookup_is_opt_in_and_grants_exactly_what_it_calls() -> None:
    from shared.k8s.dispatcher_spec import node_reader_rules

    [rules] = [entry["node_reader_rules"] for entry in parsed(TERRAFORM / "modules" / "kubernetes")["locals"]
               if "node_reader_rules" in entry]
    as_manifest = [{"apiGroups": r["api_groups"], "resources": r["resources"],
                    **({"resourceNames": r["resource_names"]} if r["resource_names"] else {}), "verbs": r["verbs"]}
                   for r in rules]
    assert as_manifest == node_reader_rules("${var.mariadb_service_name}")
    [dynamic] = one("kubernetes", "kubernetes_role_v1", "dispatcher")["dynamic"]
    assert dynamic["rule"]["for_each"] == "${var.physical_backups_enabled ? local.node_reader_rules : []}"


def test_object_lock_is_opt_in_on_every_cloud() -> None:
    """Off by default (it can only be set when the bucket is created and cannot be undone)."""
    variables = {cloud: parsed(TERRAFORM / "modules" / cloud) for cloud in ("aws", "gcp", "azure")}
    for cloud, parsed_vars in variables.items():
        declared = {name: body for block in parsed_vars["variable"] for name, body in block.items()}
        assert declared["object_lock_enabled"]["default"] is False, cloud
    assert one("aws", "aws_s3_bucket", "backups")["object_lock_enabled"] == "${var.object_lock_enabled}"
    assert one("aws", "aws_s3_bucket_object_lock_configuration", "backups")["count"] == "${var.object_lock_enabled ? 1 : 0}"
    assert one("gcp", "google_storage_bucket", "backups")["enable_object_retention"] == "${var.object_lock_enabled}"
    account = one("azure", "azurerm_storage_account", "backups")
    assert any("immutability_policy" in block for block in account["dynamic"])


def test_agent_can_set_retention_but_never_bypass_it() -> None:
    actions = [a for k, v in walk(parsed(TERRAFORM / "modules" / "aws")["data"])
               if k == "actions" for a in v]
    assert "s3:PutObjectRetention" in actions and "s3:GetBucketObjectLockConfiguration" in actions
    assert not [a for a in actions if "Bypass" in a or a in ("s3:*", "s3:PutBucketObjectLockConfiguration")]
    role = one("gcp", "google_project_iam_custom_role", "agent_retention")
    assert sorted(role["permissions"]) == ["storage.buckets.get", "storage.objects.setRetention"]


def test_binlog_archiver_is_opt_in_and_runs_the_rendered_deployments_pod() -> None:
    """The module's archiver mirrors infra/kubernetes/binlog-archiver.yaml (one source: shared/k8s)."""
    body = one("kubernetes", "kubernetes_deployment_v1", "binlog_archiver")
    assert body["count"] == "${var.binlog_archiver_enabled ? 1 : 0}"
    variables = {name: v for entry in parsed(TERRAFORM / "modules" / "kubernetes")["variable"] for name, v in entry.items()}
    assert variables["binlog_archiver_enabled"]["default"] is False
    rendered = next(yaml.safe_load_all((ROOT / "infra" / "kubernetes" / "binlog-archiver.yaml").read_text()))
    spec, pod = body["spec"][0], body["spec"][0]["template"][0]["spec"][0]
    container, expected = pod["container"][0], rendered["spec"]["template"]["spec"]
    assert (spec["replicas"], spec["strategy"][0]["type"]) == (rendered["spec"]["replicas"], "Recreate")
    assert container["args"] == expected["containers"][0]["args"]
    assert pod["termination_grace_period_seconds"] == expected["terminationGracePeriodSeconds"]
    assert pod["service_account_name"] == "${kubernetes_service_account_v1.agent.metadata[0].name}"
    assert resolved("kubernetes", container["resources"][0]) == expected["containers"][0]["resources"]
    assert empty_dirs("kubernetes", pod) == {v["name"]: v["emptyDir"]["sizeLimit"] for v in expected["volumes"]}
    [mounts] = [d["volume_mount"]["for_each"] for d in container["dynamic"] if "volume_mount" in d]
    assert resolved("kubernetes", mounts) == {
        m["name"]: m["mountPath"] for m in expected["containers"][0]["volumeMounts"]}
    context = resolved("kubernetes", pod["security_context"][0])
    assert (context["run_as_user"], context["fs_group"]) == (
        expected["securityContext"]["runAsUser"], expected["securityContext"]["fsGroup"])
    assert container["security_context"][0]["read_only_root_filesystem"] is True


def test_archiver_reads_pods_only_when_it_follows_a_service() -> None:
    [dynamic] = one("kubernetes", "kubernetes_role_v1", "secret_reader")["dynamic"]
    assert dynamic["rule"]["for_each"].startswith(
        '${var.binlog_archiver_enabled && lookup(var.binlog_archiver_env, "BINLOG_SOURCES_SERVICE", "") != "" ?')
    assert '"services"' in dynamic["rule"]["for_each"] and '"pods"' in dynamic["rule"]["for_each"]
