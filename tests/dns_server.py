"""A real DNS server on 127.0.0.1 (dnslib, UDP, in a thread) whose answers a test
scripts: each name has a list of A answers, handed out one per query, the last one
repeating. A rebinding attacker's server is `{"hook.test": ["8.8.8.8", "10.0.0.1"]}`."""

from __future__ import annotations

import threading
from typing import Any

from dnslib import QTYPE, RR, A
from dnslib.server import BaseResolver, DNSServer


class ScriptedResolver(BaseResolver):
    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = {name.rstrip(".").lower(): list(ips) for name, ips in answers.items()}
        self.queries: list[tuple[str, str]] = []  # (name, type) in the order asked
        self.lock = threading.Lock()

    def a_queries(self, name: str) -> int:
        return sum(1 for asked, kind in self.queries if asked == name and kind == "A")

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((name, kind))
            if name not in self.answers:
                reply.header.rcode = 3  # NXDOMAIN
                return reply
            if kind != "A":
                return reply  # no AAAA records: an empty answer
            seen = self.a_queries(name) - 1
            script = self.answers[name]
            address = script[min(seen, len(script) - 1)]
        reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
        return reply


class ScriptedDns:
    """`with ScriptedDns({...}) as dns:` then point OUTBOUND_DNS_SERVERS at
    `dns.address`; `dns.resolver.queries` lists what was asked."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.resolver = ScriptedResolver(answers)
        self.server = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=_Quiet())
        self.port = self.server.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"

    def __enter__(self) -> ScriptedDns:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.server.server.server_close()


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
