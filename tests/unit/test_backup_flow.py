"""The whole backup flow in-process, on local storage, in milliseconds: the dump command is a seam.

``run_backup`` takes a ``DumpCommand``; here it is ``cat`` of a known SQL file (a real child process
through the real pipeline) and a fixed server description. What a user would check is checked: the
folder passes ``sha1sum -c``, the archive holds the seed's single tar member with the dump, the
manifest describes the artifact, and nothing is left in the temp dir. A dump that keeps losing its
connection is retried per BACKUP_RETRY_ATTEMPTS and leaves no backup behind.
"""

from __future__ import annotations

import io
import logging
import subprocess
import tarfile
import types
from pathlib import Path

import pytest

from agent.backup.dumpable import NO_CHANGES
from agent.backup.fidelity import ServerExtras
from agent.backup.run import DumpCommand, run_backup
from shared.compression import open_decompressor
from shared.config import load_settings
from shared.formats import DUMP_FORMATS, TAR, artifact_format
from shared.manifest import Inventory, Manifest
from shared.mariadb_client import ClientConnectionError
from shared.server_info import ServerInfo
from tests.support.backups import SQL

SERVER = ServerInfo(version="10.11.0-MariaDB", hostname="node-0", gtid_binlog_pos="0-1-42", galera=None,
                    inventory=Inventory(databases=["shop"], tables=["shop.t"]))


@pytest.fixture(autouse=True)
def no_backoff_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    import tenacity.nap

    monkeypatch.setattr(tenacity.nap, "time", types.SimpleNamespace(sleep=lambda _seconds: None))


def cat_dump(tmp_path: Path) -> DumpCommand:
    sql_file = tmp_path / "source.sql"
    sql_file.write_bytes(SQL)
    return DumpCommand(argv=lambda defaults: ["cat", str(sql_file)], inspect=lambda defaults: SERVER, parallel=False,
                       extras=lambda defaults, info: ServerExtras(),
                       plan=lambda defaults: NO_CHANGES)


def env_for(tmp_path: Path, **extra: str) -> dict[str, str]:
    for name in ("bucket", "spool"):
        (tmp_path / name).mkdir(exist_ok=True)
    return {"BACKUP_URL": f"file://{tmp_path / 'bucket'}", "BACKUP_PREFIX": "team/db", "MARIADB_HOST": "db",
            "MARIADB_PASSWORD": "flow-test-password", "BACKUP_TMPDIR": str(tmp_path / "spool"), **extra}


def dump_inside(stored: bytes, fmt: str) -> bytes:
    spec = artifact_format(fmt)
    if spec.reading == TAR:
        with tarfile.open(fileobj=io.BytesIO(stored), mode="r:gz") as archive:
            assert archive.getnames() == [spec.tar_member]
            member = archive.extractfile(spec.tar_member)
            assert member is not None
            return member.read()
    return open_decompressor(spec.codec, io.BytesIO(stored)).read()


@pytest.mark.parametrize("fmt", DUMP_FORMATS)
def test_a_backup_runs_end_to_end_in_process(tmp_path: Path, fmt: str) -> None:
    result = run_backup(load_settings(env_for(tmp_path, BACKUP_FORMAT=fmt)), dump=cat_dump(tmp_path))

    folder = tmp_path / "bucket" / "team" / "db" / result.backup_id
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [f"mariadb-ha-backup.{fmt}", f"mariadb-ha-backup.{fmt}.sha1", "manifest.json"])
    checked = subprocess.run(["sha1sum", "-c", f"mariadb-ha-backup.{fmt}.sha1"], cwd=folder, capture_output=True,
                             text=True, check=False)
    assert checked.returncode == 0 and checked.stdout == f"mariadb-ha-backup.{fmt}: OK\n"
    stored = (folder / f"mariadb-ha-backup.{fmt}").read_bytes()
    assert dump_inside(stored, fmt) == SQL
    manifest = Manifest.from_json((folder / "manifest.json").read_bytes())
    assert (manifest.format, manifest.artifact.sha1, manifest.artifact.raw_bytes) == (fmt, result.sha1, len(SQL))
    assert manifest.artifact.compressed_bytes == len(stored) == result.compressed_bytes
    assert manifest.source.gtid_binlog_pos == "0-1-42" and manifest.inventory.databases == ["shop"]
    assert list((tmp_path / "spool").iterdir()) == []


def test_a_dump_that_keeps_losing_its_connection_leaves_no_backup(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lost = "echo 'mariadb-dump: Got error: 2013: Lost connection to server during query' >&2; exit 2"
    dump = DumpCommand(argv=lambda defaults: ["sh", "-c", lost], inspect=lambda defaults: SERVER, parallel=False,
                       extras=lambda defaults, info: ServerExtras(),
                       plan=lambda defaults: NO_CHANGES)
    caplog.set_level(logging.WARNING, logger="mariadb_ha_backup.backup")

    with pytest.raises(ClientConnectionError):
        run_backup(load_settings(env_for(tmp_path, BACKUP_RETRY_ATTEMPTS="2")), dump=dump)

    assert ["mariadb-dump failed (attempt 1 of 2)" in r.getMessage() for r in caplog.records] == [True]
    assert [p for p in (tmp_path / "bucket").rglob("*") if p.is_file()] == []
    assert list((tmp_path / "spool").iterdir()) == []
