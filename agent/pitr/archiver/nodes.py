"""The servers an archiver may follow: inspect one, refuse it when PITR cannot be correct, pick one.

Refusals are configuration errors (exit 2, one line): a server without binary logs, or not in ROW
format, cannot give an archive that replays exactly; a Galera node without ``log_slave_updates`` logs
only the writes it received itself, and without ``wsrep_gtid_mode`` each node numbers the same
transaction differently, so another node could not continue from our last GTID. A Galera node that
is not Synced is skipped for another (it may be joining or a donor); so is one we cannot reach.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from shared.config.binlog import Endpoint
from shared.errors import BadInputError
from shared.mariadb_client import ClientConnectionError, run_client_query, write_defaults_file

log = logging.getLogger("mariadb_ha_backup.archive")

_VARIABLES = ("log_bin", "binlog_format", "log_slave_updates", "wsrep_on", "wsrep_gtid_mode", "server_id",
              "hostname", "gtid_binlog_pos")
_STATUS = ("wsrep_local_state_comment", "wsrep_ready")


class NotArchivableError(BadInputError):
    """The server's settings make a correct point-in-time archive impossible (exit 2)."""


class NodeUnavailableError(ClientConnectionError):
    """Cannot follow this node right now (unreachable, or a Galera node that is not Synced)."""


@dataclass(frozen=True)
class Node:
    endpoint: Endpoint
    defaults_file: Path  # for the mariadb client
    binlog_defaults_file: Path  # for mariadb-binlog (no default-character-set)
    hostname: str
    server_id: int
    galera: bool


def node_defaults(run_dir: Path, endpoint: Endpoint, *, user: str, password: str) -> tuple[Path, Path]:
    """The defaults files of one endpoint, for the ``mariadb`` client and for ``mariadb-binlog`` (each
    endpoint in its own 0700 dir): the password never goes on argv."""
    directory = run_dir / f"node-{endpoint.host}-{endpoint.port}"
    if not directory.exists():
        directory.mkdir(mode=0o700)
        for charset in (True, False):
            write_defaults_file(directory, host=endpoint.host, port=endpoint.port, user=user, password=password,
                                charset=charset)
    return directory / "client.cnf", directory / "binlog-client.cnf"


def inspect_node(endpoint: Endpoint, defaults_files: tuple[Path, Path]) -> Node:
    """Check one server; raises ``NotArchivableError`` or ``NodeUnavailableError``."""
    defaults_file, binlog_defaults_file = defaults_files
    names = ",".join(f"'{n}'" for n in (*_VARIABLES, *_STATUS))  # constants only
    try:
        rows = run_client_query(defaults_file, f"SHOW GLOBAL VARIABLES WHERE Variable_name IN ({names}); "
                                               f"SHOW GLOBAL STATUS WHERE Variable_name IN ({names});", timeout=20)
    except ClientConnectionError as exc:
        raise NodeUnavailableError(f"{endpoint}: {exc}") from None
    values = {row[0].lower(): row[1] for row in rows if len(row) == 2}
    galera = values.get("wsrep_on") == "ON"
    refuse_unless_archivable(endpoint, values, galera=galera)
    if galera and values.get("wsrep_local_state_comment") != "Synced":
        raise NodeUnavailableError(f"{endpoint}: Galera node is {values.get('wsrep_local_state_comment')}, not Synced")
    return Node(endpoint=endpoint, defaults_file=defaults_file, binlog_defaults_file=binlog_defaults_file,
                hostname=values.get("hostname", endpoint.host),
                server_id=int(values.get("server_id", "0")), galera=galera)


def refuse_unless_archivable(endpoint: Endpoint, values: dict[str, str], *, galera: bool) -> None:
    required = [("log_bin", "ON", "start mariadbd with --log-bin"),
                ("binlog_format", "ROW", "set binlog_format=ROW")]
    if galera:
        required += [("log_slave_updates", "ON", "set log_slave_updates=ON on every node"),
                     ("wsrep_gtid_mode", "ON", "set wsrep_gtid_mode=ON and one wsrep_gtid_domain_id")]
    for name, wanted, fix in required:
        if values.get(name, "").upper() != wanted:
            raise NotArchivableError(f"cannot archive binlogs from {endpoint}: {name} is "
                                     f"{values.get(name) or 'unset'}, PITR needs {wanted} ({fix}; see docs/PITR.md)")


def binlog_files(node: Node) -> list[str]:
    """The server's binlog files, oldest first."""
    return [row[0] for row in run_client_query(node.defaults_file, "SHOW BINARY LOGS") if row]


def current_position(node: Node) -> tuple[str, int]:
    """Where the server is writing now (file, offset): a one-shot run archives up to here."""
    (file, position, *_rest), *_ = run_client_query(node.defaults_file, "SHOW MASTER STATUS")
    return file, int(position)


def gtid_state_at(node: Node, *, file: str, offset: int) -> str:
    """The server's GTID state at a position of its own binlog (``BINLOG_GTID_POS``)."""
    quoted = file.replace("\\", "\\\\").replace("'", "\\'")
    rows = run_client_query(node.defaults_file, f"SELECT IFNULL(BINLOG_GTID_POS('{quoted}', {int(offset)}), '')")
    return rows[0][0] if rows and rows[0] else ""
