"""The dump parser on real mariadb-dump output of hostile content: exact bytes and the right units."""

from __future__ import annotations

import io

import pytest

from agent.common.dumpfile import Kind, read_units
from tests.support.hostile import HOSTILE_DATABASES, dump_all, load_hostile


@pytest.fixture(scope="module")
def hostile_dump():
    from tests.support.mariadb_server import start_test_server

    server = start_test_server()
    try:
        load_hostile(server)
        yield dump_all(server, "--dump-history")
    finally:
        server.stop()


@pytest.fixture(scope="module")
def units(hostile_dump):
    return list(read_units(io.BytesIO(hostile_dump), batch_bytes=4096))


def test_concatenated_units_are_the_dump_byte_for_byte(hostile_dump, units):
    assert b"".join(u.data for u in units) == hostile_dump


def test_every_database_has_its_create_and_its_views_pass(units):
    created = [u.database for u in units if u.kind is Kind.DATABASE]
    used = [u.database for u in units if u.kind is Kind.USE]

    assert set(HOSTILE_DATABASES) <= set(created)
    assert created == used  # the second pass visits the same databases in the same order


def test_objects_land_in_their_own_database(units):
    found = {(u.kind, u.database, u.name) for u in units}

    assert {
        (Kind.TABLE, "odd`name", "we`ird;table"),
        (Kind.TABLE, "hist", "versioned"),
        (Kind.SEQUENCE, "seqs", "s1"),
        (Kind.SEQUENCE, "seqs", "s2"),
        (Kind.TRIGGER, "innocent", "t_ai"),
        (Kind.ROUTINE, "innocent", "twice"),
        (Kind.ROUTINE, "sp ace;db", "marker_proc"),
        (Kind.VIEW_PLACEHOLDER, "xref", "cross_view"),
        (Kind.VIEW, "xref", "cross_view"),
        (Kind.VIEW, "innocent", "v_ok"),
        (Kind.EVENTS, "xref", None),
    } <= found


def test_marker_text_in_values_and_bodies_never_opens_a_section(units):
    victim = [u for u in units if u.database == "victim"]

    assert [u.kind for u in victim] == [Kind.DATABASE, Kind.TABLE, Kind.DATA_BEGIN, Kind.ROWS, Kind.DATA_END, Kind.USE]
    weird_rows = b"".join(u.data for u in units if u.kind is Kind.ROWS and u.name == "we`ird;table")
    assert b"DELETE FROM rows_kept" in weird_rows
    marker_proc = next(u for u in units if u.name == "marker_proc")
    assert b"-- Current Database: `victim`\n' AS fake_marker" in marker_proc.data


def test_history_rows_and_their_switch_stay_with_the_table(units):
    versioned = [u for u in units if u.database == "hist" and u.name == "versioned"]

    begin, rows, end = (
        b"".join(u.data for u in versioned if u.kind is k) for k in (Kind.DATA_BEGIN, Kind.ROWS, Kind.DATA_END)
    )
    assert b"system_versioning_insert_history=1" in begin
    assert rows.count(b"\n(") + 1 == 4  # 4 row versions: 2 live rows' history + the deleted one
    assert b"@old_system_versioning_insert_history" in end


def test_comments_inside_triggers_and_routines_are_kept(units):
    trigger = next(u for u in units if u.kind is Kind.TRIGGER)
    function = next(u for u in units if u.name == "twice")

    assert b"-- trigger comment line one" in trigger.data
    assert b"-- function comment" in function.data
