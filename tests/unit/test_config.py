"""Configuration: the seed's variables, flags overriding them, and one clear error for bad input."""

from __future__ import annotations

import pytest

from shared.config import ConfigError, ConfigValues, RetryPolicy, load_destination, load_retry, load_settings

BASE = {
    "CELL_DEFAULT_NAMESPACE": "db",
    "MARIADB_HA_SERVICE_NAME": "mariadb-ha",
    "MARIADB_HA_SECRET_NAME": "mariadb-root",
}


def test_seed_variables_for_each_provider(tmp_path):
    cases = {
        "aws": ({"S3_BUCKET": "my-backups", "AWS_REGION": "eu-west-1"}, "s3://my-backups?region=eu-west-1"),
        "gcp": ({"GCS_BUCKET": "my-backups"}, "gs://my-backups"),
        "azure": (
            {"AZURE_STORAGE_CONTAINER": "backups", "AZURE_STORAGE_ACCOUNT": "acct1"},
            "azblob://backups?account=acct1",
        ),
        "local": ({"LOCAL_BACKUP_DIR": str(tmp_path)}, f"file://{tmp_path}"),
    }
    for provider, (extra, url) in cases.items():
        settings = load_settings({**BASE, "CLOUD_PROVIDER": provider, **extra})
        assert settings.destination.storage_url == url
        assert settings.destination.prefix == "mariadb-ha-backup/db/mariadb-ha"
        assert (settings.source.host, settings.source.port, settings.source.user) == ("mariadb-ha", 3306, "root")
        assert settings.format.name == "tar.gz"


def test_backup_url_overrides_provider_and_its_path_is_the_prefix():
    settings = load_settings(
        {
            **BASE,
            "CLOUD_PROVIDER": "gcp",
            "GCS_BUCKET": "ignored",
            "BACKUP_URL": "s3://other-bucket/team/a?region=us-east-1&endpoint=http://127.0.0.1:9",
        }
    )
    assert settings.destination.storage_url == "s3://other-bucket?region=us-east-1&endpoint=http://127.0.0.1:9"
    assert settings.destination.prefix == "team/a"


def test_backup_prefix_beats_url_path():
    settings = load_settings({**BASE, "BACKUP_URL": "gs://bkt/from-url", "BACKUP_PREFIX": "/explicit/p/"})
    assert settings.destination.prefix == "explicit/p"


def test_flags_override_environment():
    settings = load_settings(
        {**BASE, "CLOUD_PROVIDER": "aws", "S3_BUCKET": "env-bucket"},
        overrides={"S3_BUCKET": "flag-bucket", "MARIADB_PORT": "3307", "BACKUP_FORMAT": None},
    )
    assert settings.destination.storage_url == "s3://flag-bucket"
    assert settings.source.port == 3307


def test_password_sources():
    with_env = load_settings({"MARIADB_HOST": "h", "MARIADB_PASSWORD": "", "BACKUP_URL": "file:///b"})
    assert with_env.source.password == ""  # an explicitly empty password is allowed
    from_file = load_settings({"MARIADB_HOST": "h", "MARIADB_PASSWORD_FILE": "/run/pw", "BACKUP_URL": "file:///b"})
    assert str(from_file.source.password_file) == "/run/pw" and from_file.source.password is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CLOUD_PROVIDER": "ftp"}, "CLOUD_PROVIDER must be one of aws, gcp, azure, local, not 'ftp'"),
        ({}, "set CLOUD_PROVIDER (aws, gcp, azure or local) or BACKUP_URL"),
        ({"CLOUD_PROVIDER": "gcp"}, "CLOUD_PROVIDER=gcp needs GCS_BUCKET"),
        ({"CLOUD_PROVIDER": "azure"}, "CLOUD_PROVIDER=azure needs AZURE_STORAGE_CONTAINER"),
        ({"BACKUP_URL": "ftp://x/y"}, "BACKUP_URL must start with s3://, gs://, azblob:// or file://"),
        ({"BACKUP_URL": "s3://ab"}, "BACKUP_URL: 'ab' is not an S3 bucket name"),
        ({"BACKUP_URL": "azblob://Upper"}, "BACKUP_URL: 'Upper' is not an Azure container name"),
        ({"BACKUP_URL": "s3://bucket?colour=red"}, "BACKUP_URL: unknown parameter(s) colour for s3://"),
        ({"BACKUP_URL": "file://relative/path"}, "BACKUP_URL: a file URL needs an absolute path"),
        ({"BACKUP_URL": "s3://bucket/a/../b"}, "BACKUP_URL path 'a/../b' is not a valid key prefix"),
        ({"BACKUP_URL": "gs://bucket", "BACKUP_PREFIX": "a//b"}, "BACKUP_PREFIX 'a//b' is not a valid key prefix"),
        (
            {"BACKUP_URL": "gs://bucket", "CELL_DEFAULT_NAMESPACE": "Bad_NS"},
            "CELL_DEFAULT_NAMESPACE 'Bad_NS' is not a DNS label",
        ),
        (
            {"BACKUP_URL": "gs://bucket", "MARIADB_HA_SERVICE_NAME": "1svc"},
            "MARIADB_HA_SERVICE_NAME '1svc' is not a DNS-1035 label",
        ),
        ({"BACKUP_URL": "gs://bucket", "MARIADB_PORT": "x"}, "MARIADB_PORT must be a whole number, not 'x'"),
        (
            {"BACKUP_URL": "gs://bucket", "BACKUP_KEEP_LAST": "0"},
            "BACKUP_KEEP_LAST must be between 1 and 100000, not 0",
        ),
        ({"BACKUP_URL": "gs://bucket", "BACKUP_MAX_AGE_DAYS": "-1"}, "BACKUP_MAX_AGE_DAYS must be a positive number"),
    ],
)
def test_bad_values_name_the_setting(env, message):
    full = {"MARIADB_HOST": "h", "MARIADB_PASSWORD": "pw", **env}
    with pytest.raises(ConfigError) as raised:
        load_settings(full)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_missing_host_and_password_sources():
    with pytest.raises(ConfigError, match="no database host"):
        load_settings({"BACKUP_URL": "gs://bucket", "MARIADB_PASSWORD": "x"})
    with pytest.raises(ConfigError, match="no password source"):
        load_settings({"BACKUP_URL": "gs://bucket", "MARIADB_HOST": "h"})


