"""How the suite shares out over pytest-xdist workers (``scripts/test`` runs ``-n N --dist loadscope``).

The suite waits more than it computes (servers starting, dumps streaming, retries backing off), so
a few workers on 2 cores keep both busy. A unit of work goes to one worker; here a unit is

- a whole module when its module-scoped fixtures are expensive (a loaded server, two package builds,
  a dump: ``SHARED_FIXTURE_MODULES``): built once, not once per worker that gets one of its tests;
- every Galera module together (``GALERA_MODULES``): one 3-node cluster at a time. Several at once
  on 2 cores starve each other's heartbeats, and the short eviction timeouts the failover tests
  rely on (tests/support/galera.py) would then evict nodes nobody killed; likewise the two modules
  that run checkov (``CHECKOV_MODULES``);
- otherwise a single test.

The units are queued longest first (``LONGEST_MODULES``, then slow-marked modules, then the rest, in
each worker's collection order, which ``--no-loadscope-reorder`` keeps): the long ones start at once
and the short ones fill the gaps at the end. A test that uses a module-scoped fixture, or a Galera
cluster, outside those lists fails the collection, so the lists cannot silently fall behind.

(xdist's own ``--dist loadgroup`` would read ``xdist_group`` marks, but with pytest 9.2 the ids it
rewrites to carry the group are not seen, so the grouping is done here, by the controller.)
"""

from __future__ import annotations

from typing import Any

import pytest

GALERA_GROUP = "galera"
GALERA_FIXTURES = frozenset({"galera_cluster", "galera_binlog_cluster", "service_balancer"})
GALERA_MODULES = (
    "tests/integration/test_galera_failover.py",
    "tests/integration/test_parallel_restore_galera.py",
    "tests/integration/test_pitr_galera.py",
    "tests/integration/test_archive_galera.py",
    "tests/integration/test_parallel_dump_galera.py",
    "tests/integration/test_physical_galera.py",
)
SHARED_FIXTURE_MODULES = frozenset({
    "tests/e2e/test_hostile_input.py",
    "tests/e2e/test_restore_drill_losses.py",
    "tests/e2e/test_restore_fidelity.py",
    "tests/e2e/test_signals_stages.py",
    "tests/integration/test_dumpfile_real_dump.py",
    "tests/integration/test_helm_chart.py",
    "tests/integration/test_infra_checks.py",
    "tests/integration/test_load.py",
    "tests/integration/test_memory_bound.py",
    "tests/integration/test_monitoring_rules.py",
    "tests/integration/test_packaging.py",
    "tests/integration/test_parallel_restore.py",
})
# The longest units of work, longest first, from ``--durations`` of a whole run (seconds on a quiet
# 2-core machine, without workers): they start first. The Galera group (~180 s: a 3-node cluster per
# test) leads.
LONGEST_MODULES = (
    *GALERA_MODULES,
    "tests/integration/test_packaging.py",  # ~140 s: two builds of three zips
    "tests/integration/test_load.py",  # ~125 s: a 500 MB dataset, four backups and a restore
    "tests/integration/test_memory_bound.py",  # ~90 s
    "tests/integration/test_infra_checks.py",  # ~95 s: checkov, and pip installing the image's venv
    "tests/e2e/test_restore_fidelity.py",
    "tests/integration/test_helm_chart.py",  # checkov again
    "tests/e2e/test_signals_stages.py",
    "tests/integration/test_parallel_restore.py",
    "tests/e2e/test_restore_drill_losses.py",
    "tests/e2e/test_archive_binlogs.py",
    "tests/e2e/test_pitr_restore.py",
)


# Both run checkov over infra/: two runs at once were seen to report a terraform parsing error that
# neither reports alone, so they share a unit too.
CHECKOV_MODULES = ("tests/integration/test_infra_checks.py", "tests/integration/test_helm_chart.py")


def work_unit(nodeid: str) -> str:
    """What must run on one worker together with this test (its unit's name)."""
    module = nodeid.split("::")[0]
    if module in GALERA_MODULES:
        return GALERA_GROUP
    if module in CHECKOV_MODULES:
        return "checkov"
    if module in SHARED_FIXTURE_MODULES:
        return module
    return nodeid


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if config.getvalue("dist") != "loadscope":
        return None  # another distribution was asked for: xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class UnitScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return UnitScheduling(config, log)


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _uses_module_fixture(item: pytest.Item) -> bool:
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


def _uses_galera(item: pytest.Item) -> bool:
    return item.get_closest_marker("galera") is not None or not GALERA_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ()))


def _unlisted(items: list[pytest.Item]) -> list[str]:
    problems = set()
    for item in items:
        module = _module_of(item)
        if _uses_galera(item) and module not in GALERA_MODULES:
            problems.add(f"{module} starts a Galera cluster: add it to GALERA_MODULES")
        elif _uses_module_fixture(item) and work_unit(item.nodeid) == item.nodeid:
            problems.add(f"{module} has a module-scoped fixture: add it to SHARED_FIXTURE_MODULES "
                         "(or make a cheap fixture session-scoped)")
    return sorted(problems)


# Modules that time themselves against a wall-clock budget go last, when most workers are done and
# the machine is quieter.
TIMED_MODULES = ("tests/e2e/test_functions_import_time.py",)


def _module_rank(module: str, slow: bool) -> int:
    if module in LONGEST_MODULES:
        return LONGEST_MODULES.index(module)
    if module in TIMED_MODULES:
        return len(LONGEST_MODULES) + 2
    return len(LONGEST_MODULES) + (0 if slow else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problems = _unlisted(items)
    if problems:
        raise pytest.UsageError("tests/support/workers.py is out of date:\n  " + "\n  ".join(problems))
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: keep pytest's order
    # Whole modules move, so module-scoped fixtures still see their tests one after another.
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(_module_of(item), []).append(item)
    slow = {name for name, tests in modules.items() if any(t.get_closest_marker("slow") for t in tests)}
    order = sorted(modules, key=lambda name: _module_rank(name, name in slow))
    items[:] = [item for name in order for item in modules[name]]
