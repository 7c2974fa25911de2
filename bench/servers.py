"""The servers a benchmark run talks to: throwaway MariaDB source and restore target, and moto (S3).

Both MariaDB servers get the same settings, sized for loading gigabytes rather than for a unit test
(the product's own throwaway server is tuned to start small). Durability settings are relaxed equally
on both, because the benchmark measures the backup and restore pipelines, not the disk's fsync rate.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from agent.drill.throwaway_server import ThrowawayServer, free_port
from shared.processes import stop_process

SERVER_ARGS = (
    "--innodb-buffer-pool-size=1G",
    "--innodb-log-file-size=512M",
    "--innodb-flush-log-at-trx-commit=2",
    "--max-allowed-packet=256M",
    "--skip-log-bin",
)
S3_ENV = {
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
    "AWS_REGION": "us-east-1",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_EC2_METADATA_DISABLED": "true",
}


class BenchServer(ThrowawayServer):
    """A throwaway server with a root password for TCP logins, and a client option file holding it."""

    def __init__(self, *, base_dir: Path) -> None:
        # Its own tmpdir: the server's internal temp tables must not live in a /tmp that other
        # programs clean up (a vanished Aria temp file crashed a server here once).
        self.tmpdir = Path(tempfile.mkdtemp(prefix="mariadb-tmp-", dir=base_dir))
        super().__init__(base_dir=base_dir, extra_args=(*SERVER_ARGS, f"--tmpdir={self.tmpdir}"))
        self.password = ""

    def start(self) -> BenchServer:
        super().start()
        self.password = "bench-" + secrets.token_hex(8)
        self.set_root_password(self.password)
        return self

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.tmpdir, ignore_errors=True)

    def write_option_file(self, path: Path) -> Path:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"[client]\nhost=127.0.0.1\nport={self.port}\nuser=root\npassword={self.password}\n"
                    "default-character-set=utf8mb4\n")
        return path

    def agent_env(self) -> dict[str, str]:
        return {"MARIADB_HOST": "127.0.0.1", "MARIADB_PORT": str(self.port), "MARIADB_USER": "root",
                "MARIADB_PASSWORD": self.password}

    def drop_user_databases(self) -> None:
        names = self.execute("SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN "
                             "('mysql', 'information_schema', 'performance_schema', 'sys')").split()
        self.execute("".join(f"DROP DATABASE `{name}`;" for name in names))


class MotoS3:
    """``python -m moto.server`` on a free port (a separate process: its memory is not ours)."""

    def __init__(self, *, log: Path) -> None:
        self.log = log
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {**S3_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):  # type: ignore[no-untyped-def]  # boto3 client, typed by stubs only
        import boto3

        return boto3.session.Session().client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                                              aws_access_key_id="bench",
                                              aws_secret_access_key="bench")  # noqa: S106  # moto accepts any

    def __enter__(self) -> MotoS3:
        self.port = free_port()
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1",
                                             "-p", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.endpoint, timeout=1).close()  # noqa: S310  # our own http URL
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"moto did not start, see {self.log}")

    def empty_bucket(self, bucket: str, *, prefix: str = "") -> None:
        """Delete every object under ``prefix`` so moto's memory does not grow with the repetitions."""
        client = self.client()
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket, Key=item["Key"])

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.process is not None:
            stop_process(self.process, grace_seconds=10)
