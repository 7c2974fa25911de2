"""Kubernetes: the only package that talks to the Kubernetes API (and imports ``kubernetes``).

Two users: the agent reads the MariaDB root password from a Secret (``secret``), and the dispatch
path (the three cloud functions and ``mariadb-ha-backup dispatch``) creates one backup Job per target
(``invocation`` → ``dispatching``). The object builders (``job_spec``, ``job_settings``,
``targets``) are pure functions over dicts so infra can render the CronJob without a cluster.

The ``kubernetes`` client takes ~0.3 s to import, which would be most of a function's cold start;
modules here import it (and each cloud SDK) inside the functions that need it, never at module
level, so a function module imports in well under 0.5 s and a dry run never loads it at all
(tests/e2e/test_functions_import_time.py fails if a function's import loads it).
"""
