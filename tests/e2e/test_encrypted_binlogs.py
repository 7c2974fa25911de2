"""``archive-binlogs`` with BACKUP_ENCRYPT_RECIPIENTS: every segment is stored as an age file
(``<seq>.binlog.age``) that the reference ``age`` CLI decrypts into a binlog ``mariadb-binlog`` decodes;
the index record's SHA1 and size are those of the stored bytes and it names the layer; no segment
holds the binlog in clear."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from shared.binlogs.layout import BINLOG_MAGIC
from shared.binlogs.records import SegmentRecord
from shared.binlogs.segments import segment_plaintext
from shared.encryption import IdentityMissingError
from shared.encryption.keys import parse_identities
from tests.support.agent_runs import env_for
from tests.support.binlog_archive import decoded_gtids, history, server_gtids
from tests.support.cli import run_cli
from tests.support.mariadb_server import TestServer

PREFIX = "pitr/enc"


def test_segments_are_encrypted_and_the_age_cli_reads_them(binlog_server: TestServer, tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run(["age-keygen", "-y", str(key)], check=True, capture_output=True, text=True).stdout
    bucket = tmp_path / "bucket"
    bucket.mkdir()
    binlog_server.execute("CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, body TEXT);"
                          + "".join(f"INSERT INTO shop.items VALUES ({i}, 'secret row {i}');" for i in range(20)))
    env = env_for(binlog_server, bucket, tmp_path, BACKUP_PREFIX=PREFIX, BACKUP_ENCRYPT_RECIPIENTS=recipient.strip())

    done = run_cli(["archive-binlogs", "--json"], env, timeout=120)

    assert done.returncode == 0, done.stderr
    segments = [r for r in history(bucket, PREFIX) if isinstance(r, SegmentRecord)]
    assert segments and json.loads(done.stdout)["segments"] == len(segments)
    gtids: list[str] = []
    for record in segments:
        stored = (bucket / record.segment).read_bytes()
        plain = tmp_path / f"{record.seq}.binlog"
        decrypted = subprocess.run(["age", "-d", "-i", str(key), "-o", str(plain), str(bucket / record.segment)])
        assert record.segment.endswith(".binlog.age") and record.layers == ["age"]
        assert (hashlib.sha1(stored).hexdigest(), len(stored)) == (record.sha1, record.size)
        assert not stored.startswith(BINLOG_MAGIC) and b"secret row" not in stored
        assert decrypted.returncode == 0 and plain.read_bytes().startswith(BINLOG_MAGIC)
        assert segment_plaintext(stored, record, identities=parse_identities(key.read_text(), source="k")) == \
            plain.read_bytes()
        gtids += decoded_gtids(plain)
    assert gtids == server_gtids(binlog_server.dir / "data")  # type: ignore[operator]
    with pytest.raises(IdentityMissingError, match="is encrypted: set BACKUP_DECRYPT_IDENTITY_FILE"):
        segment_plaintext(stored, record)
