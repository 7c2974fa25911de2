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
# Modules that run longest (``--durations`` of a whole run), longest first: they start first.
LONGEST_MODULES = (
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
