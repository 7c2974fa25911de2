"""The variants a benchmark run compares, each one command measured the same way (bench/measure.py).

a  ``mariadb-dump > /dev/null``                 the floor: nothing is faster than reading the data once
b  the seed's sequential pipeline in shell      dump to a file, ``tar czf``, ``sha1sum``, upload (boto3)
c  ``mydumper --compress``                      the peer: parallel per-table dump with per-file gzip
l  ``mydumper`` (uncompressed files)            the peer's dump speed alone
d  ``mariadb-ha-backup backup`` tar.gz          our default (seed-compatible) format, N dump threads
e  ``mariadb-ha-backup backup`` sql.gz          streamed, no temp disk, N dump threads
f  ``mariadb-ha-backup backup`` sql.zst         streamed, no temp disk, N dump threads
m, n, o  the same three with ``BACKUP_DUMP_THREADS=1`` (the seed's single mariadb-dump)
g  ``mariadb < dump.sql``                       the restore floor
h  ``mariadb-ha-backup restore``                defaults: verify first, then load over parallel sessions
j  ``mariadb-ha-backup restore --parallel 1``   the same with one plain client session (serial)
k  ``myloader``                                 the peer: parallel load of a mydumper dump (prepared untimed,
   uncompressed, user databases only: myloader does not reload the system schema)
i  ``mariadb-ha-backup backup`` sql.gz to a local directory: not a target, it shows what the
   S3 emulator costs (moto runs on the same 2 cores and spends ~0.2 CPU-s per 100 MB dumped)
p  the same with ``BACKUP_DUMP_THREADS=1``

N is ``BACKUP_DUMP_THREADS=N`` with N = the CPU count, at least 2 (2 on the bench machine): the parallel
dump whatever the default, so that it is compared with one session in the same run.

Every variant uses the seed's dump flags and the same source server; b, d, e, f upload to the same
moto S3 bucket; g and h load into the same (emptied) target server.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Measurement
from shared.dump import DUMP_FLAGS

PROJECT = Path(__file__).resolve().parents[1]
BUCKET = "bench"
RUNS_PREFIX = "runs"
RESTORE_PREFIX = "restore-source"
PARALLEL_THREADS = max(2, os.cpu_count() or 2)


@dataclass(frozen=True)
class Context:
    python: str
    source_cnf: Path
    target_cnf: Path
    source_env: dict[str, str]  # MARIADB_* for the agent
    target_env: dict[str, str]
    s3_env: dict[str, str]  # endpoint and dummy credentials
    dump_file: Path  # the plain dump that g loads
    mydumper_dir: Path  # the mydumper dump that k loads
    mydumper_threads: int


@dataclass(frozen=True)
class Command:
    argv: list[str]
    env: dict[str, str]
    stdin: Path | None = None


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    kind: str  # "backup" | "restore"
    command: Callable[[Context, Path], Command]  # (context, temp dir) -> what to run
    compressed_size: Callable[[Measurement, Path], int | None]


def _base_env(ctx: Context, temp: Path) -> dict[str, str]:
    return {"PATH": "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME": str(temp), "LANG": "C.UTF-8",
            "TMPDIR": str(temp), "PYTHONPATH": str(PROJECT)}


def _dump_cmd(cnf: Path) -> str:
    return shlex.join(["mariadb-dump", f"--defaults-extra-file={cnf}", *DUMP_FLAGS])


def _floor(ctx: Context, temp: Path) -> Command:
    return Command(["sh", "-c", f"{_dump_cmd(ctx.source_cnf)} > /dev/null"], _base_env(ctx, temp))


def _seed(ctx: Context, temp: Path) -> Command:
    t = shlex.quote(str(temp))
    script = "\n".join([
        "set -e",
        f"mkdir -p {t}/mariadb-ha-backup",
        f"{_dump_cmd(ctx.source_cnf)} > {t}/mariadb-ha-backup/all-databases-dump.sql",
        f"tar czf {t}/mariadb-ha-backup.tar.gz -C {t} mariadb-ha-backup",
        f"rm -r {t}/mariadb-ha-backup",
        f"cd {t} && sha1sum mariadb-ha-backup.tar.gz > mariadb-ha-backup.tar.gz.sha1",
        f"{shlex.quote(ctx.python)} -m bench.upload {BUCKET} {RUNS_PREFIX}/seed "
        f"{t}/mariadb-ha-backup.tar.gz {t}/mariadb-ha-backup.tar.gz.sha1",
        f"stat -c %s {t}/mariadb-ha-backup.tar.gz",
    ])
    return Command(["sh", "-c", script], {**_base_env(ctx, temp), **ctx.s3_env})


def _mydumper(ctx: Context, temp: Path, *, compress: bool = True) -> Command:
    out = temp / "mydumper"
    argv = ["mydumper", f"--defaults-file={ctx.source_cnf}", *(["--compress"] if compress else []),
            "--routines", "--events", "--triggers",
            f"--threads={ctx.mydumper_threads}", "--trx-consistency-only", f"--outputdir={out}", "--verbose=1"]
    # mydumper 0.10 reads host/port/user/password from the [mydumper] or [client] group of this file.
    script = f"{shlex.join(argv)} && du -sb {shlex.quote(str(out))} | cut -f1"
    return Command(["sh", "-c", script], _base_env(ctx, temp))


def _threads(threads: int | None) -> dict[str, str]:
    return {"BACKUP_DUMP_THREADS": str(threads)} if threads else {}


def _agent_backup(fmt: str, threads: int | None = None) -> Callable[[Context, Path], Command]:
    def command(ctx: Context, temp: Path) -> Command:
        env = {**_base_env(ctx, temp), **ctx.s3_env, **ctx.source_env, "BACKUP_FORMAT": fmt,
               "BACKUP_URL": f"s3://{BUCKET}/{RUNS_PREFIX}/{fmt}", "BACKUP_TMPDIR": str(temp), **_threads(threads)}
        return Command([ctx.python, "-m", "agent", "backup", "--json"], env)
    return command


def _agent_backup_local(threads: int | None = None) -> Callable[[Context, Path], Command]:
    def command(ctx: Context, temp: Path) -> Command:
        bucket = temp.with_name(temp.name + "-bucket")  # beside the temp dir: the destination is not temp disk
        env = {**_base_env(ctx, temp), **ctx.source_env, "BACKUP_FORMAT": "sql.gz", "BACKUP_URL": f"file://{bucket}",
               "BACKUP_TMPDIR": str(temp), **_threads(threads)}
        return Command(["sh", "-c", f"mkdir -p {shlex.quote(str(bucket))} && exec {shlex.quote(ctx.python)} -m "
                                    "agent backup --json"], env)
    return command


def _plain_restore(ctx: Context, temp: Path) -> Command:
    return Command(["mariadb", f"--defaults-extra-file={ctx.target_cnf}"], _base_env(ctx, temp), stdin=ctx.dump_file)


def _agent_restore(ctx: Context, temp: Path) -> Command:
    env = {**_base_env(ctx, temp), **ctx.s3_env, **ctx.target_env,
           "BACKUP_URL": f"s3://{BUCKET}/{RESTORE_PREFIX}", "BACKUP_TMPDIR": str(temp)}
    return Command([ctx.python, "-m", "agent", "restore", "--latest", "--yes", "--json"], env)


def _agent_restore_serial(ctx: Context, temp: Path) -> Command:
    command = _agent_restore(ctx, temp)
    return Command([*command.argv, "--parallel", "1"], command.env)


def _myloader(ctx: Context, temp: Path) -> Command:
    argv = ["myloader", f"--defaults-file={ctx.target_cnf}", f"--directory={ctx.mydumper_dir}",
            f"--threads={ctx.mydumper_threads}", "--overwrite-tables", "--verbose=1"]
    return Command(argv, _base_env(ctx, temp))


def _last_line_int(m: Measurement, temp: Path) -> int | None:
    lines = m.stdout.split()
    return int(lines[-1]) if lines and lines[-1].isdigit() else None


def _agent_size(m: Measurement, temp: Path) -> int | None:
    try:
        return int(json.loads(m.stdout)["compressed_bytes"])
    except (ValueError, KeyError):
        return None


VARIANTS = [
    Variant("a", "mariadb-dump > /dev/null", "backup", _floor, lambda m, t: None),
    Variant("b", "seed pipeline (dump, tar czf, sha1sum, upload)", "backup", _seed, _last_line_int),
    Variant("c", "mydumper --compress", "backup", _mydumper, _last_line_int),
    Variant("l", "mydumper (uncompressed files)", "backup", lambda c, t: _mydumper(c, t, compress=False),
            _last_line_int),
    Variant("d", f"backup tar.gz, {PARALLEL_THREADS} dump threads", "backup", _agent_backup("tar.gz", PARALLEL_THREADS),
            _agent_size),
    Variant("e", f"backup sql.gz, {PARALLEL_THREADS} dump threads", "backup", _agent_backup("sql.gz", PARALLEL_THREADS),
            _agent_size),
    Variant("f", f"backup sql.zst, {PARALLEL_THREADS} dump threads", "backup",
            _agent_backup("sql.zst", PARALLEL_THREADS),
            _agent_size),
    Variant("m", "backup tar.gz, 1 dump thread", "backup", _agent_backup("tar.gz", 1), _agent_size),
    Variant("n", "backup sql.gz, 1 dump thread", "backup", _agent_backup("sql.gz", 1), _agent_size),
    Variant("o", "backup sql.zst, 1 dump thread", "backup", _agent_backup("sql.zst", 1), _agent_size),
    Variant("g", "mariadb < dump.sql", "restore", _plain_restore, lambda m, t: None),
    Variant("h", "restore --latest (tar.gz from S3; defaults: verify first, parallel)", "restore", _agent_restore,
            lambda m, t: None),
    Variant("i", f"backup sql.gz to a local dir (no S3), {PARALLEL_THREADS} dump threads", "backup",
            _agent_backup_local(PARALLEL_THREADS), _agent_size),
    Variant("p", "backup sql.gz to a local dir, 1 dump thread", "backup", _agent_backup_local(1), _agent_size),
    Variant("j", "restore --latest --parallel 1 (serial)", "restore", _agent_restore_serial, lambda m, t: None),
    Variant("k", "myloader (mydumper dump)", "restore", _myloader, lambda m, t: None),
]
BY_KEY = {v.key: v for v in VARIANTS}
PYTHON = sys.executable
