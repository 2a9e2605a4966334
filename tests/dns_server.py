"""A real DNS server on 127.0.0.1 (dnslib, UDP, in a thread) whose answers a test
scripts: each name has a list of A answers, handed out one per query, the last one
repeating. A rebinding attacker's server is `{"hook.test": ["8.8.8.8", "10.0.0.1"]}`.

TXT records are scripted apart, all answered at once: `ScriptedDns(txt={name: [value,
...]})`, or `dns.publish_txt(name, value, ...)` while the server runs (a value over 255
bytes goes out as several strings of one record, as DNS providers publish DKIM keys).
A name with records of the other type only gets an empty answer; an unknown name
NXDOMAIN."""

from __future__ import annotations

import threading
from typing import Any

from dnslib import QTYPE, RR, TXT, A
from dnslib.server import BaseResolver, DNSServer


class ScriptedResolver(BaseResolver):
    def __init__(
        self, answers: dict[str, list[str]], txt: dict[str, list[str]] | None = None
    ) -> None:
        self.answers = {name.rstrip(".").lower(): list(ips) for name, ips in answers.items()}
        self.txt = {name.rstrip(".").lower(): list(v) for name, v in (txt or {}).items()}
        self.queries: list[tuple[str, str]] = []  # (name, type) in the order asked
        self.lock = threading.Lock()

    def a_queries(self, name: str) -> int:
        return sum(1 for asked, kind in self.queries if asked == name and kind == "A")

    def publish_txt(self, name: str, *values: str) -> None:
        with self.lock:
            self.txt[name.rstrip(".").lower()] = list(values)

    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname).rstrip(".").lower()
        kind = QTYPE[request.q.qtype]
        with self.lock:
            self.queries.append((name, kind))
            if name not in self.answers and name not in self.txt:
                reply.header.rcode = 3  # NXDOMAIN
                return reply
            if kind == "TXT":
                for value in self.txt.get(name, []):
                    raw = value.encode()
                    chunks = [raw[i : i + 255] for i in range(0, len(raw), 255)] or [b""]
                    reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(chunks), ttl=0))
                return reply
            if kind != "A" or name not in self.answers:
                return reply  # no AAAA records: an empty answer
            seen = self.a_queries(name) - 1
            script = self.answers[name]
            address = script[min(seen, len(script) - 1)]
        reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A(address), ttl=0))
        return reply


class ScriptedDns:
    """`with ScriptedDns({...}) as dns:` then point OUTBOUND_DNS_SERVERS (or
    DNS_RESOLVER) at `dns.address`; `dns.resolver.queries` lists what was asked."""

    def __init__(
        self, answers: dict[str, list[str]] | None = None, txt: dict[str, list[str]] | None = None
    ) -> None:
        self.resolver = ScriptedResolver(answers or {}, txt)
        self.server = DNSServer(self.resolver, address="127.0.0.1", port=0, logger=_Quiet())
        self.port = self.server.server.server_address[1]
        self.address = f"127.0.0.1:{self.port}"

    def publish_txt(self, name: str, *values: str) -> None:
        self.resolver.publish_txt(name, *values)

    def __enter__(self) -> ScriptedDns:
        self.server.start_thread()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self.server.server.server_close()


class _Quiet:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None
