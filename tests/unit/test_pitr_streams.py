"""The two stream watchers of point-in-time recovery, on the exact text the MariaDB tools write."""

from __future__ import annotations

import pytest

from agent.pitr.replay import GtidSettingStripper
from shared.binlogs.snapshot import DumpSniffer, SnapshotPositionError

# The shape of mariadb-dump 10.11 --master-data=2 --gtid output (position near the top, GTID at the end).
DUMP = (b"-- MariaDB dump 10.19  Distrib 10.11.19-MariaDB\n"
        b"-- CHANGE MASTER TO MASTER_USE_GTID=slave_pos;\n\n"
        b"-- CHANGE MASTER TO MASTER_LOG_FILE='bin.000002', MASTER_LOG_POS=801;\n"
        + b"INSERT INTO t VALUES (1,'-- SET GLOBAL gtid_slave_pos=''9-9-9'';');\n" * 5000
        + b"-- SET GLOBAL gtid_slave_pos='1-2-7,0-7-5';\n/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;\n"
        b"-- Dump completed on 2026-12-03 12:42:10\n")


@pytest.mark.parametrize("size", [1, 7, 4096, len(DUMP)])
def test_sniffer_finds_both_comments_whatever_the_chunking(size: int) -> None:
    sniffer = DumpSniffer()
    for start in range(0, len(DUMP), size):
        sniffer.feed(DUMP[start:start + size])
    position = sniffer.position(node="db-0", server_id=7)
    assert (position.gtid_state, position.file, position.position) == ("0-7-5,1-2-7", "bin.000002", 801)
    assert (position.node, position.server_id) == ("db-0", 7)


def test_a_restarted_dump_counts_only_its_own_bytes() -> None:
    sniffer = DumpSniffer()
    sniffer.feed(DUMP)
    sniffer.restart()
    sniffer.feed(DUMP[:1000])  # the retried dump died before its end
    with pytest.raises(SnapshotPositionError, match="gtid_slave_pos"):
        sniffer.position(node="db-0", server_id=7)


DECODED = (b"#261203 12:42:07 server id 7  end_log_pos 415 CRC32 0xf5de1244 \tGTID 0-7-4 trans\n"
           b"/*M!100101 SET @@session.skip_parallel_replication=0*//*!*/;\n"
           b"/*M!100001 SET @@session.gtid_domain_id=0*//*!*/;\n"
           b"/*M!100001 SET @@session.server_id=7*//*!*/;\n"
           b"/*M!100001 SET @@session.gtid_seq_no=4*//*!*/;\n"
           b"START TRANSACTION\n/*!*/;\nBINLOG '\nn2MRaxMHAAAALAAAAAACAAAAABIAAAAAAAEAAWQAAXQAAgMPAgoAAlJEQaQ=\n'/*!*/;\n"
           b"COMMIT/*!*/;\n")


@pytest.mark.parametrize("size", [1, 5, 64, len(DECODED)])
def test_stripper_drops_exactly_the_gtid_session_settings(size: int) -> None:
    stripper = GtidSettingStripper()
    out = b"".join(stripper.filter(iter([DECODED[i:i + size] for i in range(0, len(DECODED), size)])))
    dropped = [line for line in DECODED.splitlines() if line not in out.splitlines()]
    assert dropped == [b"/*M!100001 SET @@session.gtid_domain_id=0*//*!*/;",
                       b"/*M!100001 SET @@session.server_id=7*//*!*/;",
                       b"/*M!100001 SET @@session.gtid_seq_no=4*//*!*/;"]
    assert out == DECODED.replace(b"".join(line + b"\n" for line in dropped), b"")
    assert stripper.bytes_out == len(out)
