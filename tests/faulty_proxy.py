"""A reverse proxy in front of a real `mlflow server` that can be told to fail some requests.

Everything is forwarded (REST calls and proxied artifact uploads and downloads) until the proxy
is armed with a path pattern: then matching requests are answered ``503`` — at once, or after
``after`` matching requests went through. A 503 is what a load balancer in front of a dead
MLflow answers; MLflow's client retries it and then reports an outage (mlgate: exit 3).
Another ``status`` is answered the way a gateway does, with a plain-text body (``502 Bad
Gateway``, ``404 Not Found``), unless ``body`` says otherwise::

    with FaultyProxy(server_url) as proxy:
        proxy.fail(r"/model-versions/set-tag")   # every version tag write now fails
        ...
        proxy.disarm()
"""

from __future__ import annotations

import http.client
import json
import re
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

# Per-hop headers a proxy must not forward (RFC 9110 7.6.1), plus what it recomputes.
_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "host",
}

_UNAVAILABLE = b'{"error_code": "TEMPORARILY_UNAVAILABLE", "message": "injected by FaultyProxy"}'


@dataclass
class Seen:
    """One request the proxy handled."""

    method: str
    path: str
    status: int
    failed: bool


class FaultyProxy:
    """A threaded HTTP reverse proxy on 127.0.0.1 in front of ``upstream``."""

    def __init__(self, upstream: str, timeout: float = 60) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.timeout = timeout
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None
        self._after = 0
        self._times: int | None = None
        self._matched = 0
        self._status = 503
        self._body: tuple[str, bytes] = ("", b"")
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # -- control
    def fail(
        self,
        pattern: str,
        *,
        after: int = 0,
        status: int = 503,
        body: bytes | None = None,
        times: int | None = None,
    ) -> FaultyProxy:
        """Answer ``status`` to requests whose path matches ``pattern`` (``re.search``).

        The first ``after`` matching requests still go through; every later one fails until
        :meth:`disarm` (or, with ``times``, until that many have failed). The body: ``body`` (sent
        as JSON when it parses as JSON, else as text);
        by default MLflow's TEMPORARILY_UNAVAILABLE JSON for a 503, else ``"<status> <reason>"``
        as text, as a gateway in front of MLflow answers.
        """
        if body is None:
            body = _UNAVAILABLE if status == 503 else f"{status} {HTTPStatus(status).phrase}\n".encode()
        try:
            json.loads(body)
            kind = "application/json"
        except ValueError:
            kind = "text/plain; charset=utf-8"
        with self._lock:
            self._pattern, self._after, self._matched, self._status = re.compile(pattern), after, 0, status
            self._times = times
            self._body = (kind, body)
        return self

    def disarm(self) -> None:
        with self._lock:
            self._pattern = None

    @property
    def failed(self) -> list[Seen]:
        """The requests answered with an injected failure."""
        with self._lock:
            return [s for s in self.seen if s.failed]

    def _should_fail(self, path: str) -> bool:
        with self._lock:
            if self._pattern is None or not self._pattern.search(path):
                return False
            self._matched += 1
            if self._times is not None and self._matched > self._after + self._times:
                return False
            return self._matched > self._after

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    # -- lifecycle
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the handler
    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                body = self._body()
                if proxy._should_fail(self.path):
                    kind, message = proxy._body
                    # recorded before the reply: a client that has its answer finds it in `seen`
                    proxy._record(Seen(self.command, self.path, proxy._status, True))
                    self._reply(proxy._status, [("Content-Type", kind)], message)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream_host, proxy.upstream_port, timeout=proxy.timeout)
                try:
                    conn.request(self.command, self.path, body=body, headers=headers)
                    answer = conn.getresponse()
                    payload = answer.read()
                    kept = [(k, v) for k, v in answer.getheaders() if k.lower() not in _HOP_BY_HOP]
                    proxy._record(Seen(self.command, self.path, answer.status, False))
                    self._reply(answer.status, kept, payload)
                finally:
                    conn.close()

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    chunks = []
                    while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()  # the CRLF after each chunk
                    while self.rfile.readline().strip():  # trailers, up to the empty line
                        pass
                    return b"".join(chunks)
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _reply(self, status: int, headers: list[tuple[str, str]], payload: bytes) -> None:
                self.send_response(status)
                for key, value in headers:
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: the test output is about mlgate

        return Handler
