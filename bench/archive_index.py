"""Reading a large binlog archive: ``list``/``status`` and ``restore --until`` planning, before and after rollups.

``python -m bench.archive_index [--segments 1000 10000 50000] [--reps 3]``

For each size, a synthetic archive (``tests/support/synthetic_archive.py``: one index record per segment,
a segment every 5 s as a busy server writes them at the default ``BINLOG_UPLOAD_SECONDS``, consistent
GTIDs and times, one gap early on) is laid into a moto S3 server on loopback. Then, through the S3
adapter and a counter of requests (a GET per object read, a LIST per 1,000 keys listed):

- **before**: what ``list``, ``status`` and the planning of ``restore --until`` read until now: every
  index and gap record (``iter_history``), then the windows;
- **first run**: the archiver of this version rolling up the closed hours of that archive (once);
- **after**: ``read_archive`` (what ``list`` and ``status`` call), and the planning of a ``restore
  --until`` from a backup in the middle of the archive to ten minutes later, and from a backup an hour
  before the end to the end: the windows, the first segment the backup lacks (``first_needed_seq``),
  and the records of the segments to replay. The segments themselves (one GET each) come on top;
- **prune**: the keys ``prune`` would delete when the oldest kept backup sits three quarters into the
  archive (computed, not deleted).

Writes ``bench/results/archive_index.json`` and prints a Markdown table (docs/PERFORMANCE.md quotes it).
Segments are not stored (readers of the history never open them); only index and gap records are.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from agent.common.catalog import COMPLETE, BackupEntry
from agent.pitr.windows import read_archive, windows_text
from agent.retention.binlogs import binlog_keys_to_prune
from bench.servers import S3_ENV, MotoS3
from shared.binlogs.gtid import parse_state
from shared.binlogs.history import read_history
from shared.binlogs.index import gap_free_windows, iter_history
from shared.binlogs.records import SegmentRecord
from shared.binlogs.rolling import RollupWriter
from shared.layout import BackupKeys
from shared.manifest import BinlogPosition
from shared.storage import open_storage
from tests.support.backups import make_manifest
from tests.support.synthetic_archive import CountingStorage, SyntheticArchive

HERE = Path(__file__).resolve().parent
PREFIX = "bench/archive"
BUCKET = "bench-archive"


def measure(storage: CountingStorage, call: Callable[[], object], reps: int) -> dict[str, float]:
    seconds, requests = [], []
    for _ in range(reps):
        storage.reset()
        started = time.perf_counter()
        call()
        seconds.append(time.perf_counter() - started)
        requests.append(storage.requests)
    return {"seconds": round(statistics.median(seconds), 3), "requests": int(statistics.median(requests))}


def plan(storage: CountingStorage, *, snapshot: str, until: datetime) -> int:
    """The index part of planning a restore --until: returns how many segments it would read."""
    view = read_archive(storage, PREFIX)
    window = next(w for w in view.windows if w.start_time <= until <= w.end_time)
    start = view.history.first_needed_seq(window, parse_state(snapshot))
    wanted = 0
    for record in view.segments_of(window, from_seq=start):
        wanted += 1
        if record.first_time > until:
            break
    return wanted


def kept(record: SegmentRecord) -> BackupEntry:
    """A complete backup whose snapshot is the state after ``record``."""
    keys = BackupKeys(prefix=PREFIX, backup_id="20260101T000000Z", format="tar.gz")
    manifest = replace(make_manifest(keys, sha1="0" * 40, stored=1, raw=1, started=record.last_time),
                       binlog=BinlogPosition(gtid_state=record.gtid_state_after, file="bin.000001", position=4,
                                             node="db-0"))
    return BackupEntry(backup_id=keys.backup_id, started=record.last_time, state=COMPLETE, objects=(),
                       manifest=manifest)


def before(storage: CountingStorage) -> None:
    gap_free_windows(list(iter_history(storage, PREFIX)))


def one_size(moto: MotoS3, count: int, reps: int) -> dict[str, Any]:
    moto.empty_bucket(BUCKET)
    storage = CountingStorage(open_storage(f"s3://{BUCKET}?endpoint={moto.endpoint}&region=us-east-1"))
    start = datetime(2026, 1, 1, tzinfo=UTC)
    archive = SyntheticArchive(prefix=PREFIX, start=start, every=timedelta(seconds=5), gaps=frozenset({100}))
    started = time.perf_counter()
    records = archive.write(storage, count, threads=8)
    laid = time.perf_counter() - started
    segments = [r for r in records if isinstance(r, SegmentRecord)]
    middle, late = segments[len(segments) // 2], segments[max(len(segments) - 720, 0)]
    result: dict[str, Any] = {"segments": len(segments), "lay_seconds": round(laid, 1)}
    result["before"] = measure(storage, lambda: before(storage), 1 if count > 20_000 else reps)
    storage.reset()
    started = time.perf_counter()
    writer = RollupWriter.resume(read_history(storage, PREFIX))
    rolled = writer.roll()
    result["first_run"] = {"seconds": round(time.perf_counter() - started, 1), "requests": storage.requests,
                           "rollups": len(rolled), "pending": len(writer.pending)}
    result["list_status"] = measure(storage, lambda: windows_text(read_archive(storage, PREFIX), []), reps)
    result["plan_middle"] = measure(storage, lambda: plan(storage, snapshot=middle.gtid_state_after,
                                                          until=middle.last_time + timedelta(minutes=10)), reps)
    result["plan_end"] = measure(storage, lambda: plan(storage, snapshot=late.gtid_state_after,
                                                       until=segments[-1].last_time), reps)
    keep = segments[len(segments) * 3 // 4]  # the oldest kept backup: a quarter of the archive stays
    result["prune"] = measure(storage, lambda: binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept(keep)]), reps)
    result["prune"]["keys"] = len(binlog_keys_to_prune(storage, prefix=PREFIX, kept=[kept(keep)])[1])
    result["plan_middle"]["segments"] = plan(storage, snapshot=middle.gtid_state_after,
                                             until=middle.last_time + timedelta(minutes=10))
    result["plan_end"]["segments"] = plan(storage, snapshot=late.gtid_state_after, until=segments[-1].last_time)
    return result


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| segments | before: list/status/plan | after: list/status | after: plan, middle +10 min | "
             "after: plan, last hour | after: prune (keys to delete) | first run (rollups written) |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        def cell(m: dict[str, Any]) -> str:
            return f"{m['seconds']:.2f} s, {m['requests']:,} req"
        lines.append(f"| {r['segments']:,} | {cell(r['before'])} | {cell(r['list_status'])} | "
                     f"{cell(r['plan_middle'])} (+{r['plan_middle']['segments']} segments) | "
                     f"{cell(r['plan_end'])} (+{r['plan_end']['segments']} segments) | "
                     + (f"{cell(r['prune'])} ({r['prune']['keys']:,} keys) | " if "prune" in r else "- | ") +
                     f"{r['first_run']['seconds']:.1f} s, {r['first_run']['rollups']} rollups |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--segments", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", default="archive_index.json", help="results file under bench/results/")
    args = parser.parse_args(argv)
    os.environ.update(S3_ENV)  # moto accepts any credentials; botocore wants some
    work = Path(tempfile.mkdtemp(prefix="bench-archive-index-"))
    results = []
    with MotoS3(log=work / "moto.log") as moto:
        moto.client().create_bucket(Bucket=BUCKET)
        for count in args.segments:
            results.append(one_size(moto, count, args.reps))
            print(json.dumps(results[-1]), flush=True)
    (HERE / "results" / args.out).write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
