"""Restore drills: prove a backup (or a point in time) restores, by restoring it into a throwaway
server and checking what the manifest promised. ``verify_configured`` is the ``verify`` command's flow
(integrity, then the drill)."""

from agent.drill.backup_drill import run_drill
from agent.drill.point_drill import drill_point_in_time
from agent.drill.verifying import VerifyOutcome, verify_configured

__all__ = ["VerifyOutcome", "drill_point_in_time", "run_drill", "verify_configured"]
