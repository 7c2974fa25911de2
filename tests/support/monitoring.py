"""Real monitoring endpoints for tests: a Prometheus Pushgateway and a webhook receiver on loopback.

* ``pushgateway``: Debian's ``prometheus-pushgateway`` on a free 127.0.0.1 port, in memory and fresh
  per test (no group leaks between tests); ``.url``, ``.scrape()`` → {(metric name, labels): value} read from its
  ``/metrics`` with prometheus_client's parser, ``.stop()`` to make it unreachable mid-test.
* ``webhook``: an ``http.server`` on 127.0.0.1 recording every request (path, JSON body); ``.url``;
  ``.fail_next(n, status)`` answers the next n requests with ``status`` (retry tests).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.processes import stop_process
from tests.support.storage_servers import free_port

Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


class Pushgateway:
    def __init__(self, log: Path) -> None:
        binary = shutil.which("prometheus-pushgateway")
        assert binary, "prometheus-pushgateway is missing: scripts/bootstrap installs it (Debian package)"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log.open("wb")
        # Debian's build persists to /var/lib/prometheus/pushgateway.data by default: an empty
        # --persistence.file keeps each test's gateway in memory, isolated from every other.
        self.process = subprocess.Popen([binary, f"--web.listen-address=127.0.0.1:{self.port}", "--persistence.file="],
                                        stdout=self._log, stderr=subprocess.STDOUT)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1):  # noqa: S310 (our own http URL)
                    return
            except OSError:
                assert self.process.poll() is None, "pushgateway exited at start"
                time.sleep(0.05)
        raise AssertionError("pushgateway did not become ready")

    def scrape(self) -> Series:
        with urllib.request.urlopen(f"{self.url}/metrics", timeout=5) as response:  # noqa: S310 (our own http URL)
            text = response.read().decode()
        return parse_series(text)

    def stop(self) -> None:
        stop_process(self.process, grace_seconds=5)
        self._log.close()


def parse_series(text: str) -> Series:
    """Every sample as {(name, sorted labels): value}."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def backup_series(series: Series, prefix: str = "mariadb_ha_backup_") -> dict[str, tuple[dict[str, str], float]]:
    """Our gauges by name → (labels, value); asserts each name appears once (one group, no pod label)."""
    found: dict[str, tuple[dict[str, str], float]] = {}
    for (name, labels), value in series.items():
        if name.startswith(prefix):
            assert name not in found, f"{name} appears in more than one series: {series}"
            found[name] = (dict(labels), value)
    return found


@pytest.fixture
def pushgateway(tmp_path: Path) -> Iterator[Pushgateway]:
    gateway = Pushgateway(tmp_path / "pushgateway.log")
    yield gateway
    gateway.stop()


@dataclass
class WebhookReceiver:
    url: str = ""
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    raw_bodies: list[bytes] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)  # statuses to answer next, first first

    def fail_next(self, count: int, status: int) -> None:
        self.failures.extend([status] * count)


@pytest.fixture
def webhook() -> Iterator[WebhookReceiver]:
    receiver = WebhookReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # http.server's naming
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.raw_bodies.append(body)
            receiver.requests.append((self.path, json.loads(body)))
            status = receiver.failures.pop(0) if receiver.failures else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, format: str, *args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/ping/3f2a"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
