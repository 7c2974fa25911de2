"""What a restore must reproduce, object by object, so two restores (or a restore and its source) compare equal.

``fingerprint(server)``: for every user table, view and sequence its ``SHOW CREATE`` and
``AUTO_INCREMENT`` counter, ``CHECKSUM TABLE ... EXTENDED`` of every base table, the state row of every
sequence, and ``SHOW CREATE`` of every routine, trigger and event (without the trigger's creation time,
which differs between any two loads). Works with anything that has ``execute(sql) -> str`` (a
throwaway server, a Galera node).
"""

from __future__ import annotations

from typing import Protocol

from tests.support.mariadb_server import SYSTEM_SCHEMAS


class Executes(Protocol):
    def execute(self, sql: str, *, database: str | None = None) -> str: ...


def quoted(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def rows(server: Executes, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in server.execute(sql).splitlines()]


def fingerprint(server: Executes) -> dict[str, object]:
    """Everything a restore must reproduce, keyed by object; equal dicts = identical restores."""
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    found: dict[str, object] = {}
    tables = rows(server, "SELECT table_schema, table_name, table_type, auto_increment FROM information_schema.tables "
                          f"WHERE table_schema NOT IN ({excluded}) ORDER BY 1, 2")
    for schema, name, kind, auto_increment in tables:
        target = f"{quoted(schema)}.{quoted(name)}"
        show = {"VIEW": "VIEW", "SEQUENCE": "SEQUENCE"}.get(kind, "TABLE")
        found[f"create {target}"] = server.execute(f"SHOW CREATE {show} {target}")
        found[f"auto_increment {target}"] = auto_increment
        if kind == "BASE TABLE":
            found[f"checksum {target}"] = server.execute(f"CHECKSUM TABLE {target} EXTENDED")
        if kind == "SEQUENCE":
            found[f"state {target}"] = server.execute(f"SELECT * FROM {target}")
    objects = [
        ("routines", "routine_schema", "routine_name", "routine_type"),
        ("triggers", "trigger_schema", "trigger_name", "'TRIGGER'"),
        ("events", "event_schema", "event_name", "'EVENT'"),
    ]
    for table, schema_col, name_col, kind_col in objects:
        for schema, name, kind in rows(server, f"SELECT {schema_col}, {name_col}, {kind_col} FROM "
                                               f"information_schema.{table} WHERE {schema_col} NOT IN ({excluded})"):
            created = server.execute(f"SHOW CREATE {kind} {quoted(schema)}.{quoted(name)}")
            # SHOW CREATE TRIGGER ends with the trigger's creation time, which differs between any two loads.
            found[f"{kind} {schema}.{name}"] = created.rsplit("\t", 1)[0] if kind == "TRIGGER" else created
    return found
