"""Object-by-object snapshots of a server, to compare a restored server with its source.

Keys name one object and what was read from it: ``create`` (SHOW CREATE, with AUTO_INCREMENT for
tables), ``checksum`` (CHECKSUM TABLE ... EXTENDED), ``history`` (every row version with ROW_START and
ROW_END), ``sequence`` (the sequence's state row), ``grants`` (SHOW GRANTS), ``runs`` (a view's rows).
"""

from __future__ import annotations

from agent.drill.throwaway_server import ThrowawayServer

SYSTEM = "('mysql','information_schema','performance_schema','sys')"


def _q(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _rows(server: ThrowawayServer, sql: str) -> list[list[str]]:
    return [line.split("\t") for line in server.execute(sql).splitlines()]


def _objects(server: ThrowawayServer, databases: list[str] | None) -> list[list[str]]:
    where = "" if databases is None else " AND s IN (" + ",".join("'" + d.replace("'", "''") + "'" for d in databases) + ")"
    return _rows(server, f"""
        SELECT * FROM (
          SELECT CASE table_type WHEN 'VIEW' THEN 'VIEW' WHEN 'SEQUENCE' THEN 'SEQUENCE' ELSE 'TABLE' END k,
                 table_schema s, table_name n, table_type t FROM information_schema.tables
          UNION ALL SELECT routine_type, routine_schema, routine_name, '' FROM information_schema.routines
          UNION ALL SELECT 'TRIGGER', trigger_schema, trigger_name, '' FROM information_schema.triggers
          UNION ALL SELECT 'EVENT', event_schema, event_name, '' FROM information_schema.events) o
        WHERE s NOT IN {SYSTEM}{where} ORDER BY 1, 2, 3""")


def snapshot(server: ThrowawayServer, databases: list[str] | None = None) -> dict[tuple[str, str], str]:
    found: dict[tuple[str, str], str] = {}
    for kind, schema, name, table_type in _objects(server, databases):
        qualified = f"{_q(schema)}.{_q(name)}"
        key = f"{schema}.{name}"
        created = server.execute(f"SHOW CREATE {kind} {qualified}")
        # A trigger's "Created" time is when it was created on this server: the dump cannot carry it.
        found[("create", f"{kind} {key}")] = created.rsplit("\t", 1)[0] if kind == "TRIGGER" else created
        if kind == "TABLE":
            found[("checksum", key)] = server.execute(f"CHECKSUM TABLE {qualified} EXTENDED").split("\t")[-1]
        if table_type == "SYSTEM VERSIONED":
            # Sorted here: rows written by one statement share ROW_START/ROW_END, so no ORDER BY is total.
            versions = server.execute(f"SELECT *, ROW_START, ROW_END FROM {qualified} FOR SYSTEM_TIME ALL")
            found[("history", key)] = "\n".join(sorted(versions.splitlines()))
        if kind == "SEQUENCE":
            found[("sequence", key)] = server.execute(f"SELECT * FROM {qualified}")
        if kind == "VIEW":
            found[("runs", key)] = server.execute(f"SELECT * FROM {qualified}")
    for user, host in _rows(server, "SELECT user, host FROM mysql.user WHERE user NOT IN ('root', 'mariadb.sys')"):
        account = f"{_q(user)}@{_q(host)}" if host else _q(user)
        found[("grants", account)] = server.execute(f"SHOW GRANTS FOR {account}")
    return found


def differences(source: dict, restored: dict) -> dict:
    """{key: (source value, restored value)} for every key whose values differ or exist on one side only."""
    return {k: (source.get(k), restored.get(k)) for k in sorted(set(source) | set(restored)) if source.get(k) != restored.get(k)}
