"""Hostile and bad input through the real CLI: the documented exit code, one clear line on stderr,
no traceback, nothing written, and the password (always set here) never echoed.

Cases that need no database run without one (configuration is validated before anything connects);
those that need stored backups share one real backup made once per module.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, start_test_server
from tests.unit.test_k8s_job_spec import ENV as DISPATCH_ENV

SECRET = "hostile-Secret-#$'\"-9f2c"


def base(bucket: Path, tmp: Path) -> dict[str, str]:
    return {
        "CLOUD_PROVIDER": "local", "LOCAL_BACKUP_DIR": str(bucket), "BACKUP_TMPDIR": str(tmp),
        "MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": "1", "MARIADB_PASSWORD": SECRET,
        "BACKUP_RETRY_ATTEMPTS": "1", "BACKUP_RETRY_SECONDS": "1",
    }


# (case id, command line, environment changes (None removes), exit code, text the one line must contain)
CONFIG_CASES = [
    ("no-destination", ["backup"], {"CLOUD_PROVIDER": None}, 2, "set CLOUD_PROVIDER"),
    ("provider-wrong-case", ["backup"], {"CLOUD_PROVIDER": "AWS"}, 2, "CLOUD_PROVIDER must be one of"),
    ("gcp-without-bucket", ["backup"], {"CLOUD_PROVIDER": "gcp"}, 2, "needs GCS_BUCKET"),
    ("s3-bucket-too-short", ["backup"], {"CLOUD_PROVIDER": "aws", "S3_BUCKET": "ab"}, 2, "is not an S3 bucket name"),
    ("gcs-bucket-uppercase", ["backup"], {"CLOUD_PROVIDER": "gcp", "GCS_BUCKET": "MyBucket"}, 2,
     "is not a GCS bucket name"),
    ("azure-container-double-dash", ["backup"], {"CLOUD_PROVIDER": "azure", "AZURE_STORAGE_CONTAINER": "a--b"}, 2,
     "is not an Azure container name"),
    ("url-unknown-scheme", ["backup"], {"BACKUP_URL": "ftp://host/x"}, 2, "BACKUP_URL must start with"),
    ("url-empty-bucket", ["backup"], {"BACKUP_URL": "s3://"}, 2, "is not an S3 bucket name"),
    ("url-unknown-parameter", ["backup"], {"BACKUP_URL": "s3://bucket1?region=x&evil=1"}, 2, "unknown parameter"),
    ("url-malformed-query", ["backup"], {"BACKUP_URL": "gs://bucket1?=&&"}, 2, "malformed query"),
    ("url-file-relative", ["backup"], {"BACKUP_URL": "file://relative/dir"}, 2, "needs an absolute path"),
    ("url-path-traversal", ["backup"], {"BACKUP_URL": "s3://bucket1/../../etc"}, 2, "is not a valid key prefix"),
    ("prefix-empty-segment", ["backup"], {"BACKUP_PREFIX": "a//b"}, 2, "is not a valid key prefix"),
    ("prefix-dot-segment", ["backup"], {"BACKUP_PREFIX": "a/./b"}, 2, "is not a valid key prefix"),
    ("prefix-newline", ["backup"], {"BACKUP_PREFIX": "a\nb"}, 2, "is not a valid key prefix"),
    ("namespace-not-dns-label", ["backup"], {"CELL_DEFAULT_NAMESPACE": "Bad_NS"}, 2, "is not a DNS label"),
    ("service-starts-with-digit", ["backup"], {"MARIADB_HA_SERVICE_NAME": "1mariadb"}, 2, "is not a DNS-1035 label"),
    ("secret-name-leading-dash", ["backup"], {"MARIADB_HA_SECRET_NAME": "-root"}, 2, "is not a DNS subdomain"),
    ("port-not-a-number", ["backup"], {"MARIADB_PORT": "3306; rm -rf /"}, 2, "MARIADB_PORT must be a whole number"),
    ("port-zero", ["backup"], {"MARIADB_PORT": "0"}, 2, "MARIADB_PORT must be between"),
    ("retry-attempts-zero", ["backup"], {"BACKUP_RETRY_ATTEMPTS": "0"}, 2, "BACKUP_RETRY_ATTEMPTS must be between"),
    ("retry-seconds-negative", ["backup"], {"BACKUP_RETRY_SECONDS": "-5"}, 2, "must be a positive number"),
    ("keep-last-words", ["backup"], {"BACKUP_KEEP_LAST": "many"}, 2, "BACKUP_KEEP_LAST must be a whole number"),
    ("no-password-source", ["backup"], {"MARIADB_PASSWORD": None}, 2, "no password source"),
    ("password-file-missing", ["backup"], {"MARIADB_PASSWORD": None, "MARIADB_PASSWORD_FILE": "/nonexistent/pw"},
     2, "cannot read it"),
    # Both password sources: refused rather than silently ignoring the file (here one that does not exist).
    ("password-and-password-file", ["backup"], {"MARIADB_PASSWORD_FILE": "/nonexistent/pw"}, 2,
     "MARIADB_PASSWORD and MARIADB_PASSWORD_FILE (--password-file) are both set"),
    ("restore-password-and-password-flag", ["restore", "--latest", "--password-file", "/nonexistent/pw"], {}, 2,
     "MARIADB_PASSWORD and MARIADB_PASSWORD_FILE (--password-file) are both set"),
    ("restore-id-traversal", ["restore", "../../etc/passwd"], {}, 2, "is not of the form YYYYMMDDTHHMMSSZ"),
    ("restore-id-impossible-date", ["restore", "20241301T000000Z"], {}, 2, "is not a valid UTC time"),
    ("restore-without-which", ["restore"], {}, 2, "say which backup to restore"),
    ("dispatch-targets-not-json", ["dispatch", "--dry-run"], {**DISPATCH_ENV, "DISPATCH_TARGETS": "[{oops"}, 2,
     "DISPATCH_TARGETS is not valid JSON"),
    ("dispatch-target-bad-namespace", ["dispatch", "--dry-run"],
     {**DISPATCH_ENV, "DISPATCH_TARGETS": '[{"namespace": "../kube-system", "service": "db", "secret": "s"}]'}, 2,
     "namespace"),
]


def assert_one_clean_line(stderr: str, stdout: str, expected: str) -> None:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mariadb-ha-backup: error:") and expected in lines[0], lines[0]
    assert "Traceback" not in stderr
    assert SECRET not in stderr + stdout


@pytest.mark.parametrize(("args", "changes", "code", "expected"), [c[1:] for c in CONFIG_CASES],
                         ids=[c[0] for c in CONFIG_CASES])
def test_bad_input_is_refused_cleanly(tmp_path, args, changes, code, expected):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    env = {**base(bucket, tmp), **{k: v for k, v in changes.items() if v is not None}}
    for key in [k for k, v in changes.items() if v is None]:
        del env[key]
    done = run_cli(args, env, timeout=60)
    assert done.returncode == code, done.stderr
    assert_one_clean_line(done.stderr, done.stdout, expected)
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []


def test_non_utf8_password_file_is_refused(tmp_path):
    bucket, tmp = tmp_path / "bucket", tmp_path / "tmp"
    bucket.mkdir()
    tmp.mkdir()
    secret_file = tmp_path / "pw"
    secret_file.write_bytes(b"\xff\xfe" + SECRET.encode("utf-16-le"))
    env = {**base(bucket, tmp), "MARIADB_PASSWORD_FILE": str(secret_file)}
    del env["MARIADB_PASSWORD"]
    done = run_cli(["backup"], env, timeout=60)
    assert done.returncode == 2
    assert_one_clean_line(done.stderr, done.stdout, "UnicodeDecodeError")
    assert list(bucket.iterdir()) == [] and list(tmp.iterdir()) == []


# --- cases that need a real server and a real stored backup --------------------------------------

@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestServer, Path, str]]:
    server = start_test_server(sample=True)
    bucket = tmp_path_factory.mktemp("bucket")
    tmp = tmp_path_factory.mktemp("tmp")
    env = {**base(bucket, tmp), **server.agent_env()}
    done = run_cli(["backup", "--json"], env)
    assert done.returncode == 0, done.stderr
    yield server, bucket, json.loads(done.stdout)["backup_id"]
    server.stop()


def server_env(stored: tuple[TestServer, Path, str], tmp: Path, **extra: str) -> dict[str, str]:
    server, bucket, _ = stored
    return {**base(bucket, tmp), **server.agent_env(), **extra}


@pytest.mark.parametrize("password", ["line1\nline2", "wrong\r\nzq9secret", "tab\tand\\backslash"],
                         ids=["newline", "crlf", "tab-backslash"])
def test_odd_wrong_passwords_are_refused_without_echo(stored, tmp_path, password):
    _, bucket, _ = stored
    before = sorted(bucket.rglob("*"))
    done = run_cli(["backup"], server_env(stored, tmp_path, MARIADB_PASSWORD=password))
    assert done.returncode == 2, done.stderr
    assert_one_clean_line(done.stderr, done.stdout, "refused the credentials")
    for fragment in password.splitlines():
        assert fragment not in done.stderr
    assert sorted(bucket.rglob("*")) == before and list(tmp_path.iterdir()) == []


def test_backup_id_that_does_not_exist(stored, tmp_path):
    done = run_cli(["restore", "20000101T000000Z"], server_env(stored, tmp_path))
    assert done.returncode == 2
    assert_one_clean_line(done.stderr, done.stdout, "20000101T000000Z")


def _damaged_copy(
    stored: tuple[TestServer, Path, str], tmp_path: Path, damage: Callable[[Path], None]
) -> tuple[dict[str, str], Path]:
    """A copy of the stored backup's bucket with ``damage(folder)`` applied, and an env pointing at it."""
    import shutil

    server, bucket, backup_id = stored
    copy = tmp_path / "copy"
    shutil.copytree(bucket, copy)
    (folder,) = list(copy.rglob(backup_id))
    damage(folder)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return {**base(copy, tmp), **server.agent_env(), "LOCAL_BACKUP_DIR": str(copy)}, tmp


def _flip_byte(folder: Path) -> None:
    archive = folder / "mariadb-ha-backup.tar.gz"
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))


def _truncate(folder: Path) -> None:
    archive = folder / "mariadb-ha-backup.tar.gz"
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])


def _lying_manifest(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["artifact"]["sha1"] = "0" * 40
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("damage", [_flip_byte, _truncate, _lying_manifest], ids=["corrupted", "truncated",
                                                                                   "manifest-lies"])
@pytest.mark.parametrize("command", ["verify", "restore"])
def test_damaged_backup_is_refused_and_nothing_loaded(stored, mariadb_factory, tmp_path, damage, command):
    _, _, backup_id = stored
    env, tmp = _damaged_copy(stored, tmp_path, damage)
    target = mariadb_factory()
    done = run_cli([command, backup_id], {**env, **target.agent_env()})
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("mariadb-ha-backup: error:") and "Traceback" not in done.stderr
    assert target.password not in done.stderr + done.stdout
    assert list(tmp.iterdir()) == []
    # Nothing was loaded: restore verifies first, so the target has no user database.
    assert target.execute("SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name IN ('shop', 'crm')"
                          ).strip() == "0"
