"""How the suite shares out over pytest-xdist workers (``scripts/test`` runs ``-n N --dist loadgroup``).

The suite waits more than it computes (servers starting, dumps streaming, retries backing off), so
a few workers on 2 cores keep both busy. Three rules keep that correct and fast:

- A test that uses a module-scoped fixture (a loaded server, two package builds, a dump) runs on the
  worker that runs the rest of its module (``xdist_group`` by module): the fixture is built once,
  not once per worker that happens to get one of its tests.
- Every test that starts a Galera cluster is in one group: one 3-node cluster at a time. Several at
  once on 2 cores starve each other's heartbeats, and the short eviction timeouts the failover tests
  rely on (tests/support/galera.py) would then evict nodes nobody killed.
- Each worker collects the longest modules first and the scheduler keeps that order
  (``--no-loadscope-reorder``): the long units start at once and the short ones fill the gaps at
  the end, instead of a long module starting last and running alone.

Without xdist (``scripts/test --fast``, a single file) nothing changes: the order is pytest's.
"""

from __future__ import annotations

import pytest

GALERA_GROUP = "galera"
GALERA_FIXTURES = frozenset({"galera_cluster", "galera_binlog_cluster", "service_balancer"})
# The longest units of work, longest first, from ``--durations`` of a whole run (seconds on a quiet
# 2-core machine, without workers): they start first. The Galera group (~180 s: a 3-node cluster per
# test) leads; every other module follows in pytest's order, slow-marked ones first.
LONGEST_MODULES = (
    "tests/integration/test_galera_failover.py",
    "tests/integration/test_parallel_restore_galera.py",
    "tests/integration/test_pitr_galera.py",
    "tests/integration/test_archive_galera.py",
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


def _module_fixture_scope(item: pytest.Item) -> bool:
    """Whether the test uses a fixture built once per module (defined anywhere)."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(defs and defs[-1].scope == "module" for defs in info.name2fixturedefs.values())


def _uses_galera(item: pytest.Item) -> bool:
    return item.get_closest_marker("galera") is not None or not GALERA_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ()))


def _group(item: pytest.Item) -> str | None:
    if _uses_galera(item):
        return GALERA_GROUP
    if _module_fixture_scope(item):
        return _module_of(item)
    return None


def _module_of(item: pytest.Item) -> str:
    return item.nodeid.split("::")[0]


def _module_rank(module: str, slow: bool) -> int:
    if module in LONGEST_MODULES:
        return LONGEST_MODULES.index(module)
    return len(LONGEST_MODULES) + (0 if slow else 1)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        group = _group(item)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))
    if not hasattr(config, "workerinput"):
        return  # not an xdist worker: keep pytest's order
    # Whole modules move, so module-scoped fixtures still see their tests one after another.
    modules: dict[str, list[pytest.Item]] = {}
    for item in items:
        modules.setdefault(_module_of(item), []).append(item)
    slow = {name for name, tests in modules.items() if any(t.get_closest_marker("slow") for t in tests)}
    order = sorted(modules, key=lambda name: _module_rank(name, name in slow))
    items[:] = [item for name in order for item in modules[name]]
