"""Chains of physical backups on a real (local) bucket: walking them, choosing the next parent, and
retention that never breaks a chain a kept backup needs. Plus the physical settings and the mbstream reader."""

from __future__ import annotations

import re
import struct
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from agent.common.catalog import scan_backups
from agent.common.chains import BrokenChainError, chain_of, complete_by_id, parent_for_incremental
from agent.retention.backups import apply_retention
from shared.config import ConfigError, load_format, load_method
from shared.mbstream import MbstreamError, MbstreamSniffer
from shared.storage import Storage
from tests.support.backups import store_backup
from tests.support.physical import local_bucket, store_physical

NOW = datetime(2024, 6, 1, 0, 0, 0, tzinfo=UTC)


def days_ago(n: float) -> datetime:
    return NOW - timedelta(days=n)


@pytest.fixture
def bucket(tmp_path) -> Storage:
    return local_bucket(tmp_path)


def backups(storage: Storage) -> dict:
    return complete_by_id(e.manifest for e in scan_backups(storage, prefix="p") if e.manifest is not None)


def a_chain(bucket: Storage, tmp_path, *, start_days: float, links: int) -> list[str]:
    full = store_physical(bucket, prefix="p", started=days_ago(start_days), tmp=tmp_path, lsns=(0, 100))
    made, parent, lsn = [full], full, 100
    for n in range(links):
        parent = store_physical(bucket, prefix="p", started=days_ago(start_days - n - 1), tmp=tmp_path,
                                parent=parent, lsns=(lsn, lsn + 50))
        made.append(parent)
        lsn += 50
    return [k.backup_id for k in made]


def test_a_chain_is_its_full_then_each_incremental_in_order(bucket, tmp_path):
    made = a_chain(bucket, tmp_path, start_days=3, links=2)
    found = backups(bucket)

    assert [m.id for m in chain_of(found[made[-1]], found)] == made
    assert [m.id for m in chain_of(found[made[0]], found)] == made[:1]


def test_a_missing_middle_link_breaks_the_chain_and_names_it(bucket, tmp_path):
    made = a_chain(bucket, tmp_path, start_days=3, links=2)
    found = backups(bucket)
    del found[made[1]]

    with pytest.raises(BrokenChainError, match=f"needs backup {made[1]}, which is missing"):
        chain_of(found[made[2]], found)


def test_an_incremental_that_does_not_start_where_its_parent_ends_is_refused(bucket, tmp_path):
    full = store_physical(bucket, prefix="p", started=days_ago(2), tmp=tmp_path, lsns=(0, 100))
    wrong = store_physical(bucket, prefix="p", started=days_ago(1), tmp=tmp_path, parent=full, lsns=(90, 150))
    found = backups(bucket)

    with pytest.raises(BrokenChainError, match=r"starts at LSN 90 but its parent .* ends at 100"):
        chain_of(found[wrong.backup_id], found)


def test_full_every_builds_on_the_newest_link_until_the_full_is_too_old(bucket, tmp_path):
    made = a_chain(bucket, tmp_path, start_days=3, links=1)
    found = backups(bucket)

    assert parent_for_incremental(found, now=NOW, full_every=timedelta(days=7), forced=False).id == made[-1]
    assert parent_for_incremental(found, now=NOW, full_every=timedelta(days=2), forced=False) is None
    assert parent_for_incremental(found, now=NOW, full_every=None, forced=False) is None
    assert parent_for_incremental(found, now=NOW, full_every=timedelta(days=2), forced=True).id == made[-1]


def test_a_broken_newest_chain_starts_a_new_full_unless_incremental_is_forced(bucket, tmp_path):
    made = a_chain(bucket, tmp_path, start_days=3, links=2)
    found = backups(bucket)
    del found[made[1]]

    assert parent_for_incremental(found, now=NOW, full_every=timedelta(days=7), forced=False) is None
    with pytest.raises(BrokenChainError):
        parent_for_incremental(found, now=NOW, full_every=None, forced=True)
    with pytest.raises(BrokenChainError, match="no physical backup to build on"):
        parent_for_incremental({}, now=NOW, full_every=None, forced=True)


