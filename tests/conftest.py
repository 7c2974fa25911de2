"""Fixtures live in ``tests/support``, one module per kind of real server, so each stays small.

``scripts/test`` runs the suite on pytest-xdist workers (``--dist loadscope``); see ``tests/support/workers.py``
for what keeps that both correct and fast (module fixtures built once, one Galera cluster at a time,
the longest work first).
"""

pytest_plugins = [
    "tests.support.workers",
    "tests.support.mariadb_server",
    "tests.support.storage_servers",
    "tests.support.kube",
    "tests.support.galera",
    "tests.support.faults",
    "tests.support.monitoring",
    "tests.support.drill",
    "tests.support.id_clock",
]
