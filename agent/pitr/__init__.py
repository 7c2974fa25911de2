"""Point-in-time recovery: the binlog archiver (``archiver``), THE restorable window (``windows``),
planning a ``restore --until`` (``planning``), and the replay (``replay``, ``until``)."""

from agent.pitr.archiver.archiver import ArchiveResult
from agent.pitr.archiving import archive_binlogs, archive_summary
from agent.pitr.physical_until import restore_datadir_until
from agent.pitr.replay import PointInTimeResult
from agent.pitr.until import point_summary, restore_until
from agent.pitr.windows import ArchiveView, current_range, pitr_json, pitr_status_json, read_archive, windows_text

__all__ = ["ArchiveResult", "ArchiveView", "PointInTimeResult", "archive_binlogs", "archive_summary", "current_range",
           "pitr_json", "pitr_status_json", "point_summary", "read_archive", "restore_datadir_until", "restore_until",
           "windows_text"]
