"""``verify`` of a physical backup: every backup of its chain checked, the chain itself checked unbroken,
and with ``--restore-test`` the chain prepared and started in a throwaway server (agent.physical_drill)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from typing import Any

from agent.catalog import BackupEntry
from shared.config import ConfigValues, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.manifest import Manifest
from shared.storage import Storage


def verify_physical(args: argparse.Namespace, config: ConfigValues, manifest: Manifest, *,
                    entries: list[BackupEntry], storage: Storage) -> int:
    from agent.chains import BrokenChainError, chain_of, complete_by_id
    from agent.commands.verify import summary
    from agent.decryption import identities_for
    from agent.physical_drill import run_physical_drill
    from agent.run_dir import private_run_dir
    from agent.signals import signals_raise_terminated
    from agent.verifying import VerifyFailedError, verify_backup

    decryption = load_decryption_settings(config)
    try:
        chain = chain_of(manifest, complete_by_id(e.manifest for e in entries if e.manifest is not None))
    except BrokenChainError as exc:
        result: dict[str, Any] = {"backup_id": manifest.id, "ok": False, "problems": [str(exc)], "chain": []}
        print(json.dumps(result) if args.json else summary(result))
        raise VerifyFailedError(str(exc)) from None
    identities = {m.id: identities_for(m, decryption, required=args.restore_test) for m in chain}
    with signals_raise_terminated():
        reports = [verify_backup(storage, m, identities=identities[m.id]) for m in chain]
        problems = [f"{r.backup_id}: {p}" for r in reports for p in r.problems]
        result = {**asdict(reports[-1]), "problems": problems, "ok": not problems,
                  "chain": [asdict(r) for r in reports]}
        if not problems and args.restore_test:
            with private_run_dir(load_tmp_dir(config)) as run_dir:
                drill = run_physical_drill(storage, chain, run_dir=run_dir,
                                           identities=[k for ids in identities.values() for k in ids])
                result["restore_test"] = asdict(drill)
    print(json.dumps(result) if args.json else _chain_line(chain) + summary(result))
    if problems:
        raise VerifyFailedError(f"backup {manifest.id} failed verification: " + "; ".join(problems))
    return 0


def _chain_line(chain: list[Manifest]) -> str:
    if len(chain) == 1:
        return ""
    return f"chain {' -> '.join(m.id for m in chain)}: unbroken, every backup checked\n"
