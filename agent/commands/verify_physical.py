"""``verify`` of a physical backup: its chain checked link by link (agent.verify), and with ``--restore-test``
the chain prepared and started in a throwaway server (agent.drill)."""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict

from agent.common import BackupEntry
from shared.config import ConfigValues, load_tmp_dir
from shared.encryption import load_decryption_settings
from shared.errors import VerifyFailedError
from shared.manifest import Manifest
from shared.storage import Storage


def verify_physical(args: argparse.Namespace, config: ConfigValues, manifest: Manifest, *,
                    entries: list[BackupEntry], storage: Storage) -> int:
    from agent.commands.verify import summary
    from agent.common import (
        BrokenChainError,
        chain_of,
        complete_by_id,
        identities_for,
        private_run_dir,
        signals_raise_terminated,
    )
    from agent.drill import run_physical_drill
    from agent.verify import verify_chain

    decryption = load_decryption_settings(config)
    backups = complete_by_id(e.manifest for e in entries if e.manifest is not None)
    # Without an identity, plain verify checks what needs no key; the drill needs the content.
    try:
        needed = chain_of(manifest, backups)
    except BrokenChainError:
        needed = [manifest]  # verify_chain reports the break
    identities = {m.id: identities_for(m, decryption, required=args.restore_test) for m in needed}
    with signals_raise_terminated():
        report = verify_chain(storage, manifest, backups=backups, identities=identities)
        result = report.as_json()
        if report.ok and args.restore_test:
            with private_run_dir(load_tmp_dir(config)) as run_dir:
                keys = [k for m in report.chain for k in identities[m.id]]
                result["restore_test"] = asdict(run_physical_drill(storage, report.chain, run_dir=run_dir,
                                                                   identities=keys))
    if args.json:
        print(json.dumps(result))
    else:
        chain = " -> ".join(m.id for m in report.chain)
        print((f"chain {chain}: unbroken, every backup checked\n" if len(report.chain) > 1 else "") + summary(result))
    if not report.ok:
        raise VerifyFailedError(f"backup {manifest.id} failed verification: " + "; ".join(report.problems))
    return 0
