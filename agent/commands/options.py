"""CLI flags for the shared option table, and the one merge of environment and flags per command.

A command shows (``--help``) and takes only the flags of the options it reads (``Option.commands``).
The other commands' flags are still known to its parser, hidden, so that giving one is a usage error
that says which commands take it, instead of argparse's "unrecognized arguments".
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from shared.config import OPTIONS, ConfigValues, Option
from shared.config.options import COMMANDS


def add_command(subparsers: Any, name: str, *, run: Callable[[argparse.Namespace, ConfigValues], int],
                summary: str, description: str, json_help: str | None = None) -> argparse.ArgumentParser:
    """A command's parser: its help, ``--json`` (saying what it prints) and the function it runs. The CLI
    adds the configuration flags after the command's own arguments (``add_config_flags``)."""
    parser: argparse.ArgumentParser = subparsers.add_parser(name, help=summary, description=description)
    if json_help:
        parser.add_argument("--json", action="store_true", help=json_help)
    parser.set_defaults(func=run)
    return parser


def add_config_flags(parser: argparse.ArgumentParser, command: str) -> None:
    if command not in COMMANDS:
        raise ValueError(f"{command!r} is not a command of the option table (shared/config/options.py)")
    group = parser.add_argument_group("configuration (each flag overrides the environment variable in brackets)")
    for option in OPTIONS:
        if option.flag is None or _defined(parser, option.flag):
            # Environment only; or the command defines this flag itself with its own meaning (prune's
            # --max-age DAYS predates status's --max-age DURATION): the command's own flag wins.
            continue
        if command in option.commands:
            group.add_argument(option.flag, dest=_dest(option.env), metavar=option.env.split("_")[-1],
                               help=f"{option.help} [{option.env}]")
        else:
            parser.add_argument(option.flag, action=_NotThisCommand, option=option, command=command,
                                help=argparse.SUPPRESS)


class _NotThisCommand(argparse.Action):
    """A flag of another command: one line, exit 2 (the parser's ``error``), naming who takes it."""

    def __init__(self, option_strings: Sequence[str], dest: str, *, option: Option, command: str,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, **kwargs)
        self._option, self._command = option, command

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        takers = ", ".join(self._option.commands)
        parser.error(f"{self._command} does not read {option_string} ({self._option.env}); "
                     f"it is an option of: {takers}")


def merged_config(args: argparse.Namespace, env: Mapping[str, str]) -> ConfigValues:
    """``env`` overridden by the configuration flags given (a command without them gets the env alone)."""
    return ConfigValues.merge(env, {o.env: getattr(args, _dest(o.env), None) for o in OPTIONS if o.flag})


def _defined(parser: argparse.ArgumentParser, flag: str) -> bool:
    return flag in parser._option_string_actions  # argparse's own index of the flags it knows


def _dest(env_name: str) -> str:
    return "cfg_" + env_name.lower()
