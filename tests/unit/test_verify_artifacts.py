"""``verify`` on artifacts built exactly as the backup builds them (shared.tarball / shared.compression),
stored in a local bucket: intact ones pass in every format; each kind of damage is named."""

from __future__ import annotations

import hashlib
import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.verify.integrity import raise_if_failed, verify_backup
from agent.verify.unpacking import check_artifact
from shared.errors import VerifyFailedError
from shared.formats import DUMP_TAR_MEMBER as TAR_MEMBER
from shared.layout import BackupKeys, backup_id_at, sha1_sidecar_text
from shared.manifest import Manifest
from shared.storage import Storage, open_storage
from tests.support.backups import SQL, artifact_bytes, make_manifest, store_backup


def read_manifest(storage: Storage, keys: BackupKeys) -> Manifest:
    with storage.open_read(keys.manifest) as stream:
        return Manifest.from_json(stream.read(), key=keys.manifest)


def rewrite(storage: Storage, key: str, change) -> None:
    with storage.open_read(key) as stream:
        data = bytearray(stream.read())
    storage.put(key, io.BytesIO(bytes(change(data))))


@pytest.fixture
def bucket(tmp_path: Path) -> Storage:
    (tmp_path / "bucket").mkdir()
    return open_storage(f"file://{tmp_path / 'bucket'}")


NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_intact_backup_passes_in_every_format(bucket, tmp_path, fmt):
    keys = store_backup(bucket, prefix="p", started=NOW, fmt=fmt, tmp=tmp_path)

    report = verify_backup(bucket, read_manifest(bucket, keys))

    assert report.problems == ()
    assert report.raw_bytes == len(SQL)
    assert report.sha1 == read_manifest(bucket, keys).artifact.sha1
    raise_if_failed(report)  # does not raise


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_one_flipped_byte_is_named_as_a_sha1_mismatch(bucket, tmp_path, fmt):
    keys = store_backup(bucket, prefix="p", started=NOW, fmt=fmt, tmp=tmp_path)

    def flip(data: bytearray) -> bytearray:
        data[len(data) // 2] ^= 0x01
        return data

    rewrite(bucket, keys.artifact, flip)
    report = verify_backup(bucket, read_manifest(bucket, keys))

    text = "; ".join(report.problems)
    assert f"SHA1 of {keys.artifact_name} is" in text
    assert "the manifest says" in text and "the .sha1 sidecar says" in text
    with pytest.raises(VerifyFailedError, match="failed verification"):
        raise_if_failed(report)


def test_truncated_archive_names_the_size_and_the_damage(bucket, tmp_path):
    keys = store_backup(bucket, prefix="p", started=NOW, tmp=tmp_path)
    rewrite(bucket, keys.artifact, lambda data: data[: len(data) - 300])

    problems = verify_backup(bucket, read_manifest(bucket, keys)).problems

    assert any("is not readable" in p for p in problems), problems
    assert any("stored size is" in p and "the manifest says" in p for p in problems), problems


def test_sidecar_that_disagrees_is_named_while_the_manifest_agrees(bucket, tmp_path):
    keys = store_backup(bucket, prefix="p", started=NOW, tmp=tmp_path)
    bucket.put(keys.sha1, io.BytesIO(sha1_sidecar_text("0" * 40, keys.artifact_name)))

    problems = verify_backup(bucket, read_manifest(bucket, keys)).problems

    assert len(problems) == 1
    assert "the .sha1 sidecar says 0000000000000000000000000000000000000000" in problems[0]


def test_missing_or_malformed_sidecar_is_reported(bucket, tmp_path):
    keys = store_backup(bucket, prefix="p", started=NOW, tmp=tmp_path)
    bucket.delete(keys.sha1)
    assert verify_backup(bucket, read_manifest(bucket, keys)).problems == (f"the .sha1 sidecar {keys.sha1} is missing",)

    bucket.put(keys.sha1, io.BytesIO(b"not a checksum\n"))
    assert "not in sha1sum format" in verify_backup(bucket, read_manifest(bucket, keys)).problems[0]


def test_unexpected_tar_member_is_named(bucket, tmp_path):
    keys = BackupKeys(prefix="p", backup_id=backup_id_at(NOW), format="tar.gz")
    data = artifact_bytes("tar.gz", SQL, tmp_path, member="other/dump.sql")
    bucket.put(keys.artifact, io.BytesIO(data))
    manifest = make_manifest(keys, sha1=hashlib.sha1(data).hexdigest(), stored=len(data), raw=len(SQL),
                             started=NOW)

    report = check_artifact(bucket, manifest)

    assert report.problems == [f"the tar member is 'other/dump.sql', expected {TAR_MEMBER!r}"]


def test_manifest_sizes_that_disagree_are_named(bucket, tmp_path):
    keys = store_backup(bucket, prefix="p", started=NOW, fmt="sql.zst", tmp=tmp_path)
    good = read_manifest(bucket, keys)
    wrong = Manifest.from_json(good.to_json().replace(f'"raw_bytes": {len(SQL)}'.encode(), b'"raw_bytes": 5'),
                               key=keys.manifest)

    problems = check_artifact(bucket, wrong).problems

    assert problems == [f"the dump inside is {len(SQL):,} bytes, the manifest says 5"]
