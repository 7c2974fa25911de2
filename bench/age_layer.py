"""``python -m bench.age_layer --size-mib 1024``: cost of the age layer alone (shared.encryption).

Streams SIZE MiB of incompressible bytes (what a compressor hands the layer) through
``encrypting_reader`` into a SHA1, then the stored bytes through ``decrypting_reader``, each in a
fresh child process, and reports wall time, throughput and peak RSS (``ru_maxrss``) of each, so the
claim "memory does not grow with the artifact" is a measurement: run it with two sizes.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHUNK = 1 << 20


class _Source(io.RawIOBase):
    """SIZE bytes of random data without holding them: one random MiB, repeated."""

    def __init__(self, size: int) -> None:
        self._left = size
        self._block = os.urandom(CHUNK)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        n = min(len(buffer), self._left, CHUNK)
        buffer[:n] = self._block[:n]
        self._left -= n
        return n


def _drain(stream, sink=None) -> int:  # type: ignore[no-untyped-def]
    digest, total = hashlib.sha1(usedforsecurity=False), 0
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
        total += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return total


def child(mode: str, size_mib: int, key: Path, stored: Path) -> None:
    from shared.encryption import decrypting_reader, encrypting_reader
    from shared.encryption.keys import parse_identities

    identities = parse_identities(key.read_text(), source="bench key")
    started = time.perf_counter()
    if mode == "encrypt":
        with stored.open("wb") as sink:
            total = _drain(encrypting_reader(io.BufferedReader(_Source(size_mib << 20)),
                                             [str(identities[0].to_public())]), sink)
    else:
        with stored.open("rb") as source:
            total = _drain(decrypting_reader(source, identities, what="bench"))
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{mode}: {total / 2**20:,.0f} MiB out in {seconds:.2f} s = {total / seconds / 1e6:,.0f} MB/s, "
          f"peak RSS {rss:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--child", choices=["encrypt", "decrypt"], help=argparse.SUPPRESS)
    parser.add_argument("--key", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--stored", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.size_mib, args.key, args.stored)
        return
    with tempfile.TemporaryDirectory() as work:
        key, stored = Path(work, "key.txt"), Path(work, "stored.age")
        subprocess.run(["age-keygen", "-o", str(key)], check=True, capture_output=True)
        for mode in ("encrypt", "decrypt"):
            subprocess.run([sys.executable, "-m", "bench.age_layer", "--child", mode, "--size-mib",
                            str(args.size_mib), "--key", str(key), "--stored", str(stored)], check=True)


if __name__ == "__main__":
    main()