def test_retention_keeps_every_link_a_kept_incremental_needs(bucket, tmp_path):
    made = a_chain(bucket, tmp_path, start_days=5, links=3)

    deleted = apply_retention(bucket, prefix="p", keep_last=1, max_age_days=None, now=NOW)

    assert deleted == []
    assert sorted(backups(bucket)) == sorted(made)


def test_retention_deletes_an_old_chain_whole_once_nothing_needs_it(bucket, tmp_path):
    old = a_chain(bucket, tmp_path, start_days=20, links=2)
    new = a_chain(bucket, tmp_path, start_days=5, links=2)
    logical = store_backup(bucket, prefix="p", started=days_ago(10), tmp=tmp_path).backup_id

    deleted = apply_retention(bucket, prefix="p", keep_last=2, max_age_days=None, now=NOW)

    assert sorted(deleted) == sorted([*old, logical])
    assert sorted(backups(bucket)) == sorted(new)


def test_method_settings_and_their_one_line_errors():
    assert load_method({}).physical is False
    physical = load_method({"BACKUP_METHOD": "physical", "BACKUP_FULL_EVERY": "7d", "BACKUP_COPY_THREADS": "4"})
    assert (physical.full_every, physical.copy_threads) == (timedelta(days=7), 4)
    assert load_format({}, physical=True).name == "mbstream.zst"
    with pytest.raises(ConfigError, match="BACKUP_METHOD must be one of logical, physical, not 'xtra'"):
        load_method({"BACKUP_METHOD": "xtra"})
    with pytest.raises(ConfigError, match=re.escape("BACKUP_FULL_EVERY (--full-every) applies to BACKUP_METHOD=phys")):
        load_method({"BACKUP_FULL_EVERY": "7d"})
    with pytest.raises(ConfigError, match="BACKUP_FULL_EVERY must be a positive duration"):
        load_method({"BACKUP_METHOD": "physical", "BACKUP_FULL_EVERY": "weekly"})
    with pytest.raises(ConfigError, match=r"BACKUP_FORMAT .* applies to logical backups"):
        load_format({"BACKUP_FORMAT": "sql.zst"}, physical=True)


def chunk(path: str, payload: bytes | None, *, crc: int | None = None) -> bytes:
    """One mbstream chunk as mariadb-backup writes it (``None``: the file's end chunk)."""
    name = path.encode()
    if payload is None:
        return b"XBSTCK01" + bytes([0, ord("E")]) + struct.pack("<I", len(name)) + name
    checksum = zlib.crc32(payload) if crc is None else crc
    return (b"XBSTCK01" + bytes([0, ord("P")]) + struct.pack("<I", len(name)) + name
            + struct.pack("<QQI", len(payload), 0, checksum) + payload)


def test_the_mbstream_reader_keeps_the_info_files_in_any_chunking():
    stream = (chunk("ibdata1", b"\0" * 5000) + chunk("ibdata1", None)
              + chunk("xtrabackup_binlog_info", b"bin.000002\t1234\t0-1-42\n") + chunk("xtrabackup_binlog_info", None))
    for size in (1, 7, 4096, len(stream)):
        sniffer = MbstreamSniffer(check=True)
        for start in range(0, len(stream), size):
            sniffer.feed(stream[start:start + size])
        sniffer.finish()
        assert sniffer.first(("mariadb_backup_binlog_info", "xtrabackup_binlog_info")) == "bin.000002\t1234\t0-1-42"
        assert (sniffer.paths, sniffer.chunks) == (2, 4)


def test_the_mbstream_reader_names_truncation_damage_and_foreign_bytes():
    good = chunk("a", b"x" * 100) + chunk("a", None)
    truncated = MbstreamSniffer()
    truncated.feed(good[:-3])
    with pytest.raises(MbstreamError, match="truncated"):
        truncated.finish()
    with pytest.raises(MbstreamError, match="fails its CRC32 check"):
        MbstreamSniffer(check=True).feed(chunk("a", b"x" * 100, crc=1))
    with pytest.raises(MbstreamError, match="does not start with XBSTCK01"):
        MbstreamSniffer().feed(b"-- MariaDB dump 10.19\n" * 3)
