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
from dataclasses import dataclass
from email.message import Message as EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.http_stub import Answer, HttpStub, Request

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
class PostmarkStub(HttpStub):
    """Answers POSTs like Postmark's batch endpoint. `script` is a list of (status,
    headers) to answer the next requests with before answering normally; recipients
    containing "reject" get ErrorCode 406. Messages are deduplicated by their
    IdempotencyKey, as a provider honouring it would."""

    def __init__(
        self, script: list[tuple[int, dict[str, str]]] | None = None, keep_requests: bool = True
    ) -> None:
        self.script = list(script or [])
        self.accepted: Counter[str] = Counter()
        super().__init__(self._answer, keep=keep_requests)
        self.url = f"{self.url}/email/batch"

    def _answer(self, request: Request, before: int) -> Answer:
        with self.lock:
            if self.script:
                status, headers = self.script.pop(0)
                return Answer(status, headers, b'{"ErrorCode": 429, "Message": "slow down"}')
            answers = []
            for item in request.json():
                if "reject" in item["To"]:
                    answers.append({"ErrorCode": 406, "Message": "Inactive recipient"})
                    continue
                self.accepted[item["IdempotencyKey"]] += 1
                answers.append({"ErrorCode": 0, "MessageID": "pm-" + item["IdempotencyKey"]})
        return Answer(200, {"Content-Type": "application/json"}, json.dumps(answers).encode())

    def unique_accepted(self) -> int:
        with self.lock:
            return len(self.accepted)
