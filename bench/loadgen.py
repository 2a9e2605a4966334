"""A small HTTP/1.1 load generator: keep-alive connections driven by asyncio with
prepared request bytes, so that it costs the machine as little as possible while the
server under test shares it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Outcome:
    requests: int = 0
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    elapsed: float = 0.0

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return 0.0
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def build_request(path: str, body: bytes, token: str, host: str, method: str = "POST") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes, bool]:
    """(status, body, whether the server will close the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    chunked = False
    closing = False
    for line in head.split(b"\r\n"):
        lower = line.lower()
        if lower.startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
        elif lower.startswith(b"transfer-encoding:") and b"chunked" in lower:
            chunked = True
        elif lower.startswith(b"connection:") and b"close" in lower:
            closing = True
    if chunked:
        body = b""
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return status, body, closing
    return status, await reader.readexactly(length), closing


async def _connection(
    host: str,
    port: int,
    next_request: Callable[[], bytes | None],
    outcome: Outcome,
    keep_bodies: bool,
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while (request := next_request()) is not None:
            started = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                status, body, closing = await read_response(reader)
            except (asyncio.IncompleteReadError, ConnectionError):
                # The server closed an idle keep-alive connection: reconnect and resend.
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(request)
                await writer.drain()
                status, body, closing = await read_response(reader)
            if closing:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
            outcome.latencies.append(time.perf_counter() - started)
            outcome.requests += 1
            outcome.statuses[status] = outcome.statuses.get(status, 0) + 1
            if status >= 400:
                outcome.errors += 1
            if keep_bodies:
                outcome.bodies.append(body)
    finally:
        writer.close()


def run(
    host: str,
    port: int,
    next_request: Callable[[], bytes | None],
    *,
    connections: int,
    keep_bodies: bool = False,
) -> Outcome:
    """Send requests until `next_request` returns None, over `connections` at once."""
    outcome = Outcome()

    async def main() -> None:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(host, port, next_request, outcome, keep_bodies)
                for _ in range(connections)
            )
        )
        outcome.elapsed = time.perf_counter() - started

    asyncio.run(main())
    return outcome
