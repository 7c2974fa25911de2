"""The agent's Secret path end to end: the real CLI, the real ``kubernetes`` client reading the root
password from a Secret in the Kubernetes API emulator (KUBECONFIG), a real mariadbd to dump."""

from __future__ import annotations

import json

from tests.support.cli import run_cli


def secret_env(kube_api, server, bucket, tmp):  # type: ignore[no-untyped-def]
    return {"CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_TMPDIR": str(tmp),
            "KUBECONFIG": str(kube_api.kubeconfig), "CELL_DEFAULT_NAMESPACE": "databases",
            "MARIADB_HA_SERVICE_NAME": "mariadb-ha", "MARIADB_HA_SECRET_NAME": "mariadb-root",
            "MARIADB_HOST": server.host, "MARIADB_PORT": str(server.port)}


def dirs(tmp_path):  # type: ignore[no-untyped-def]
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    return bucket, tmp


def test_password_comes_from_the_secret(kube_api, sample_server, tmp_path):
    bucket, tmp = dirs(tmp_path)
    kube_api.seed_secret(namespace="databases", name="mariadb-root",
                         data={"root-password": sample_server.password.encode()})

    done = run_cli(["backup", "--json"], secret_env(kube_api, sample_server, bucket, tmp))

    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["artifact_key"].startswith("mariadb-ha-backup/databases/mariadb-ha/")
    manifest = json.loads((bucket / summary["manifest_key"]).read_text())
    assert manifest["source"]["namespace"] == "databases" and manifest["source"]["service"] == "mariadb-ha"
    assert sample_server.password not in done.stderr + done.stdout
    assert list(tmp.iterdir()) == []


def test_missing_secret_is_bad_input_naming_it(kube_api, mariadb_server, tmp_path):
    bucket, tmp = dirs(tmp_path)
    done = run_cli(["backup"], secret_env(kube_api, mariadb_server, bucket, tmp))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "mariadb-root" in line and "databases" in line
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []


def test_missing_key_is_bad_input_naming_it(kube_api, mariadb_server, tmp_path):
    bucket, tmp = dirs(tmp_path)
    kube_api.seed_secret(namespace="databases", name="mariadb-root", data={"password": b"not-the-right-key"})
    done = run_cli(["backup"], secret_env(kube_api, mariadb_server, bucket, tmp))
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert "root-password" in line and "mariadb-root" in line and "not-the-right-key" not in line
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []


def test_bitnami_secret_key_is_a_setting(kube_api, sample_server, tmp_path):
    # Bitnami's mariadb-galera chart keeps the root password under mariadb-root-password.
    bucket, tmp = dirs(tmp_path)
    kube_api.seed_secret(namespace="databases", name="mariadb-root",
                         data={"mariadb-root-password": sample_server.password.encode(), "root-password": b"decoy"})
    env = {**secret_env(kube_api, sample_server, bucket, tmp), "MARIADB_HA_SECRET_KEY": "mariadb-root-password"}

    done = run_cli(["backup", "--json"], env)

    assert done.returncode == 0, done.stderr
    assert (bucket / json.loads(done.stdout)["manifest_key"]).exists()


def test_malformed_secret_key_is_bad_input(kube_api, mariadb_server, tmp_path):
    bucket, tmp = dirs(tmp_path)
    env = {**secret_env(kube_api, mariadb_server, bucket, tmp), "MARIADB_HA_SECRET_KEY": "root password"}
    done = run_cli(["backup"], env)
    assert done.returncode == 2
    assert done.stderr.strip() == "mariadb-ha-backup: error: MARIADB_HA_SECRET_KEY 'root password' is not a Secret key"
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []
