"""mariadb-dump's output, read as a stream of typed units (see ``agent.dumpfile.parsing``)."""

from agent.dumpfile.parsing import DumpSyntaxError, Kind, Unit, read_units
from agent.dumpfile.reading import ChunkReader

__all__ = ["ChunkReader", "DumpSyntaxError", "Kind", "Unit", "read_units"]
