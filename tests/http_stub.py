"""The one HTTP server the tests stand in for a provider's or a receiver's far end with:
a real server on a local address that records every request and answers through a
function the test gives it."""

from __future__ import annotations

import contextlib
import json
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, list[str]]:
        return parse_qs(self.body.decode())


@dataclass
class Answer:
    status: int = 204
    headers: dict[str, str] | None = None
    body: bytes = b""


# Called with the request and how many requests came before it (0 for the first).
Answerer = Callable[[Request, int], Answer]


class HttpStub:
    """Serves on `address:port` (port 0: any free one), over TLS with `tls`. Every
    request is recorded in `requests` (unless `keep` is false) and answered by
    `answer`. Use it as a context manager, or call `close()`."""

    def __init__(
        self,
        answer: Answerer | None = None,
        *,
        address: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
        keep: bool = True,
    ) -> None:
        self.requests: list[Request] = []
        self.count = 0
        self.lock = threading.Lock()
        respond = answer or (lambda request, before: Answer())
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                request = Request(
                    self.command, self.path, dict(self.headers), self.rfile.read(length)
                )
                with stub.lock:
                    before = stub.count
                    stub.count += 1
                    if keep:
                        stub.requests.append(request)
                reply = respond(request, before)
                self.send_response(reply.status)
                for name, value in (reply.headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                with contextlib.suppress(OSError):  # the client may have given up
                    self.wfile.write(reply.body)

            do_GET = do_POST = do_PUT = _serve

        self.server = ThreadingHTTPServer((address, port), Handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.url = f"{'https' if tls else 'http'}://{address}:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
