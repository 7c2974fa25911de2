"""What the manifest records about the source: server, Galera state, GTID position, schema inventory.

Asked with the ``mariadb`` client through the same defaults file as the dump, just before it. This
is also the preflight: wrong credentials fail here (exit 2) before anything is spooled, and a Galera
node that is not Synced is treated like a lost connection, so the retry reaches a healthy node.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shared.manifest import Inventory
from shared.mariadb_client import ClientConnectionError, run_client_query

SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")
_GALERA_STATUS = (
    "wsrep_cluster_size",
    "wsrep_cluster_state_uuid",
    "wsrep_cluster_status",
    "wsrep_local_state_comment",
    "wsrep_ready",
    "wsrep_connected",
)
_GALERA_VARIABLES = ("wsrep_on", "wsrep_node_name", "wsrep_cluster_name")


class NodeNotReadyError(ClientConnectionError):
    """A Galera node that is not Synced/ready: dumping it could block or read stale data; retry."""


@dataclass(frozen=True)
class ServerInfo:
    """What the preflight learns about the serving node; the manifest records it as the backup's source."""

    version: str
    hostname: str
    gtid_binlog_pos: str | None
    galera: dict[str, str] | None
    inventory: Inventory
    log_bin: bool = False  # the server writes a binary log: the dump can record its snapshot's position
    server_id: int = 0
    max_allowed_packet: int | None = None
    # The server's estimate of the dumped tables' size (InnoDB's allocated data pages): what a parallel dump
    # may have to hold in the temp dir at worst. None: not known.
    data_bytes: int | None = None


def inspect_server(defaults_file: Path) -> ServerInfo:
    (version, hostname, gtid, log_bin, server_id, packet), *_ = run_client_query(
        defaults_file,
        "SELECT @@version, @@hostname, IFNULL(@@gtid_binlog_pos, ''), @@log_bin, @@server_id, "
        "@@global.max_allowed_packet",
    )
    galera = _galera_state(defaults_file)
    if galera is not None and (
        galera.get("wsrep_ready") != "ON" or galera.get("wsrep_local_state_comment") != "Synced"
    ):
        raise NodeNotReadyError(
            f"Galera node {galera.get('wsrep_node_name', hostname)} is not ready "
            f"(state {galera.get('wsrep_local_state_comment')}, ready {galera.get('wsrep_ready')})"
        )
    return ServerInfo(
        version=version,
        hostname=hostname,
        gtid_binlog_pos=gtid or None,
        log_bin=log_bin == "1",
        server_id=int(server_id),
        galera=galera,
        inventory=read_inventory(defaults_file),
        max_allowed_packet=int(packet),
        data_bytes=_data_bytes(defaults_file),
    )


def _data_bytes(defaults_file: Path) -> int:
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS if s != "mysql")
    ((total,),) = run_client_query(
        defaults_file,
        f"SELECT IFNULL(SUM(data_length), 0) FROM information_schema.tables WHERE table_schema NOT IN ({excluded})",  # noqa: S608  # constant names only
    )
    return int(total)


def _galera_state(defaults_file: Path) -> dict[str, str] | None:
    names = ",".join(f"'{n}'" for n in (*_GALERA_STATUS, *_GALERA_VARIABLES))
    rows = run_client_query(
        defaults_file,
        f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({names}); SHOW GLOBAL STATUS WHERE Variable_name IN ({names});",
    )
    state = {row[0].lower(): row[1] for row in rows if len(row) == 2}
    return state if state.get("wsrep_on") == "ON" else None


def read_inventory(defaults_file: Path) -> Inventory:
    excluded = ",".join(f"'{s}'" for s in SYSTEM_SCHEMAS)
    # Built only from the constant SYSTEM_SCHEMAS above, no user input.
    sql = f"""
        SELECT 'databases', schema_name FROM information_schema.schemata WHERE schema_name NOT IN ({excluded})
        UNION ALL SELECT IF(table_type = 'SEQUENCE', 'sequences', 'tables'), CONCAT(table_schema, '.', table_name)
          FROM information_schema.tables
          WHERE table_type IN ('BASE TABLE', 'SYSTEM VERSIONED', 'SEQUENCE') AND table_schema NOT IN ({excluded})
        UNION ALL SELECT 'views', CONCAT(table_schema, '.', table_name) FROM information_schema.views
          WHERE table_schema NOT IN ({excluded})
        UNION ALL SELECT 'routines', CONCAT(routine_schema, '.', routine_name, ':', routine_type)
          FROM information_schema.routines WHERE routine_schema NOT IN ({excluded})
        UNION ALL SELECT 'triggers', CONCAT(trigger_schema, '.', trigger_name) FROM information_schema.triggers
          WHERE trigger_schema NOT IN ({excluded})
        UNION ALL SELECT 'events', CONCAT(event_schema, '.', event_name) FROM information_schema.events
          WHERE event_schema NOT IN ({excluded})
    """  # noqa: S608
    kinds = ("databases", "tables", "views", "routines", "triggers", "events", "sequences")
    found: dict[str, list[str]] = {k: [] for k in kinds}
    for kind, name in run_client_query(defaults_file, sql):
        found[kind].append(name)
    return Inventory(**{k: sorted(v) for k, v in found.items()})
