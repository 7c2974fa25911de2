"""Restore drills: prove a backup (or a point in time) restores, by restoring it into a throwaway
server and checking what the manifest promised."""

from agent.drill.backup_drill import run_drill
from agent.drill.point_drill import drill_point_in_time

__all__ = ["drill_point_in_time", "run_drill"]
