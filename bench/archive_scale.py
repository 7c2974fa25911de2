"""The binlog archive at a month's scale: the commands a user runs, against 1,000 and 500,000 segments.

``python -m bench.archive_scale [--segments 1000 500000] [--reps 3]``

For each size a moto S3 server is started in a child process that first lays a converged archive
straight into moto's in-memory backend (no HTTP: 500,000 segments would take hours through the
API): what the archiver leaves after a month, a segment every 5 s ending a minute ago
(``tests/support/synthetic_archive.py``: consistent GTIDs and times, one gap early on), its index and
gap records, a placeholder object per segment (the 4-byte binlog magic, whose SHA1 and size the
records carry; none of the measured readers opens a segment), the hourly rollups written by the
archiver's own ``RollupWriter``, and two complete backups (manifests with a binlog position): one in
the middle of the archive and one an hour before its end. Then, over HTTP, with every request counted
by the server (a WSGI counter in front of moto) and the load average noted beside each figure:

- ``list`` and ``status`` and ``prune --dry-run --keep-last 1``: the real CLI (``agent.cli.main``),
  in this process, configured by ``BACKUP_URL`` like a user's run;
- the planning of a ``restore --until``: from the middle backup to ten minutes later, and from the
  late backup to the archive's end (the windows, the first segment the backup lacks, the records of
  the segments to replay: ``bench.archive_index.plan``); the segments it would then read come on top
  (one GET each) and are reported beside it.

moto lists by scanning (and sorting) every key of the bucket on every LIST, in Python: O(keys) per
request, a million keys here, which no object store does. Unless ``--moto-scan``, the child gives
moto a sorted index for LISTs (same answers, pages and markers), so the figures measure this tool's
requests, not the emulator's scan. Laying 500,000 segments takes ~4 minutes and ~5 GB in the child.

Writes ``bench/results/archive_scale.json`` and prints the Markdown table docs/PERFORMANCE.md quotes.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import logging
import os
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from bisect import bisect_left
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

from agent.drill.throwaway_server import free_port
from bench.archive_index import plan
from bench.servers import S3_ENV
from shared.binlogs import layout
from shared.binlogs.index import write_record
from shared.binlogs.records import SegmentRecord
from shared.binlogs.rolling import RollupWriter
from shared.layout import BackupKeys, backup_id_at
from shared.manifest import BinlogPosition
from shared.storage import open_storage
from shared.storage.base import ObjectExistsError, ObjectInfo, ObjectNotFoundError
from tests.support.backups import make_manifest
from tests.support.synthetic_archive import SyntheticArchive

HERE = Path(__file__).resolve().parent
BUCKET = "bench-archive-scale"
PREFIX = "bench/archive"
EVERY = timedelta(seconds=5)  # a busy server at the default BINLOG_UPLOAD_SECONDS
COUNTER_PATH = "/_bench/requests"  # not an S3 path: bucket names cannot start with "_"
ACCOUNT = "123456789012"  # moto's default account, whatever the credentials
PLACEHOLDER_SHA1 = hashlib.sha1(layout.BINLOG_MAGIC).hexdigest()  # noqa: S324  # the records' checksum of it


# --- the child: moto with the archive laid in ------------------------------------------------------


class BackendStorage:
    """The ``Storage`` protocol straight over moto's in-memory S3 backend (for laying the archive only)."""

    url = f"moto-backend://{BUCKET}"

    def __init__(self, backend: Any) -> None:
        self.backend = backend

    def put(self, key: str, stream: BinaryIO, *, if_absent: bool = False) -> int:
        data = stream.read()
        if if_absent and key in self.backend.get_bucket(BUCKET).keys:
            raise ObjectExistsError(key)
        self.backend.put_object(BUCKET, key, data)
        return len(data)

    def open_read(self, key: str) -> BinaryIO:
        found = self.backend.get_object(BUCKET, key)
        if found is None:
            raise ObjectNotFoundError(key)
        return io.BytesIO(found.value)

    def list(self, prefix: str) -> Iterator[ObjectInfo]:
        raise NotImplementedError("laying the archive lists nothing")

    def delete(self, key: str) -> None:
        raise NotImplementedError("laying the archive deletes nothing")


