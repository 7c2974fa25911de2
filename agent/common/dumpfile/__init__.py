"""mariadb-dump's output, read as a stream of typed units (see ``agent.common.dumpfile.parsing``)."""

from agent.common.dumpfile.parsing import DumpSyntaxError, Kind, Unit, read_units
from agent.common.dumpfile.reading import ChunkReader

__all__ = ["ChunkReader", "DumpSyntaxError", "Kind", "Unit", "read_units"]
