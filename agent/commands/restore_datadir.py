"""``restore --datadir DIR [ID | --latest | --at TIME | --until TIME]``: a physical backup (and its chain) made
into a data directory, with ``--until`` the archived binlog replayed on it. The options that only mean
something for a SQL load are refused here, with one line."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime

from shared.config import ConfigValues, load_destination, load_retry
from shared.encryption import load_decryption_settings
from shared.errors import BadInputError
from shared.manifest import PHYSICAL

# Logical-only options of `restore`, as the user typed them: (attribute, flag, its default).
_LOGICAL_ONLY = (("database", "--database", None), ("parallel", "--parallel", None))


def _refuse_logical_options(args: argparse.Namespace) -> None:
    """Exit 2, before anything is read, for options a data directory cannot honour, or a bad target."""
    from agent.physical_restore import check_datadir_target, check_owner

    for attribute, flag, default in _LOGICAL_ONLY:
        if getattr(args, attribute) != default:
            raise BadInputError(f"{flag} applies to logical backups; a physical restore (--datadir) restores "
                                "the whole data directory")
    check_datadir_target(args.datadir)
    if args.owner:
        check_owner(args.owner)


def run_datadir(args: argparse.Namespace, config: ConfigValues, *, at: datetime | None) -> int:
    from agent.bucket import open_bucket
    from agent.catalog import scan_backups, select_backup
    from agent.chains import chain_of, complete_by_id
    from agent.decryption import identities_for
    from agent.physical_restore import restore_datadir
    from agent.progress import byte_progress
    from agent.signals import signals_raise_terminated

    _refuse_logical_options(args)
    decryption = load_decryption_settings(config)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    entry = select_backup(entries, backup_id=args.backup_id, latest=args.latest, at=at)
    assert entry.manifest is not None  # select_backup returns complete backups only
    if entry.manifest.method != PHYSICAL:
        raise BadInputError(f"backup {entry.backup_id} is a logical backup (SQL): restore it into a server "
                            "(--host), not with --datadir")
    chain = chain_of(entry.manifest, complete_by_id(e.manifest for e in entries if e.manifest is not None))
    identities = {m.id: identities_for(m, decryption) for m in chain}  # exit 2 before any download
    keys = [k for ids in identities.values() for k in ids]
    with signals_raise_terminated(), byte_progress("restore") as progress:
        result = restore_datadir(bucket.storage, chain, datadir=args.datadir, identities=keys,
                                 progress=progress, owner=args.owner)
    if args.json:
        print(json.dumps(asdict(result)))
    else:
        print(f"restored backup {result.backup_id} into data directory {result.datadir} in {result.seconds} s\n"
              f"  chain {' -> '.join(result.chain)}: {result.stored_bytes:,} bytes downloaded, every SHA1 checked; "
              "prepared\n  start it: mariadbd --datadir=" + result.datadir
              + "".join(f"\n  note: {n}" for n in result.notes))
    return 0


def run_until_datadir(args: argparse.Namespace, config: ConfigValues) -> int:
    """``--until TIME --datadir DIR``: the newest physical base that reaches TIME, prepared, then replayed."""
    from agent.bucket import open_bucket
    from agent.catalog import parse_time, scan_backups
    from agent.chains import chain_of, complete_by_id
    from agent.commands.restore_until import summary
    from agent.credentials import resolve_password
    from agent.decryption import configured_identities
    from agent.physical_point import restore_datadir_to_point
    from agent.pitr_planning import plan_point_in_time
    from agent.progress import byte_progress
    from agent.run_dir import private_run_dir
    from agent.signals import signals_raise_terminated
    from agent.throwaway_server import ThrowawayServer
    from shared.config import load_source, load_tmp_dir
    from shared.logs import register_secret

    _refuse_logical_options(args)
    until = parse_time(args.until, flag="--until")
    source = load_source(config)  # the copy's accounts are the source's: the replay logs in as the source's user
    password = resolve_password(source)
    register_secret(password)
    bucket = open_bucket(load_destination(config), load_retry(config))
    entries = scan_backups(bucket.storage, prefix=bucket.prefix)
    identities = configured_identities(load_decryption_settings(config), what="the backup and binlog segments")
    with signals_raise_terminated(), private_run_dir(load_tmp_dir(config)) as run_dir, \
            byte_progress("restore") as progress:
        plan = plan_point_in_time(bucket.storage, prefix=bucket.prefix, backups=entries, until=until,
                                  work_dir=run_dir, identities=identities, method=PHYSICAL)
        chain = chain_of(plan.backup, complete_by_id(e.manifest for e in entries if e.manifest is not None))
        result = restore_datadir_to_point(
            bucket.storage, plan, chain, datadir=args.datadir, user=source.user, password=password, run_dir=run_dir,
            start_server=lambda datadir: ThrowawayServer(datadir=datadir), identities=identities,
            progress=progress, owner=args.owner)
    print(json.dumps(asdict(result)) if args.json else summary(result, target=f"data directory {args.datadir}"))
    return 0