def lay_archive(storage: BackendStorage, count: int, *, start: datetime) -> list[SegmentRecord]:
    """Records, placeholder segments and rollups, as the archiver leaves them; returns the segments."""
    archive = SyntheticArchive(prefix=PREFIX, start=start, every=EVERY, gaps=frozenset({100}))
    writer = RollupWriter(storage, prefix=PREFIX, previous=None)  # type: ignore[arg-type]  # put/open_read
    segments = []
    for record in archive.records(count):
        if isinstance(record, SegmentRecord):
            storage.put(record.segment, io.BytesIO(layout.BINLOG_MAGIC))
            record = replace(record, size=len(layout.BINLOG_MAGIC), sha1=PLACEHOLDER_SHA1)
            segments.append(record)
        write_record(storage, PREFIX, record)  # type: ignore[arg-type]  # put/open_read suffice
        writer.add(record)
        if record.seq % 100 == 0:
            writer.roll()
    writer.roll()  # the hour still open stays records only, as in a live archive
    return segments


def backup_at(storage: BackendStorage, record: SegmentRecord) -> None:
    """A complete backup whose snapshot is the state after ``record`` (manifest, archive, sidecar)."""
    keys = BackupKeys(prefix=PREFIX, backup_id=backup_id_at(record.last_time), format="tar.gz")
    manifest = replace(make_manifest(keys, sha1="0" * 40, stored=1, raw=1, started=record.last_time),
                       binlog=BinlogPosition(gtid_state=record.gtid_state_after, file="bin.000001", position=4,
                                             node="db-0"))
    storage.put(keys.artifact, io.BytesIO(b"x"))
    storage.put(keys.sha1, io.BytesIO(b"x"))
    storage.put(keys.manifest, io.BytesIO(manifest.to_json()))


def indexed_listing() -> None:
    """Give moto's ``list_objects`` a sorted index of the bucket's names (rebuilt when their number
    changes): the same answers, found by bisection instead of a scan of every key per request."""
    from moto.s3.models import FakeDeleteMarker, S3Backend

    cache: dict[int, list[str]] = {}

    def list_objects(self: Any, bucket: Any, prefix: str | None, delimiter: str | None, marker: str | None,
                     max_keys: int | None) -> Any:
        names = cache.get(id(bucket))
        if names is None or len(names) != len(bucket.keys):
            names = cache[id(bucket)] = sorted(bucket.keys.keys())
        prefix = prefix or ""
        i, end = bisect_left(names, prefix), bisect_left(names, prefix + "\U0010ffff")
        keys, folders = [], []
        while i < end:
            rest = names[i][len(prefix):]
            if delimiter and delimiter in rest:
                folders.append(prefix + rest.split(delimiter)[0] + delimiter)
                i = bisect_left(names, folders[-1] + "\U0010ffff", i, end)  # past the whole folder
                continue
            key = bucket.keys[names[i]]
            if not isinstance(key, FakeDeleteMarker):
                keys.append(key)
            i += 1
        if marker:
            keys = self._get_results_from_token(keys, self._pagination_tokens.get(marker) or marker)
        if max_keys is None:
            return keys, folders, False, None
        truncated_keys, is_truncated, next_marker = self._truncate_result(keys, max_keys)
        return truncated_keys, folders, is_truncated, next_marker

    S3Backend.list_objects = list_objects


class RequestCounter:
    """WSGI middleware: counts every request; ``GET /_bench/requests`` answers the count and resets it."""

    def __init__(self, app: Any) -> None:
        self.app, self.count, self.lock = app, 0, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("PATH_INFO") == COUNTER_PATH:
            with self.lock:
                count, self.count = self.count, 0
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(count).encode()]
        with self.lock:
            self.count += 1
        return self.app(environ, start_response)


def serve(count: int, port: int, *, scan: bool) -> None:
    os.environ.update(S3_ENV)
    from moto.s3.models import s3_backends
    from moto.server import DomainDispatcherApplication, create_backend_app
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not a line per request
    backend = s3_backends[ACCOUNT]["global"]
    backend.create_bucket(BUCKET, "us-east-1")
    storage = BackendStorage(backend)
    now = datetime.now(UTC).replace(microsecond=0)
    started = time.perf_counter()
    segments = lay_archive(storage, count, start=now - EVERY * count - timedelta(minutes=1))
    middle, late = segments[len(segments) // 2], segments[max(len(segments) - 720, 0)]
    backup_at(storage, middle)
    backup_at(storage, late)
    laid = time.perf_counter() - started
    if not scan:
        indexed_listing()
    server = make_server("127.0.0.1", port, RequestCounter(DomainDispatcherApplication(create_backend_app)),
                         threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(json.dumps({"lay_seconds": round(laid, 1), "keys": len(backend.get_bucket(BUCKET).keys),
                      "segments": len(segments), "middle": middle.to_json().decode(),
                      "late": late.to_json().decode(), "last": segments[-1].to_json().decode()}), flush=True)
    sys.stdin.read()  # until the parent closes our stdin
    server.shutdown()
    os._exit(0)  # not a minute of freeing a million objects one by one


# --- the parent: the commands, timed and counted ---------------------------------------------------


class Child:
    def __init__(self, count: int, *, scan: bool) -> None:
        self.port = free_port()
        argv = [sys.executable, "-m", "bench.archive_scale", "serve", "--segments", str(count), "--port",
                str(self.port)] + (["--moto-scan"] if scan else [])
        self.process = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError("the moto child died while laying the archive")
        self.ready = json.loads(line)

    @property
    def url(self) -> str:
        return f"s3://{BUCKET}/{PREFIX}?endpoint=http://127.0.0.1:{self.port}&region=us-east-1"

    def requests(self) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{COUNTER_PATH}") as answer:  # our own http URL
            return int(answer.read())

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()  # our own child, by its handle
            self.process.wait()


def measure(child: Child, call: Callable[[], object], reps: int) -> dict[str, Any]:
    runs = []
    for _ in range(reps):
        child.requests()  # reset
        load = os.getloadavg()[0]
        wall, cpu = time.perf_counter(), time.process_time()
        result = call()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu, child.requests(), load, result))
    return {"seconds": round(statistics.median(r[0] for r in runs), 3),
            "client_cpu_seconds": round(statistics.median(r[1] for r in runs), 3),
            "requests": int(statistics.median(r[2] for r in runs)),
            "load": round(statistics.median(r[3] for r in runs), 1), "result": runs[-1][4]}


