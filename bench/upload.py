"""``python -m bench.upload BUCKET PREFIX FILE...``: the seed pipeline's upload step.

boto3's ``upload_file`` with its default transfer settings, as ``aws s3 cp`` would do it (the AWS CLI
uses the same s3transfer library), so the seed baseline is neither handicapped nor tuned.
"""

from __future__ import annotations

import sys
from pathlib import Path

import boto3


def main(argv: list[str]) -> int:
    bucket, prefix, *files = argv
    client = boto3.session.Session().client("s3")
    for name in files:
        client.upload_file(name, bucket, f"{prefix}/{Path(name).name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
