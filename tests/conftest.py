"""Fixtures live in ``tests/support``, one module per kind of real server, so each stays small."""

pytest_plugins = [
    "tests.support.mariadb_server",
    "tests.support.storage_servers",
    "tests.support.kube",
    "tests.support.galera",
    "tests.support.faults",
    "tests.support.monitoring",
    "tests.support.drill",
]
