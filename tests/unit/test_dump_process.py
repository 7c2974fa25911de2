"""How a failed mariadb-dump is classified (shared.dump.DumpProcess): what is retried, what is not."""

from __future__ import annotations

import pytest

from shared.dump import DumpProcess
from shared.mariadb_client import ClientConnectionError, ClientError


def _finish(tmp_path, script: str) -> None:
    with DumpProcess(["sh", "-c", script], tmp_path / "dump.err") as dump:
        dump.stdout.read()
        dump.finish()


def test_a_silent_exit_2_is_retried_as_a_lost_connection(tmp_path):
    with pytest.raises(ClientConnectionError, match=r"exited 2 .* without an error message"):
        _finish(tmp_path, "exit 2")


def test_a_server_error_it_reports_is_not_retried(tmp_path):
    with pytest.raises(ClientError) as raised:
        _finish(tmp_path, "echo \"mariadb-dump: Couldn't execute 'SHOW x': You have an error (1064)\" >&2; exit 2")
    assert not isinstance(raised.value, ClientConnectionError)
    assert "1064" in str(raised.value)


def test_a_silent_failure_of_another_kind_is_not_retried(tmp_path):
    with pytest.raises(ClientError) as raised:
        _finish(tmp_path, "exit 5")  # EX_EOF: mariadb-dump could not write its output
    assert not isinstance(raised.value, ClientConnectionError)
