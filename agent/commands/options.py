"""CLI flags for the shared configuration table, so every command spells them the same way."""

from __future__ import annotations

import argparse

from shared.config import OPTIONS, Settings, load_settings


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("configuration (each flag overrides the environment variable in brackets)")
    for option in OPTIONS:
        try:
            group.add_argument(option.flag, dest=_dest(option.env), metavar=option.env.split("_")[-1],
                               help=f"{option.help} [{option.env}]")
        except argparse.ArgumentError:
            # The command defines this flag itself with its own meaning (prune's --max-age DAYS
            # predates status's --max-age DURATION): the command's own flag wins.
            continue


def flag_values(args: argparse.Namespace) -> dict[str, str | None]:
    """The configuration flags as given on the command line, keyed by their environment variable."""
    return {o.env: getattr(args, _dest(o.env), None) for o in OPTIONS}


def settings_from_args(args: argparse.Namespace) -> Settings:
    return load_settings(overrides=flag_values(args))


def _dest(env_name: str) -> str:
    return "cfg_" + env_name.lower()
