"""The restore drill fails on each kind of loss, even when every checksum was made to match.

Each test takes the hostile backup, changes its dump the way a loss would (rows gone, history gone,
a sequence or a trigger gone) or drops its accounts file, repacks it with consistent SHA1s, and runs
``verify --restore-test``: it must exit 1 and name what is missing.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.common.dumpfile import Kind, Unit, read_units
from agent.verify.unpacking import open_dump
from shared.layout import sha1_sidecar_text
from shared.manifest import Manifest
from shared.storage import open_storage
from tests.support.agent_runs import env_for
from tests.support.backups import targz_bytes
from tests.support.cli import run_cli
from tests.support.hostile import load_hostile

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    from tests.support.mariadb_server import start_test_server

    server = start_test_server()
    try:
        load_hostile(server)
        tmp = tmp_path_factory.mktemp("losses")
        (tmp / "bucket").mkdir()
        done = run_cli(["backup", "--json"], env_for(server, tmp / "bucket", tmp))
        assert done.returncode == 0, done.stderr
        yield tmp / "bucket", json.loads(done.stdout)
    finally:
        server.stop()


@pytest.fixture
def tampered(pristine):
    """(tamper(transform, drop_accounts=False), run the drill, env): on a private copy of the backup."""
    bucket, summary = pristine
    work = Path(tempfile.mkdtemp(prefix="loss-", dir="/tmp"))  # short: the drill's socket lives below
    shutil.copytree(bucket, work / "bucket")
    env = {"BACKUP_URL": f"file://{work / 'bucket'}", "BACKUP_PREFIX": summary["manifest_key"].rsplit("/", 2)[0],
           "BACKUP_TMPDIR": str(work)}
    storage = open_storage(env["BACKUP_URL"])

    def tamper(transform: Callable[[Unit], bytes | None] = lambda u: u.data, *, drop_accounts: bool = False) -> None:
        with storage.open_read(summary["manifest_key"]) as stream:
            manifest = Manifest.from_json(stream.read(), key=summary["manifest_key"])
        with open_dump(storage, manifest) as dump:
            sql = b"".join(d for u in read_units(dump) if (d := transform(u)) is not None)
        archive = targz_bytes(sql)
        sha1 = hashlib.sha1(archive).hexdigest()
        storage.put(summary["artifact_key"], io.BytesIO(archive))
        storage.put(summary["sha1_key"], io.BytesIO(sha1_sidecar_text(sha1, "mariadb-ha-backup.tar.gz")))
        patched = json.loads(manifest.to_json())
        patched["artifact"].update(sha1=sha1, compressed_bytes=len(archive), raw_bytes=len(sql))
        if drop_accounts:
            patched["accounts"] = None
        storage.put(summary["manifest_key"], io.BytesIO(json.dumps(patched).encode()))

    yield tamper, lambda: run_cli(["verify", "--latest", "--restore-test"], env), env
    shutil.rmtree(work, ignore_errors=True)


def without(kind: Kind, database: str, name: str | None) -> Callable[[Unit], bytes | None]:
    return lambda u: None if (u.kind, u.database, u.name) == (kind, database, name) else u.data


def only_current_versions(unit: Unit) -> bytes:
    """hist.versioned's INSERT with its history rows (ROW_END before the end of time) left out."""
    if (unit.kind, unit.database, unit.name) != (Kind.ROWS, "hist", "versioned"):
        return unit.data
    head, rows = unit.data.split(b" VALUES ", 1)
    current = [row for row in rows.rstrip(b";\n").split(b",\n") if b"2038-01-19 03:14:07.999999" in row]
    return head + b" VALUES " + b",\n".join(current) + b";\n"


def test_the_untampered_copy_passes(tampered):
    tamper, drill, _ = tampered
    tamper()

    done = drill()

    assert done.returncode == 0, done.stderr


def test_lost_rows_fail_the_drill(tampered):
    tamper, drill, _ = tampered
    tamper(without(Kind.ROWS, "victim", "rows_kept"))

    done = drill()

    assert done.returncode == 1
    assert "victim.rows_kept: 0 rows after restore, the backup holds 3" in done.stderr


def test_lost_history_fails_the_drill(tampered):
    tamper, drill, _ = tampered
    tamper(only_current_versions)

    done = drill()

    assert done.returncode == 1
    assert "hist.versioned: 1 rows after restore, the backup holds 4" in done.stderr


def test_a_lost_sequence_and_trigger_fail_the_drill(tampered):
    tamper, drill, _ = tampered
    tamper(lambda u: None if (u.kind, u.name) in ((Kind.SEQUENCE, "s1"), (Kind.TRIGGER, "t_ai")) else u.data)

    done = drill()

    assert done.returncode == 1
    assert "sequences missing after restore: seqs.s1" in done.stderr
    assert "triggers missing after restore: innocent.t_ai" in done.stderr


def test_lost_accounts_fail_the_drill_on_the_definer(tampered):
    tamper, drill, _ = tampered
    tamper(drop_accounts=True)

    done = drill()

    assert done.returncode == 1
    assert "The user specified as a definer ('definer'@'localhost') does not exist" in done.stderr



def test_a_changed_accounts_file_fails_verify(tampered):
    tamper, _, env = tampered
    tamper()
    accounts = next(Path(env["BACKUP_URL"][len("file://"):]).rglob("accounts.sql"))
    accounts.write_bytes(accounts.read_bytes().replace(b"CREATE USER", b"CREATE USER /* changed */"))

    done = run_cli(["verify", "--latest"], env)

    assert done.returncode == 1
    assert "accounts.sql is " in done.stdout and "the manifest says" in done.stdout
