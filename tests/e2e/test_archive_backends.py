"""``archive-binlogs`` on every storage backend (local dir, moto S3, fake-gcs-server, Azurite): the
segments downloaded from the bucket pass their SHA1, decode with ``mariadb-binlog`` and together hold
exactly the server's transactions. One segment is ~10 MB, past the SDKs' multipart thresholds."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from shared.binlogs.index import iter_history
from shared.binlogs.records import SegmentRecord
from tests.support.binlog_archive import decoded_gtids, server_gtids
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "team/pitr"


def test_archive_lands_complete_on_each_backend(storage_backend, binlog_server: TestServer, tmp_path: Path) -> None:
    binlog_server.execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, body TEXT)")
    binlog_server.execute("INSERT INTO items SELECT seq, REPEAT('x', 2000) FROM seq_1_to_5000", database="shop")
    binlog_server.execute("".join(f"INSERT INTO shop.items VALUES ({10_000 + i}, 'small');" for i in range(20)))
    env = {**storage_backend.agent_env(PREFIX), **binlog_server.agent_env(), "BACKUP_TMPDIR": str(tmp_path)}

    done = run_cli(["archive-binlogs", "--json"], env, timeout=180)

    assert done.returncode == 0, done.stderr
    records = [r for r in iter_history(storage_backend.storage, PREFIX) if isinstance(r, SegmentRecord)]
    archived: list[str] = []
    for record in records:
        with storage_backend.storage.open_read(record.segment) as src:
            data = src.read()
        assert hashlib.sha1(data).hexdigest() == record.sha1 and len(data) == record.size
        path = tmp_path / f"{record.seq}.binlog"
        path.write_bytes(data)
        archived.extend(decoded_gtids(path))
    assert binlog_server.dir is not None
    assert archived == server_gtids(binlog_server.dir / "data")
    assert max(r.size for r in records) > 10_000_000
    assert json.loads(done.stdout)["transactions"] == len(archived)
