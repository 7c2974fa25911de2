"""``sql.gz`` and ``sql.zst``: streamed backups a user can check and load with standard tools only.

Against a real mariadbd and every storage backend: the artifact downloads, ``sha1sum -c`` accepts
its sidecar, ``gzip -d`` / ``pigz -d`` / ``zstd -d`` turn it back into the dump the manifest
describes, and loading that dump with plain ``mariadb`` into a fresh server reproduces the data.
No format touches temp disk: ``tar.gz`` uploads its body while the dump runs and its head last.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from agent.backup.parallel_dump import ParallelPlan
from agent.backup.pipeline import ArtifactUpload, produce
from shared.dump import dump_argv
from shared.formats import artifact_format
from shared.mariadb_client import write_defaults_file
from shared.storage import open_storage
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer, schema_objects, table_checksums

PREFIX = "streaming/db/mariadb-ha"
DECOMPRESSORS = {"sql.gz": [["gzip", "-dc"], ["pigz", "-dc"]], "sql.zst": [["zstd", "-dcq"]]}


def backup(server: TestServer, env: dict[str, str], fmt: str, tmp_path: Path) -> dict:
    spool = tmp_path / "spool"
    spool.mkdir(exist_ok=True)
    done = run_cli(["backup", "--json", "--format", fmt], {**env, **server.agent_env(), "BACKUP_TMPDIR": str(spool)})
    assert done.returncode == 0, done.stderr
    summary: dict = json.loads(done.stdout)
    return summary


def download(storage, key: str, path: Path) -> Path:
    with storage.open_read(key) as stream, open(path, "wb") as out:
        while chunk := stream.read(1 << 20):
            out.write(chunk)
    return path


@pytest.mark.parametrize("fmt", ["sql.gz", "sql.zst"])
def test_streamed_backup_is_checked_and_read_by_standard_tools(storage_backend, sample_server, tmp_path, fmt):
    summary = backup(sample_server, storage_backend.agent_env(PREFIX), fmt, tmp_path)

    folder = tmp_path / "download"
    folder.mkdir()
    name = f"mariadb-ha-backup.{fmt}"
    assert summary["artifact_key"] == f"{PREFIX}/{summary['backup_id']}/{name}"
    download(storage_backend.storage, summary["artifact_key"], folder / name)
    download(storage_backend.storage, summary["sha1_key"], folder / f"{name}.sha1")
    manifest = json.loads(download(storage_backend.storage, summary["manifest_key"], folder / "manifest.json")
                          .read_text())
    check = subprocess.run(["sha1sum", "-c", f"{name}.sha1"], cwd=folder, capture_output=True, text=True)
    assert check.returncode == 0 and check.stdout.strip() == f"{name}: OK"
    assert manifest["format"] == fmt and manifest["artifact"]["sha1"] == summary["sha1"]
    assert manifest["artifact"]["compressed_bytes"] == (folder / name).stat().st_size
    for tool in DECOMPRESSORS[fmt]:
        dump = subprocess.run([*tool, str(folder / name)], capture_output=True, check=True).stdout
        assert len(dump) == manifest["artifact"]["raw_bytes"], tool
        assert b"-- MariaDB dump" in dump[:200] and b"-- Dump completed" in dump[-200:], tool
        assert b"CREATE DATABASE /*!32312 IF NOT EXISTS*/ `shop`" in dump, tool


@pytest.mark.parametrize("fmt", ["sql.gz", "sql.zst"])
def test_decompressed_dump_loads_into_a_fresh_server_identically(sample_server, mariadb_factory, tmp_path, fmt):
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    summary = backup(sample_server, {"BACKUP_URL": f"file://{bucket}", "BACKUP_PREFIX": PREFIX}, fmt, tmp_path)
    artifact = bucket / summary["artifact_key"]
    target = mariadb_factory()

    decompress = subprocess.Popen([*DECOMPRESSORS[fmt][0], str(artifact)], stdout=subprocess.PIPE)
    load = subprocess.run(target.client_argv(), stdin=decompress.stdout, capture_output=True, check=False)
    decompress.wait()

    assert decompress.returncode == 0 and load.returncode == 0, load.stderr
    assert table_checksums(target) == table_checksums(sample_server)
    assert schema_objects(target) == schema_objects(sample_server)


class _DiskWatchingStorage:
    """Local storage that records, while it reads the upload stream, the largest total size of the
    files in the run's temp dir: the temp disk the pipeline needs at its peak."""

    def __init__(self, url: str, run_dir: Path) -> None:
        self._inner = open_storage(url)
        self.url = url
        self._run_dir = run_dir
        self.peak_temp_bytes = 0
        self.temp_files: set[str] = set()

    def put(self, key, stream):
        return self._inner.put(key, self._watched(stream))

    def put_head_last(self, key, body, *, head_size, head):
        return self._inner.put_head_last(key, self._watched(body), head_size=head_size, head=head)

    def _watched(self, stream):
        watched = self

        class Watched:
            def read(self, size=-1):
                data = stream.read(size)
                files = [p for p in watched._run_dir.rglob("*") if p.is_file()]
                watched.temp_files |= {p.name for p in files}
                watched.peak_temp_bytes = max(watched.peak_temp_bytes, sum(p.stat().st_size for p in files))
                return data

        return Watched()

    def __getattr__(self, name):
        return getattr(self._inner, name)


def run_pipeline(server: TestServer, tmp_path: Path, fmt: str,
                 threads: int = 1) -> tuple[_DiskWatchingStorage, int]:
    run_dir = tmp_path / "run"
    run_dir.mkdir(mode=0o700)
    defaults = write_defaults_file(run_dir, host=server.host, port=server.port, user="root", password=server.password)
    (tmp_path / "bucket").mkdir()
    storage = _DiskWatchingStorage(f"file://{tmp_path / 'bucket'}", run_dir)
    # A parallel dump with every keyed table split and 2 MiB for all sessions' buffers: they block often.
    parallel = ParallelPlan(argv=dump_argv, defaults_file=defaults, threads=threads, split_bytes=0,
                            parts_memory_bytes=2 << 20) if threads > 1 else None
    upload = ArtifactUpload(dump_argv=dump_argv(defaults), run_dir=run_dir, storage=storage,
                            key=f"b/artifact.{fmt}", mtime=0, progress=lambda n: None, parallel=parallel)
    result = produce(upload, artifact_format(fmt))
    return storage, result.compressed_bytes


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.gz", "sql.zst"])
def test_no_format_writes_anything_to_temp_disk(sample_server, tmp_path, fmt):
    storage, compressed = run_pipeline(sample_server, tmp_path, fmt)

    assert compressed > 1_000_000  # the sample dump really went through
    assert storage.temp_files <= {"client.cnf", "dump.err"}
    assert storage.peak_temp_bytes == os.path.getsize(tmp_path / "run" / "client.cnf")


@pytest.mark.parametrize("fmt", ["tar.gz", "sql.zst"])
def test_a_parallel_dump_writes_nothing_to_temp_disk_either(sample_server, tmp_path, fmt):
    storage, compressed = run_pipeline(sample_server, tmp_path, fmt, threads=2)

    assert compressed > 1_000_000
    # Only the sessions' option files and error logs: no part of the dump is spooled.
    assert all(name.endswith((".cnf", ".err")) for name in storage.temp_files), storage.temp_files
    assert any(name.startswith("split-") for name in storage.temp_files)  # tables were split among sessions
    assert storage.peak_temp_bytes < 64 << 10
