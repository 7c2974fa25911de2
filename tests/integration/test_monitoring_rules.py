"""infra/monitoring/alerts.yml: valid rules (promtool check), behaviour pinned by promtool unit tests,
and written against the metric names the agent really publishes."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from agent.backup import reporting
from agent.drill import reporting as drill_reporting

MONITORING = Path(__file__).resolve().parents[2] / "infra" / "monitoring"
ALERTS = MONITORING / "alerts.yml"
# Minutes-long behaviour at a 1 m evaluation interval; days-long thresholds at 10 m (cheaper by 10x).
TEST_FILES = ("alerts_test.yml", "alerts_test_days.yml")
REQUIRED = {"MariaDBBackupTooOld", "MariaDBBackupFailed", "MariaDBBackupMissing", "MariaDBBinlogArchiveLagging",
            "MariaDBRestoreDrillFailed", "MariaDBRestoreDrillTooOld", "MariaDBRecoveryTimeAboveTarget"}


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    assert found, "promtool is missing: scripts/bootstrap installs Debian's prometheus package"
    return found


def run(promtool: str, *args: str, cwd: Path = MONITORING) -> subprocess.CompletedProcess[str]:
    return subprocess.run([promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False)


def test_promtool_check_rules(promtool) -> None:
    done = run(promtool, "check", "rules", ALERTS.name)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_promtool_unit_tests_pass(promtool) -> None:
    done = run(promtool, "test", "rules", *TEST_FILES)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("SUCCESS") == len(TEST_FILES)


def run_with_one_expectation_moved(promtool: str, tmp_path: Path, test_file: str, expected: str,
                                   moved: str) -> subprocess.CompletedProcess[str]:
    """promtool over a copy of ``test_file`` (beside the real rules) whose first ``expected`` reads ``moved``."""
    shutil.copy(ALERTS, tmp_path / ALERTS.name)
    text = (MONITORING / test_file).read_text()
    assert expected in text
    (tmp_path / test_file).write_text(text.replace(expected, moved, 1))
    return run(promtool, "test", "rules", test_file, cwd=tmp_path)


def test_the_unit_tests_can_fail(promtool, tmp_path) -> None:
    """Expect TooOld while the backup is still fresh: promtool must refuse it."""
    done = run_with_one_expectation_moved(promtool, tmp_path, "alerts_test.yml", "- eval_time: 26h10m",
                                          "- eval_time: 25h30m")
    assert done.returncode == 1
    assert "FAILED" in done.stdout + done.stderr


def test_rules_use_the_metric_names_the_agent_publishes() -> None:
    rules = [rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]]
    assert {rule["alert"] for rule in rules} >= REQUIRED
    used = set(re.findall(r"mariadb_ha_backup_[a-z_]+", " ".join(rule["expr"] for rule in rules)))
    published = {reporting.LAST_SUCCESS, reporting.LAST_STATUS, reporting.LAST_COMPLETION}
    drills = {drill_reporting.LAST_DRILL_STATUS, drill_reporting.LAST_DRILL_SUCCESS,
              drill_reporting.DRILL_RESTORE_SECONDS, drill_reporting.RECOVERY_TARGET_SECONDS}
    # The archiver's lag gauge (agent/pitr/archiver/metrics.py on the pitr branch) is named in the alert.
    assert used == published | drills | {"mariadb_ha_backup_binlog_lag_seconds"}


def test_the_days_long_tests_can_fail(promtool, tmp_path) -> None:
    """Expect the drill TooOld alert 20 minutes after its threshold, inside its 30 m `for`: must be refused."""
    done = run_with_one_expectation_moved(promtool, tmp_path, "alerts_test_days.yml", "- eval_time: 9d\n",
                                          "- eval_time: 8d20m\n")
    assert done.returncode == 1
    assert "alertname: MariaDBRestoreDrillTooOld" in done.stdout + done.stderr


@pytest.mark.parametrize(("alert", "wrong"), [
    ("MariaDBRestoreDrillFailed", "eval_time: 2m\n        alertname: MariaDBRestoreDrillFailed"),
    ("MariaDBRecoveryTimeAboveTarget", "eval_time: 3m\n        alertname: MariaDBRecoveryTimeAboveTarget"),
])
def test_the_drill_rule_tests_can_fail(promtool, tmp_path, alert, wrong) -> None:
    """Move the firing expectation to a moment the rule does not fire: promtool must refuse it."""
    done = run_with_one_expectation_moved(promtool, tmp_path, "alerts_test.yml", wrong,
                                          wrong.replace(wrong.split()[1], "1m", 1))
    assert done.returncode == 1
    assert f"alertname: {alert}" in done.stdout + done.stderr
