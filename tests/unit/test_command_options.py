"""Options belong to commands: each command's --help lists the flags of the options it reads (the option
table's ``commands``), another command's flag is a one-line usage error naming who takes it, and the
environment stays global (one env file serves every command)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from agent.cli import build_parser, main
from shared.config import OPTIONS, ConfigValues
from shared.config.options import COMMANDS
from shared.config.reference import render_reference
from shared.errors import EXIT_BAD_INPUT


def help_flags(command: str, capsys: pytest.CaptureFixture[str]) -> set[str]:
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    return set(re.findall(r"^  (?:-h, )?(--[a-z0-9-]+)", capsys.readouterr().out, re.MULTILINE))


@pytest.mark.parametrize("command", COMMANDS)
def test_help_shows_exactly_the_options_the_command_reads(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    shown = help_flags(command, capsys)
    table = {o.flag for o in OPTIONS if o.flag}
    reads = {o.flag for o in OPTIONS if o.flag and command in o.commands}
    own = {"--max-age"} if command == "prune" else set()  # prune's own --max-age DAYS
    assert shown & table == reads | own


def test_status_help_is_short(capsys: pytest.CaptureFixture[str]) -> None:
    shown = help_flags("status", capsys)
    assert "--password-file" not in shown and "--binlog-server-id" not in shown and "--lock-mode" not in shown
    # 37 before options belonged to commands; now the bucket's settings, retries, --max-age, --max-drill-age,
    # --json and --help.
    assert len(shown) <= 17


@pytest.mark.parametrize(("argv", "message"), [
    (["status", "--lock-mode", "COMPLIANCE"],
     "status does not read --lock-mode (BACKUP_LOCK_MODE); it is an option of: backup, archive-binlogs"),
    (["list", "--password-file=/run/pw"],
     "list does not read --password-file (MARIADB_PASSWORD_FILE); it is an option of: backup, restore, "
     "archive-binlogs"),
    (["restore", "--latest", "--binlog-server-id", "7"],
     "restore does not read --binlog-server-id (BINLOG_SERVER_ID); it is an option of: archive-binlogs"),
])
def test_another_commands_flag_is_one_line_and_exit_2(argv: list[str], message: str,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == EXIT_BAD_INPUT
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == f"mariadb-ha-backup: error: {message}\n"


def test_every_option_names_known_commands() -> None:
    for option in OPTIONS:
        assert option.commands and set(option.commands) <= set(COMMANDS), option.env


@pytest.mark.parametrize("argv", [["list"], ["status"], ["prune", "--dry-run"]])
def test_commands_read_only_what_the_table_gives_them_and_ignore_other_variables(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Every name a command looks up in its configuration is one the table assigns it; a variable of
    another command in the same environment changes nothing."""
    read: set[str] = set()
    original = ConfigValues.__getitem__

    def recording(self: ConfigValues, name: str) -> str:
        read.add(name)
        return original(self, name)

    monkeypatch.setattr(ConfigValues, "__getitem__", recording)
    for name in ("BACKUP_LOCK_MODE", "BINLOG_SERVER_ID", "MARIADB_PASSWORD_FILE"):
        monkeypatch.setenv(name, "set-for-another-command")
    monkeypatch.setenv("BACKUP_URL", f"file://{tmp_path}")
    code = main(argv)
    capsys.readouterr()
    assert code in (0, 1)
    allowed = {o.env for o in OPTIONS if argv[0] in o.commands}
    assert read and read <= allowed, read - allowed


def test_the_configuration_reference_is_rendered_from_the_table() -> None:
    """docs/CONFIGURATION.md is generated (scripts/config-reference): change OPTIONS, re-render."""
    written = (Path(__file__).resolve().parents[2] / "docs" / "CONFIGURATION.md").read_text(encoding="utf-8")
    assert written == render_reference(), "docs/CONFIGURATION.md is out of date: run scripts/config-reference"
    for option in OPTIONS:
        assert f"| `{option.env}` |" in written
