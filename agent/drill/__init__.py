"""Restore drills: prove a backup (or a point in time) restores, by restoring it into a throwaway
server and checking what the manifest promised. ``verify_configured`` is the ``verify`` command's flow
(integrity, then the drill)."""

from agent.drill.backup_drill import run_drill
from agent.drill.physical_drill import run_physical_drill
from agent.drill.point_drill import drill_point_in_time
from agent.drill.throwaway_server import ThrowawayServer
from agent.drill.verifying import Selection, VerifyOutcome, select_for_verify, verify_configured

__all__ = ["Selection", "ThrowawayServer", "VerifyOutcome", "drill_point_in_time", "run_drill", "run_physical_drill",
           "select_for_verify", "verify_configured"]