def test_echoed_input_is_bounded_and_single_line():
    with pytest.raises(ConfigError) as raised:
        load_settings({"MARIADB_HOST": "h", "MARIADB_PASSWORD": "p", "CLOUD_PROVIDER": "x\n" + "y" * 500})
    text = str(raised.value)
    assert "\n" not in text and len(text) < 200


def test_password_and_password_file_together_are_refused_naming_both():
    with pytest.raises(ConfigError) as raised:
        load_settings({"MARIADB_HOST": "h", "BACKUP_URL": "file:///b", "MARIADB_PASSWORD": "pw",
                       "MARIADB_PASSWORD_FILE": "/does/not/exist"})
    assert str(raised.value) == ("MARIADB_PASSWORD and MARIADB_PASSWORD_FILE (--password-file) are both set: "
                                 "give only one")


def test_the_option_table_drives_flags_and_the_job_environment():
    from shared.config import OPTIONS
    from shared.k8s.job_settings import AGENT_ENV_PASSTHROUGH

    flags = [o.flag for o in OPTIONS if o.flag]
    assert len(flags) == len(set(flags)) and len({o.env for o in OPTIONS}) == len(OPTIONS)
    # Environment only: the password, and two switches whose flags the commands define (--yes, --point).
    assert [o.env for o in OPTIONS if o.flag is None] == ["MARIADB_PASSWORD", "MARIADB_HA_RESTORE_YES", "DRILL_POINT"]
    assert "MARIADB_PASSWORD" not in AGENT_ENV_PASSTHROUGH  # a secret must never reach a Job spec
    assert AGENT_ENV_PASSTHROUGH == (
        "CLOUD_PROVIDER", "S3_BUCKET", "AWS_REGION", "GCS_BUCKET", "AZURE_STORAGE_CONTAINER",
        "AZURE_STORAGE_ACCOUNT", "BACKUP_URL", "BACKUP_PREFIX", "BACKUP_FORMAT", "BACKUP_DUMP_THREADS",
        # Physical backups: the method and its knobs (MARIADB_DATADIR is the Job's own mount, set by its spec).
        "BACKUP_METHOD", "BACKUP_FULL_EVERY", "BACKUP_COPY_THREADS", "BACKUP_KEEP_LAST",
        "BACKUP_MAX_AGE_DAYS", "BACKUP_RETRY_SECONDS", "BACKUP_RETRY_ATTEMPTS", "BACKUP_METRICS_PUSHGATEWAY",
        "BACKUP_NOTIFY_URL",
        # Public keys and the lock: a Job needs them to encrypt and retain; identities are never passed.
        "BACKUP_ENCRYPT_RECIPIENTS", "BACKUP_LOCK_DAYS", "BACKUP_LOCK_MODE",
    )
    assert not [name for name in AGENT_ENV_PASSTHROUGH if "IDENTITY" in name]


def test_flags_override_env_once_and_empty_values_count_as_unset():
    values = ConfigValues.merge({"S3_BUCKET": "env", "BACKUP_PREFIX": "", "MARIADB_PASSWORD": ""},
                                {"S3_BUCKET": "flag", "MARIADB_PORT": None})
    assert dict(values) == {"S3_BUCKET": "flag", "MARIADB_PASSWORD": ""}


def test_region_and_account_variables_reach_a_url_given_destination():
    assert load_destination({"BACKUP_URL": "s3://bkt/p", "AWS_REGION": "eu-west-1"}).storage_url == \
        "s3://bkt?region=eu-west-1"
    assert load_destination({"BACKUP_URL": "s3://bkt?region=us-east-1", "AWS_REGION": "eu-west-1"}).storage_url == \
        "s3://bkt?region=us-east-1"
    assert load_destination({"BACKUP_URL": "azblob://cont", "AZURE_STORAGE_ACCOUNT": "acct"}).storage_url == \
        "azblob://cont?account=acct"


def test_each_read_side_loader_needs_only_its_section():
    assert load_retry({}) == RetryPolicy(attempts=5, max_seconds=600.0)
    assert load_retry({"BACKUP_RETRY_ATTEMPTS": "2", "BACKUP_RETRY_SECONDS": "30"}) == RetryPolicy(2, 30.0)
    assert load_destination({"BACKUP_URL": "gs://bucket"}).prefix == "mariadb-ha-backup/default/mariadb"


def test_dump_threads_are_unset_by_default_and_checked():

    base = {"MARIADB_HOST": "h", "BACKUP_URL": "file:///b", "MARIADB_PASSWORD": "pw"}
    assert load_settings(base).dump_threads is None  # unset: one per usable CPU (agent.backup.run)
    assert load_settings({**base, "BACKUP_DUMP_THREADS": "1"}).dump_threads == 1
    with pytest.raises(ConfigError, match="BACKUP_DUMP_THREADS must be between 1 and 64, not 0"):
        load_settings({**base, "BACKUP_DUMP_THREADS": "0"})
