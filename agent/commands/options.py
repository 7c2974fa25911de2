"""CLI flags for the shared option table, and the one merge of environment and flags per command."""

from __future__ import annotations

import argparse
from collections.abc import Mapping

from shared.config import OPTIONS, ConfigValues


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration (each flag overrides the environment variable in brackets)")
    for option in OPTIONS:
        if option.flag is None:
            continue
        try:
            group.add_argument(option.flag, dest=_dest(option.env), metavar=option.env.split("_")[-1],
                               help=f"{option.help} [{option.env}]")
        except argparse.ArgumentError:
            # The command defines this flag itself with its own meaning (prune's --max-age DAYS
            # predates status's --max-age DURATION): the command's own flag wins.
            continue


def merged_config(args: argparse.Namespace, env: Mapping[str, str]) -> ConfigValues:
    """``env`` overridden by the configuration flags given (a command without them gets the env alone)."""
    return ConfigValues.merge(env, {o.env: getattr(args, _dest(o.env), None) for o in OPTIONS if o.flag})


def _dest(env_name: str) -> str:
    return "cfg_" + env_name.lower()