def cli(*argv: str) -> str:
    """The real command in this process: its exit code and stdout (stderr's log lines swallowed)."""
    from agent.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        code = main(list(argv))
    return f"exit {code}: {out.getvalue()}"


def keys_pruned(output: str) -> int:
    """How many keys ``prune --dry-run --json`` would delete (backups and binlog archive)."""
    return sum(len(removal["keys"]) for removal in json.loads(output.partition(": ")[2]))


def one_size(count: int, reps: int, *, scan: bool) -> dict[str, Any]:
    child = Child(count, scan=scan)
    try:
        os.environ.update({**S3_ENV, "BACKUP_URL": child.url})
        storage = open_storage(child.url)
        middle, late, last = (SegmentRecord.from_json(child.ready[k].encode()) for k in ("middle", "late", "last"))
        result: dict[str, Any] = {"segments": child.ready["segments"], "keys": child.ready["keys"],
                                  "lay_seconds": child.ready["lay_seconds"],
                                  "moto_listing": "scan" if scan else "index"}
        result["list"] = measure(child, lambda: cli("list")[:120], reps)
        result["status"] = measure(child, lambda: cli("status")[:400], reps)
        result["plan_middle"] = measure(child, lambda: plan(storage, snapshot=middle.gtid_state_after,  # type: ignore[arg-type]
                                                            until=middle.last_time + timedelta(minutes=10)), reps)
        result["plan_end"] = measure(child, lambda: plan(storage, snapshot=late.gtid_state_after,  # type: ignore[arg-type]
                                                         until=last.last_time), reps)
        result["prune"] = measure(child, lambda: keys_pruned(cli("prune", "--dry-run", "--keep-last", "1", "--json")),
                                  reps)
        return result
    finally:
        child.close()


def table(results: list[dict[str, Any]]) -> str:
    lines = ["| segments (keys in bucket) | `list` | `status` | plan `restore --until`, middle +10 min | "
             "plan, last hour | `prune --dry-run` | laid in |",
             "|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        def cell(m: dict[str, Any], extra: str = "") -> str:
            return f"{m['seconds']:.2f} s, {m['requests']:,} req{extra} (load {m['load']})"
        middle, end = (cell(r[k], " +{:,} segments".format(r[k]["result"])) for k in ("plan_middle", "plan_end"))
        pruned = cell(r["prune"], " ({:,} keys)".format(r["prune"]["result"]))
        lines.append(f"| {r['segments']:,} ({r['keys']:,}) | {cell(r['list'])} | {cell(r['status'])} | "
                     f"{middle} | {end} | {pruned} | {r['lay_seconds']:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", nargs="?", choices=["measure", "serve"], default="measure")
    parser.add_argument("--segments", type=int, nargs="+", default=[1000, 500_000])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--moto-scan", action="store_true", help="keep moto's own LIST (a scan of every key)")
    parser.add_argument("--out", default="archive_scale.json", help="results file under bench/results/")
    args = parser.parse_args(argv)
    if args.mode == "serve":
        serve(args.segments[0], args.port, scan=args.moto_scan)
        return 0
    results: list[dict[str, Any]] = []
    out = HERE / "results" / args.out
    for count in args.segments:  # each size saved as soon as it is measured
        results.append(one_size(count, args.reps, scan=args.moto_scan))
        out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
