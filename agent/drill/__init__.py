"""Restore drills: prove a backup (or a point in time) restores, by restoring it into an empty server
and checking what the manifest promised; record the verdict and the measured restore time.

``run_drill`` (``verify --restore-test``: a throwaway server here), ``drill_point_in_time``
(``verify --restore-test --until``), and ``drill_and_report`` / ``run_recorded_drill`` (the ``drill``
command and the drill Job: into a given server or a throwaway one, then ``drill.json``, gauges, and a
notification on failure). ``DRILLS_BY_METHOD``: where a physical backup's drill plugs in.
"""

from agent.drill.backup_drill import run_drill
from agent.drill.flow import drill_and_report
from agent.drill.point_drill import drill_point_in_time
from agent.drill.run import DRILLS_BY_METHOD, run_recorded_drill, run_recorded_point_drill

__all__ = ["DRILLS_BY_METHOD", "drill_and_report", "drill_point_in_time", "run_drill", "run_recorded_drill",
           "run_recorded_point_drill"]
