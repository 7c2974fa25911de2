"""Restore drills: prove that backups restore, record how long it took, report when they stop doing so.

Entry points: ``run_recorded_drill`` (``agent.drill.run``: drill one backup, write its ``drill.json``,
publish gauges, notify on failure) and ``latest_drills`` (``agent.drill.record``: what ``list`` and
``status`` show).
"""
