"""Restore drills: prove a backup (or a point in time) restores, by restoring it into an empty server
and checking what the manifest promised; record the verdict and the measured restore time.

``verify_configured`` is the ``verify`` command's flow (integrity of a backup or of a physical chain,
then ``run_drill`` / ``run_physical_drill`` into a throwaway server here; ``drill_point_in_time`` for
``--until``); ``drill_and_report`` is the ``drill`` command's and the drill Job's (``run_recorded_drill`` /
``run_recorded_point_drill`` into a given server or a throwaway one, then ``drill.json``, gauges, and a
notification on failure). ``DRILLS_BY_METHOD``: where a physical backup's drill plugs in.
"""

from agent.drill.backup_drill import run_drill
from agent.drill.flow import drill_and_report, drill_summary
from agent.drill.physical_drill import run_physical_drill
from agent.drill.point_drill import drill_point_in_time
from agent.drill.run import DRILLS_BY_METHOD, run_recorded_drill, run_recorded_point_drill
from agent.drill.throwaway_server import ThrowawayServer
from agent.drill.verifying import VerifyOutcome, verify_configured

__all__ = ["DRILLS_BY_METHOD", "ThrowawayServer", "VerifyOutcome", "drill_and_report", "drill_point_in_time",
           "drill_summary", "run_drill", "run_physical_drill", "run_recorded_drill", "run_recorded_point_drill",
           "verify_configured"]
