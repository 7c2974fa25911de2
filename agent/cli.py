"""Command-line entry point: parse, run one command, map errors to the documented exit codes.

Exit codes (a contract, every one in shared/errors.py): 0 success; 1 failure after retries; 2 usage,
configuration or bad input (one line on stderr, no traceback); 3 skipped because a backup is already
running; 4 archive-binlogs recorded a gap in the binlog archive; 128+N when stopped by signal N (after
cleaning up).
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from agent.commands.options import add_config_flags, merged_config
from shared.config.options import COMMANDS
from shared.errors import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_SIGNAL_BASE,
    TerminatedError,
    ToolError,
    signal_exit_code,
)
from shared.logs import redact, setup_logging

log = logging.getLogger("mariadb_ha_backup")

# Each command module exposes ``register(subparsers)`` (adds its parser, sets ``func``) and its own
# ``run(args, config)``; ``config`` is the environment merged with the flags, once (shared.config).
COMMAND_MODULES = (
    "agent.commands.backup",
    "agent.commands.dispatch",
    "agent.commands.list",
    "agent.commands.verify",
    "agent.commands.drill",
    "agent.commands.restore",
    "agent.commands.prune",
    "agent.commands.status",
    "agent.commands.archive_binlogs",
)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]  # argparse declares NoReturn
        # One line and exit 2 (argparse's default prints the whole usage block first).
        sys.stderr.write(f"mariadb-ha-backup: error: {message}\n")
        raise SystemExit(EXIT_BAD_INPUT)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mariadb-ha-backup", description="Backups of MariaDB HA (Galera) clusters.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    for command, command_parser in sub.choices.items():  # after each command's own arguments
        if command in COMMANDS:
            add_config_flags(command_parser, command)
    return parser


def run() -> None:
    """The process entry point (``python -m agent``, the ``mariadb-ha-backup`` script): ``main``, then exit."""
    code = main()
    if code >= EXIT_SIGNAL_BASE:  # stopped by a signal (or Ctrl-C), everything already cleaned up
        # Daemon threads (the compressor's pump, age's encryption) may still be inside a C library, and
        # the interpreter's shutdown around them was seen to abort the process (SIGABRT instead of
        # 128+N). Nothing is left to finalize: flush what was written and leave at once.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(verbose=args.verbose)
    try:
        code: int = args.func(args, merged_config(args, os.environ))
        return code
    except ToolError as exc:
        _report(str(exc), exit_code=exc.exit_code)
        return exc.exit_code
    except TerminatedError as exc:
        log.error("stopped by signal %s; cleaned up", exc.signum, extra={"event": "terminated"})
        return signal_exit_code(exc.signum)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # the last line of defence: no traceback on stderr, never a secret
        log.debug("unexpected failure", exc_info=True)
        _report(f"unexpected failure: {type(exc).__name__}: {redact(str(exc))}", exit_code=EXIT_FAILED)
        return EXIT_FAILED


def _report(message: str, *, exit_code: int) -> None:
    """Say why the run failed, once.

    Bad input (exit 2) gets exactly one plain line and no log record: nothing else happened. A
    failure during a run is logged as a structured record (JSON when not a terminal) so log
    pipelines see it, and, when the log is JSON, also as a plain last line for a person reading it.
    """
    line = f"mariadb-ha-backup: error: {message}\n"
    if exit_code == EXIT_BAD_INPUT:
        sys.stderr.write(line)
        return
    log.error("%s", message, extra={"event": "failed", "exit_code": exit_code})
    if not sys.stderr.isatty():
        sys.stderr.write(line)
