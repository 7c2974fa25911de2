"""The drill Job's own MariaDB server: the second container of the pod, reached on loopback.

In a cluster the agent image has no ``mariadbd``; the drill Job runs the user's MariaDB server image
beside the agent with an ``emptyDir`` datadir and ``MARIADB_ALLOW_EMPTY_ROOT_PASSWORD`` (it listens
on 127.0.0.1 only, inside the pod). The agent waits for it, refuses it unless it is empty (a drill
never restores over data: pointing ``DRILL_SERVER`` at production by mistake stops here), replaces
the empty root password with a random one, and hands the restore a defaults file, exactly as the
local path (``agent.drill.throwaway_server``) does.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shared.config import Endpoint  # the drill's server is a host:port like the archiver's sources
from shared.errors import BackupFailedError, BadInputError
from shared.mariadb_client import AccessDeniedError, ClientError, run_client_query, write_defaults_file

log = logging.getLogger("mariadb_ha_backup.drill")

# The server image initialises its datadir (a few seconds) before it listens on TCP at all; a slow
# node pulling the image is covered by the pod's start, not by this wait.
READY_TIMEOUT_SECONDS = 300.0
_POLL_SECONDS = 1.0
_ADDRESS = re.compile(r"^(?P<host>[A-Za-z0-9._-]+|\[[0-9a-fA-F:]+\]):(?P<port>\d{1,5})$")
_SYSTEM_SCHEMAS = ("mysql", "information_schema", "performance_schema", "sys")


class DrillServerError(BackupFailedError):
    """The drill's server never became reachable, or refused root without a password."""


class DrillServerNotEmptyError(BadInputError):
    """The server named as the drill's target holds user databases: it is not a throwaway server."""


def parse_address(text: str, *, name: str = "DRILL_SERVER") -> Endpoint:
    """``127.0.0.1:3306`` (host:port, the port required) → ``Endpoint``; else bad input naming ``name``."""
    match = _ADDRESS.match(text.strip())
    if not match or not 0 < int(match.group("port")) < 65536:
        raise BadInputError(f"{name} must be host:port of the drill's empty MariaDB server, not {text[:60]!r}")
    return Endpoint(host=match.group("host").strip("[]"), port=int(match.group("port")))


@contextmanager
def given_server(address: Endpoint, *, run_dir: Path,
                 ready_timeout: float = READY_TIMEOUT_SECONDS) -> Iterator[Path]:
    """A defaults file for root on the empty server at ``address``, with a fresh random password."""
    empty = _private_dir(run_dir / "drill-server-bootstrap")
    bootstrap = write_defaults_file(empty, host=address.host, port=address.port, user="root", password="")
    _wait_reachable(bootstrap, address, timeout=ready_timeout)
    password = secrets.token_urlsafe(24)
    try:
        _refuse_unless_empty(bootstrap, address)
        _secure_root(bootstrap, password)
    except ClientError as exc:  # the server's fault, not the backup's: no verdict on the backup
        raise DrillServerError(f"preparing the drill server {address} failed: {exc}") from None
    bootstrap.unlink()
    defaults = write_defaults_file(_private_dir(run_dir / "drill-server"), host=address.host, port=address.port,
                                   user="root", password=password)
    log.info("drill server %s is up, empty and secured", address, extra={"event": "drill-server-ready"})
    yield defaults


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700)
    return path


def _wait_reachable(defaults: Path, address: Endpoint, *, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            run_client_query(defaults, "SELECT 1", timeout=30)
            return
        except AccessDeniedError:
            raise DrillServerError(
                f"the drill server {address} refused root without a password: start it with "
                "MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1 (it listens on loopback only; the drill sets a random "
                "password before restoring)") from None
        except ClientError as exc:
            if time.monotonic() >= deadline:
                raise DrillServerError(f"the drill server {address} did not answer within {timeout:.0f} s: "
                                       f"{exc}") from None
            time.sleep(_POLL_SECONDS)


def _refuse_unless_empty(defaults: Path, address: Endpoint) -> None:
    listed = ", ".join(f"'{s}'" for s in _SYSTEM_SCHEMAS)
    rows = run_client_query(defaults, f"SELECT schema_name FROM information_schema.schemata "  # noqa: S608  # constants
                                      f"WHERE schema_name NOT IN ({listed}) ORDER BY schema_name")
    if rows:
        names = ", ".join(r[0] for r in rows[:5])
        raise DrillServerNotEmptyError(f"the drill server {address} holds databases ({names}): a drill only "
                                       "restores into an empty throwaway server")


def _secure_root(defaults: Path, password: str) -> None:
    """Every root account gets the random password (the image makes root@localhost and root@'%').
    IF EXISTS: under --skip-name-resolve accounts for host names are listed but not loaded (they can
    never log in), and ALTER USER without it fails on them."""
    hosts = [r[0] for r in run_client_query(defaults, "SELECT host FROM mysql.user WHERE user = 'root'")]
    quoted = password.replace("\\", "\\\\").replace("'", "\\'")
    statements = [f"ALTER USER IF EXISTS 'root'@'{h.replace(chr(39), '')}' IDENTIFIED BY '{quoted}';" for h in hosts]
    run_client_query(defaults, "\n".join(statements))
