"""``python -m bench run --size 500M [--reps 3] [--variants abcdefgh]`` and ``python -m bench report``.

``run`` generates the dataset into a throwaway MariaDB, starts moto and a restore target, measures the
variants (see bench/variants.py) and writes ``bench/results/<size>.json``, then refreshes
``bench/results/results.md`` and ``results.png`` from every results file. ``report`` only refreshes those.
"""

from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

from bench.report import markdown, write_report
from bench.run import run_benchmark, write_results

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def parse_size(text: str) -> int:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)([KMG]?)B?", text.strip().upper())
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (examples: 100M, 0.5G, 2G)")
    return int(float(match[1]) * {"": 1, "K": 10**3, "M": 10**6, "G": 10**9}[match[2]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="generate a dataset and measure every variant")
    run.add_argument("--size", type=parse_size, default=parse_size("500M"), help="raw dump size (default 500M)")
    run.add_argument("--reps", type=int, default=3, help="alternating repetitions (default 3)")
    run.add_argument("--variants", default="abcdefghijklmnop", help="which variants, by letter (default all)")
    run.add_argument("--name", help="results file name (default: the size, e.g. 500M)")
    run.add_argument("--mydumper-threads", type=int, default=2, help="mydumper --threads (default: 2 = cores)")
    run.add_argument("--work", type=Path, default=HERE / "work", help="scratch directory (default bench/work)")
    run.add_argument("--keep-work", action="store_true", help="keep the scratch directory")
    sub.add_parser("report", help="rewrite results.md and results.png from bench/results/*.json")
    args = parser.parse_args(argv)
    if args.command == "run":
        work = args.work / f"run-{args.name or args.size}"
        result = run_benchmark(size_bytes=args.size, reps=args.reps, keys=args.variants, work=work,
                               mydumper_threads=args.mydumper_threads)
        path = write_results(result, out_dir=RESULTS, name=args.name or _size_name(args.size))
        print(markdown(result))
        print(f"wrote {path}", file=sys.stderr)
        if not args.keep_work:
            shutil.rmtree(work, ignore_errors=True)
    md, png = write_report(sorted(RESULTS.glob("*.json")), out_dir=RESULTS)
    print(f"wrote {md} and {png}", file=sys.stderr)
    return 0


def _size_name(size: int) -> str:
    return f"{size / 10**9:g}G" if size >= 10**9 else f"{size / 10**6:g}M"


if __name__ == "__main__":
    sys.exit(main())
