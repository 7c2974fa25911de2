"""The format table drives naming, configuration and reading back; a layer only adds a suffix to the name."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest

from shared.config import ConfigError, load_format
from shared.formats import DUMP_FORMATS, Layer, UnknownFormatError, artifact_format
from shared.layout import BackupKeys
from tests.support.backups import SQL, artifact_bytes


def test_every_dump_format_is_a_backup_format_setting_and_names_its_object() -> None:
    assert DUMP_FORMATS == ("tar.gz", "sql.gz", "sql.zst")
    for name in DUMP_FORMATS:
        assert load_format({"BACKUP_FORMAT": name}) is artifact_format(name)
        keys = BackupKeys(prefix="p", backup_id="20240101T000000Z", format=name)
        assert keys.artifact == f"p/20240101T000000Z/mariadb-ha-backup.{name}"
    with pytest.raises(ConfigError, match=re.escape("BACKUP_FORMAT must be one of tar.gz, sql.gz, sql.zst, not 'zip'")):
        load_format({"BACKUP_FORMAT": "zip"})


def test_a_layer_appends_its_suffix_to_the_stored_name() -> None:
    age = Layer(name="age", suffix=".age")
    assert artifact_format("tar.gz").stored_name((age,)) == "mariadb-ha-backup.tar.gz.age"


def test_the_tar_row_is_read_back_by_standard_tar(tmp_path: Path) -> None:
    spec = artifact_format("tar.gz")
    (tmp_path / spec.artifact_name).write_bytes(artifact_bytes("tar.gz", SQL, tmp_path))
    with tarfile.open(tmp_path / spec.artifact_name) as archive:
        assert archive.getnames() == [spec.tar_member]
        assert archive.extractfile(spec.tar_member).read() == SQL  # type: ignore[arg-type,union-attr]


def test_an_unknown_format_is_named() -> None:
    with pytest.raises(UnknownFormatError, match=re.escape("unknown artifact format 'tar.xz'")):
        artifact_format("tar.xz")
