"""The binlog event reader and segment builder against binlogs written by a real mariadbd."""

from __future__ import annotations

import itertools
import re
import subprocess
from pathlib import Path

from shared.binlogs.events import TransactionScanner, read_file_events, transactions_of_file
from shared.binlogs.gtid import Gtid
from shared.binlogs.segments import build_segment
from tests.support.mariadb_server import TestServer

WORKLOAD = """
CREATE DATABASE shop;
CREATE TABLE shop.items (id INT PRIMARY KEY, name TEXT) ENGINE=InnoDB;
INSERT INTO shop.items VALUES (1, 'a'), (2, 'b');
BEGIN; INSERT INTO shop.items VALUES (3, 'c'); UPDATE shop.items SET name = 'z' WHERE id = 1; COMMIT;
BEGIN; INSERT INTO shop.items VALUES (4, 'never'); ROLLBACK;
CREATE TABLE shop.log (line TEXT) ENGINE=MyISAM;
INSERT INTO shop.log VALUES ('non-transactional');
FLUSH BINARY LOGS;
DELETE FROM shop.items WHERE id = 2;
XA START 'two-phase'; INSERT INTO shop.items VALUES (5, 'xa'); XA END 'two-phase'; XA PREPARE 'two-phase';
XA COMMIT 'two-phase';
XA START 'one-phase'; INSERT INTO shop.items VALUES (6, 'xa'); XA END 'one-phase'; XA COMMIT 'one-phase' ONE PHASE;
XA START 'undone'; INSERT INTO shop.items VALUES (7, 'xa'); XA END 'undone'; XA PREPARE 'undone';
XA ROLLBACK 'undone';
INSERT INTO shop.items VALUES (8, 'last');
"""


def decoded_gtids(path: Path) -> list[str]:
    """What mariadb-binlog itself says: the GTID of every event group in the file."""
    text = subprocess.run(["mariadb-binlog", "--no-defaults", str(path)], capture_output=True, check=True).stdout
    return re.findall(r"\tGTID (\d+-\d+-\d+)", text.decode())


def binlog_files(server: TestServer) -> list[Path]:
    assert server.dir is not None
    return sorted((server.dir / "data").glob("bin.[0-9]*"))


def test_transactions_and_gtids_match_the_server_and_mariadb_binlog(binlog_server: TestServer) -> None:
    binlog_server.execute(WORKLOAD)
    files = binlog_files(binlog_server)
    assert len(files) == 2
    found = [t for path in files for t in transactions_of_file(path.read_bytes())]
    assert [str(t.gtid) for t in found] == [g for path in files for g in decoded_gtids(path)]
    assert str(found[-1].gtid) == binlog_server.execute("SELECT @@gtid_binlog_pos").strip()
    # The fixture's two ALTER USER, then 7 + 6 of the workload: the plain ROLLBACK left nothing; each
    # XA PREPARE and its XA COMMIT/ROLLBACK are two groups, the one-phase XA commit one.
    assert [t.gtid.seq_no for t in found] == list(range(1, 16))
    assert all(t.gtid.server_id == 1 and t.gtid.domain_id == 0 for t in found)
    # Transactions tile their file: each starts where the previous ended.
    first_file = list(transactions_of_file(files[0].read_bytes()))
    assert all(a.end == b.start for a, b in itertools.pairwise(first_file))


def test_the_second_file_starts_with_the_state_of_the_first(binlog_server: TestServer) -> None:
    binlog_server.execute(WORKLOAD)
    first, second = binlog_files(binlog_server)
    scanner = TransactionScanner()
    for event in read_file_events(second.read_bytes()):
        scanner.feed(event)
    assert scanner.gtid_list == [list(transactions_of_file(first.read_bytes()))[-1].gtid] == [Gtid(0, 1, 8)]
    assert scanner.checksum  # 10.11 writes CRC32 by default


def test_a_built_segment_decodes_alone_with_verified_checksums(binlog_server: TestServer, tmp_path: Path) -> None:
    binlog_server.execute(WORKLOAD)
    data = binlog_files(binlog_server)[0].read_bytes()
    scanner = TransactionScanner()
    picked = [t for event in read_file_events(data) if (t := scanner.feed(event))][4:7]
    assert scanner.format_description is not None
    segment = tmp_path / "000000000000.binlog"
    segment.write_bytes(build_segment(scanner.format_description, picked))
    decoded = subprocess.run(["mariadb-binlog", "--no-defaults", "--verify-binlog-checksum", str(segment)],
                             capture_output=True, check=True)
    assert b"Warning" not in decoded.stdout + decoded.stderr
    expected = [str(t.gtid) for t in picked]
    assert decoded_gtids(segment) == expected == ["0-1-5", "0-1-6", "0-1-7"]
    assert [str(t.gtid) for t in transactions_of_file(segment.read_bytes())] == expected
