"""Real local servers for provider tests: an SMTP sink (aiosmtpd) and a Postmark-style
HTTP stub, both on 127.0.0.1, each in a thread of the test process (worker processes
reach them over TCP like any provider)."""

from __future__ import annotations

import email
import json
import logging
import socket
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import Message as EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from aiosmtpd.controller import Controller

logging.getLogger("mail.log").setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _SinkHandler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if "reject" in address:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed: EmailMessage = email.message_from_bytes(envelope.content)
        with self.sink.lock:
            self.sink.ids[str(parsed["Message-ID"])] += 1
            if self.sink.keep:
                self.sink.messages.append(parsed)
                self.sink.raw.append(bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"


class SmtpSink:
    """Records every message's Message-ID (and the messages, unless keep=False)."""

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self.ids: Counter[str] = Counter()
        self.messages: list[EmailMessage] = []
        self.raw: list[bytes] = []  # as received, for signature checks
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(_SinkHandler(self), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(self.ids)


@dataclass
class HttpStub:
    """Answers POSTs like Postmark's batch endpoint. `script` is a list of (status,
    headers) to answer the next requests with before answering normally; recipients
    containing "reject" get ErrorCode 406. Messages are deduplicated by their
    IdempotencyKey, as a provider honouring it would."""

    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    keep_requests: bool = True
    requests: list[dict[str, Any]] = field(default_factory=list)
    accepted: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub.lock:
                    if stub.keep_requests:
                        stub.requests.append({"headers": dict(self.headers), "body": body})
                    scripted = stub.script.pop(0) if stub.script else None
                    if scripted is None:
                        answers = []
                        for item in body:
                            if "reject" in item["To"]:
                                answers.append({"ErrorCode": 406, "Message": "Inactive recipient"})
                                continue
                            stub.accepted[item["IdempotencyKey"]] += 1
                            answers.append(
                                {"ErrorCode": 0, "MessageID": "pm-" + item["IdempotencyKey"]}
                            )
                if scripted is not None:
                    status, headers = scripted
                    payload = b'{"ErrorCode": 429, "Message": "slow down"}'
                else:
                    status, headers = 200, {}
                    payload = json.dumps(answers).encode()
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/email/batch"

    def __enter__(self) -> HttpStub:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def unique_accepted(self) -> int:
        with self.lock:
            return len(self.accepted)
