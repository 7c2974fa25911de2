"""``python -m bench.parse_speed DUMP.sql [--reps 3]``: how fast ``agent.common.dumpfile`` cuts a real dump.

Reads the file once into the page cache, then times ``read_units`` over it (best of ``--reps``) and
checks that the units put back together are the file. The parser must stay far above the speed a
MariaDB server loads rows (~10-20 MB/s per session here), so it never becomes the restore's bottleneck.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

from agent.common.dumpfile import read_units


def parse_once(path: Path) -> tuple[float, int, str]:
    digest = hashlib.sha1(usedforsecurity=False)
    started = time.perf_counter()
    with path.open("rb", buffering=0) as dump:
        count = 0
        for unit in read_units(dump):
            count += 1
            digest.update(unit.data)
    return time.perf_counter() - started, count, digest.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dump", type=Path)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args()
    size = args.dump.stat().st_size
    expected = hashlib.sha1(args.dump.read_bytes(), usedforsecurity=False).hexdigest()
    runs = [parse_once(args.dump) for _ in range(args.reps)]
    best = min(seconds for seconds, _, _ in runs)
    assert all(digest == expected for _, _, digest in runs), "units do not reproduce the dump"
    print(f"{size / 1e6:.1f} MB, {runs[0][1]} units, best of {args.reps}: {best:.2f} s = {size / 1e6 / best:.0f} MB/s")
    print("units put back together == the dump (SHA1)")


if __name__ == "__main__":
    main()
