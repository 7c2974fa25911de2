"""A fault-injecting HTTP proxy for the storage emulators (moto, Azurite, fake-gcs-server).

The SDK is pointed at the proxy (``server.env_for(proxy.endpoint)``); the proxy forwards each request
to the real emulator unless a ``Fault`` matches it, in which case it injects what a cloud does on a
bad day: a connection reset, a 500/503 answer, a slow answer. Faults are armed for ``times``
matching requests (``None``: forever), so "fails twice, then works" and "always fails" are both one
line. ``commit_call`` matches each backend's final commit (S3 CompleteMultipartUpload, Azure
PutBlockList, the GCS resumable chunk that carries the total size) and ``upload_call`` any request
that carries upload data.

``proxy.injected`` lists the faults actually injected, so a test can first check that its fault
really happened (a fault test that never injects anything would pass for the wrong reason).

The TCP-level ``FaultProxy`` in ``storage_servers`` cuts raw connections; this one understands HTTP,
which is what "fail only the commit" or "answer 503" needs.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]


@dataclass
class Fault:
    """``action``: ``"reset"`` (TCP RST after reading the request), ``"status"`` (answer ``status``
    without forwarding), ``"slow"`` (wait ``delay`` seconds, then forward), ``"lose-response"``
    (forward, so the server acts on it, then reset instead of answering: the client cannot know),
    ``"cut"`` (forward, answer the headers and the first ``after_bytes`` of the body, then reset: a
    download broken part-way), ``"stall"`` (the same, then go silent for ``delay`` seconds)."""

    when: Callable[[Request], bool]
    action: str
    status: int = 503
    delay: float = 0.0
    times: int | None = 1
    name: str = ""
    after_bytes: int = 0


def commit_call(request: Request) -> bool:
    """The request that makes an uploaded object exist, on each backend."""
    if request.method == "POST" and "uploadId" in request.query:  # S3 CompleteMultipartUpload
        return True
    if request.method == "PUT" and request.query.get("comp") == "blocklist":  # Azure PutBlockList
        return True
    content_range = request.headers.get("content-range", "")
    # GCS resumable upload: the final chunk is the one that states the total size ("bytes a-b/total").
    return request.method == "PUT" and "upload_id" in request.query and not content_range.endswith("/*")


def upload_call(request: Request) -> bool:
    """Any request carrying object data or finishing an upload (parts, blocks, chunks, single puts)."""
    return request.method in ("PUT", "POST") and (
        int(request.headers.get("content-length", "0") or 0) > 0 or commit_call(request)
    )


def any_call(request: Request) -> bool:
    return True


@dataclass
class HttpFaultProxy:
    upstream_port: int
    faults: list[Fault] = field(default_factory=list)
    injected: list[str] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._in_flight = 0
        proxy = self

        class Handler(_ForwardingHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port: int = self._server.server_address[1]
        self.endpoint = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self._server.serve_forever, name="http-fault-proxy", daemon=True).start()

    def add(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    @property
    def in_flight(self) -> int:
        """Requests received and not yet answered (a held request still on its way to the emulator)."""
        with self._lock:
            return self._in_flight

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _pick(self, request: Request) -> Fault | None:
        with self._lock:
            self.requests.append(request)
            for fault in self.faults:
                if (fault.times is None or fault.times > 0) and fault.when(request):
                    if fault.times is not None:
                        fault.times -= 1
                    self.injected.append(f"{fault.name or fault.action} {request.method} {request.path}")
                    return fault
        return None


class _ForwardingHandler(BaseHTTPRequestHandler):
    owner: HttpFaultProxy
    protocol_version = "HTTP/1.1"  # keep-alive like a real endpoint; SDKs pool connections

    def log_message(self, format: str, *args: object) -> None:  # signature from the base class
        pass

    def _handle(self) -> None:
        with self.owner._lock:
            self.owner._in_flight += 1
        try:
            self._handle_one()
        finally:
            with self.owner._lock:
                self.owner._in_flight -= 1

    def _handle_one(self) -> None:
        body = self._read_body()
        parts = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=parts.path,
            query={k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()},
            headers={k.lower(): v for k, v in self.headers.items()},
        )
        fault = self.owner._pick(request)
        if fault is not None and fault.action == "reset":
            self._reset()
            return
        if fault is not None and fault.action == "status":
            self._answer(fault.status, [("Content-Type", "application/xml")],
                         b"<?xml version='1.0'?><Error><Code>ServiceUnavailable</Code>"
                         b"<Message>injected by the test proxy</Message></Error>")
            return
        if fault is not None and fault.action == "slow":
            time.sleep(fault.delay)
        if fault is not None and fault.action == "lose-response":
            self._forward(body, answer=False)
            self._reset()
            return
        self._forward(body, cut=fault if fault is not None and fault.action in ("cut", "stall") else None)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = _handle

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length", "0") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes, *, answer: bool = True, cut: Fault | None = None) -> None:
        upstream = http.client.HTTPConnection("127.0.0.1", self.owner.upstream_port, timeout=120)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("transfer-encoding", "content-length")}
        if body or self.command in ("PUT", "POST", "PATCH"):
            headers["Content-Length"] = str(len(body))
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            response = upstream.getresponse()
            data = response.read()
            if not answer:
                return
            out_headers = [(k, self._rewrite(v)) for k, v in response.getheaders()
                           if k.lower() not in ("transfer-encoding", "content-length", "connection")]
            if "json" in (response.getheader("Content-Type") or ""):
                data = self._rewrite(data.decode()).encode()
            if cut is not None:
                self._answer_part(response.status, out_headers, data, cut)
                return
            self._answer(response.status, out_headers, data, head=self.command == "HEAD",
                         length=response.getheader("Content-Length"))
        finally:
            upstream.close()

    def _rewrite(self, text: str) -> str:
        # fake-gcs-server hands out session URLs on its own port: keep the client on the proxy.
        return text.replace(f"127.0.0.1:{self.owner.upstream_port}", f"127.0.0.1:{self.owner.port}")

    def _answer(self, status: int, headers: list[tuple[str, str]], data: bytes, *, head: bool = False,
                length: str | None = None) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", length if head and length else str(len(data)))
        self.end_headers()
        if not head:
            self.wfile.write(data)

    def _answer_part(self, status: int, headers: list[tuple[str, str]], data: bytes, fault: Fault) -> None:
        """The full answer's headers, ``fault.after_bytes`` of its body, then silence and/or a reset."""
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[: fault.after_bytes])
        self.wfile.flush()
        if fault.action == "stall":
            time.sleep(fault.delay)
        self._reset()

    def _reset(self) -> None:
        """Abort the connection with an RST: the client sees "connection reset by peer"."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()


@pytest.fixture
def http_fault_proxy() -> Iterator[Callable[[int], HttpFaultProxy]]:
    """``http_fault_proxy(port)`` -> a started ``HttpFaultProxy`` in front of 127.0.0.1:port, stopped after."""
    proxies: list[HttpFaultProxy] = []

    def start(upstream_port: int) -> HttpFaultProxy:
        proxies.append(HttpFaultProxy(upstream_port))
        return proxies[-1]

    yield start
    for proxy in proxies:
        proxy.stop()
