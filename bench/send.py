"""make bench-send: render + hand-off through the outbox and real Celery workers.

Builds MESSAGES contacts (default 100,000) with COPY and one scheduled email each in
the outbox, then, with WORKERS real Celery worker processes (default 2) and this
process acting as beat (claiming due rows once a second, as the beat schedule does):

  http_messages_per_s  every message rendered, handed to a local Postmark-style HTTP
                       stub (batch endpoint) and recorded as sent
  smtp_messages_per_s  the same for SMTP_MESSAGES (default MESSAGES) messages to a
                       local SMTP sink (aiosmtpd), one SMTP transaction each

duplicates / lost count what the stub and the sink received against what was due
(duplicates are by provider idempotency key / Message-ID).

Fairness: while the HTTP run's backlog sends, a second workspace gets TRICKLE messages
a second (default 5), each due the moment it is written, as a shop's welcome emails
would; `trickle_lag_p95_s` is the 95th percentile of their due-to-sent time (target
<= 5 s: one workspace's big broadcast must not keep another's mail waiting). Prints
one JSON object as its last line."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from typing import Any

from bench.common import ROOT, bench_env, django_setup, fresh_database, machine, migrate, report

MESSAGES = int(os.environ.get("MESSAGES", "100000"))
SMTP_MESSAGES = int(os.environ.get("SMTP_MESSAGES", str(MESSAGES)))
WORKERS = int(os.environ.get("WORKERS", "2"))
TRICKLE = int(os.environ.get("TRICKLE", "5"))
# Its own database, dropped and made again (BENCH_SEND_DB: a name of your own when
# several checkouts share one PostgreSQL server).
DB = os.environ.get("BENCH_SEND_DB", "stagecraft_bench_send")


def log(message: str) -> None:
    print(f"[bench-send] {message}", flush=True)


def build_contacts(workspace_id: int, count: int) -> list[int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT nextval('contacts_contact_id_seq')")
        first_id = cursor.fetchone()[0] + 1
        with cursor.cursor.copy(
            "COPY contacts_contact (id, workspace_id, email, first_name, last_name, time_zone, "
            "locale, attributes, email_status, email_status_at, email_status_source, sms_status, "
            "sms_status_at, sms_status_source, created_at, updated_at) FROM STDIN"
        ) as copy:
            for i in range(count):
                copy.write_row(
                    (
                        first_id + i,
                        workspace_id,
                        f"c{i}@example.com",
                        f"Name{i}",
                        "Bench",
                        "UTC",
                        "en-US",
                        json.dumps({"plan": ["free", "pro"][i % 2]}),
                        "subscribed",
                        "2026-01-01T00:00:00Z",
                        "bench",
                        "never_subscribed",
                        "2026-01-01T00:00:00Z",
                        "bench",
                        "2026-01-01T00:00:00Z",
                        "2026-01-01T00:00:00Z",
                    )
                )
        cursor.execute("SELECT setval('contacts_contact_id_seq', %s)", [first_id + count])
        cursor.execute("ANALYZE contacts_contact")
    return list(range(first_id, first_id + count))


def enqueue(template: Any, contact_ids: list[int], prefix: str, *, analyze: bool = True) -> None:
    from django.db import connection

    from config.ids import UUID7_SQL

    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO campaigns_message (workspace_id, contact_id, channel, template_id,
                idempotency_key, uuid, is_test, status, status_reason, due_at, attempts, error,
                provider, provider_message_id, to_address, subject, body_html, body_text,
                sms_segments, links, created_at, transactional, deferrals, origin_kind)
            SELECT %s, c, 'email', %s, %s || c, {UUID7_SQL}, false, 'scheduled', '',
                now(), 0, '', '', '', '', '', '', '', 0, '[]'::jsonb, now(), false, 0, 'direct'
            FROM unnest(%s::bigint[]) AS c
            """,
            [template.workspace_id, template.pk, f"{prefix}:", contact_ids],
        )
        if analyze:
            cursor.execute("ANALYZE campaigns_message")


class Trickle:
    """A second workspace's few messages a second, written due at once while the
    first workspace's backlog sends; stops when that backlog is gone."""

    def __init__(self, big_template: Any) -> None:
        from messaging.services import template_create
        from workspaces.services import Actor, workspace_provision

        self.big_workspace_id = big_template.workspace_id
        workspace, _ = workspace_provision(slug="trickle", name="Trickle Tea")
        self.template = template_create(
            workspace=workspace,
            data={
                "name": "Welcome",
                "channel": "email",
                "subject": "Welcome, {{ first_name }}",
                "from_email": "hello@trickle.example",
                "body": "<p>Hi {{ first_name }}</p>",
            },
            actor=Actor(system="bench"),
        )
        self.contacts = build_contacts(workspace.pk, 20_000)
        self.sent = 0

    def add(self) -> None:
        from messaging.models import Message

        if not Message.objects.filter(
            workspace_id=self.big_workspace_id, status__in=["scheduled", "sending"]
        ).exists():
            return
        batch = self.contacts[self.sent : self.sent + TRICKLE]
        self.sent += len(batch)
        enqueue(self.template, batch, "trickle", analyze=False)

    def lags(self) -> list[float]:
        from messaging.models import Message

        return [
            (sent - due).total_seconds()
            for due, sent in Message.objects.filter(
                workspace_id=self.template.workspace_id, sent_at__isnull=False
            ).values_list("due_at", "sent_at")
            if sent is not None
        ]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] if ordered else 0.0


def run(
    worker_env: dict[str, str],
    url: str,
    count: int,
    label: str,
    each_second: Callable[[], None] | None = None,
) -> dict[str, Any]:
    from django.db.models import Count

    from messaging.models import Message
    from messaging.services.claims import message_dispatch_due
    from tests.processes import Worker, purge_broker

    purge_broker()
    worker = Worker(concurrency=WORKERS, log=ROOT / "bench" / "results" / f"send-{label}.log")
    worker.start(env=worker_env)
    started = time.perf_counter()
    peak = 0.0
    try:
        while True:
            tick = time.monotonic()
            if each_second is not None:
                each_second()
            message_dispatch_due()
            pending = Message.objects.filter(status__in=["scheduled", "sending"]).count()
            peak = max(peak, worker.peak_rss_mb())
            if pending == 0:
                break
            if time.perf_counter() - started > 3600:
                raise RuntimeError(f"{label}: {pending} messages still pending after an hour")
            time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
        elapsed = time.perf_counter() - started
        peak = max(peak, worker.peak_rss_mb())
    finally:
        worker.stop()
    statuses = dict(Message.objects.values_list("status").annotate(n=Count("id")))
    log(f"{label}: {count} messages in {elapsed:.1f}s ({count / elapsed:.0f}/s) {statuses}")
    return {"seconds": elapsed, "per_s": count / elapsed, "peak_rss_mb": peak, "statuses": statuses}


def main() -> None:
    url = fresh_database(DB)
    django_setup(url)
    migrate()
    from django.conf import settings

    from messaging.models import Message
    from messaging.services import template_create
    from messaging.services.outgoing import message_id_header
    from tests.messaging.servers import PostmarkStub, SmtpSink
    from workspaces.services import Actor, workspace_provision

    settings.MESSAGING_WORKSPACE_RATE_PER_MINUTE = 0
    workspace, _ = workspace_provision(slug="bench", name="Bench Coffee")
    template = template_create(
        workspace=workspace,
        data={
            "name": "Bench",
            "channel": "email",
            "subject": "Hello {{ first_name|default:'there' }}, your {{ attributes.plan }} plan",
            "from_email": "news@bench.example",
            "body": (
                "<html><head><style>p{color:#333;font-family:sans-serif}"
                ".cta{background:#222;color:#fff}</style></head><body>"
                "<p>Hi {{ first_name }} {{ last_name }},</p>"
                "<p>Fresh beans for {{ workspace.name }} customers on the "
                "{{ attributes.plan|upper }} plan.</p>"
                '<p><a class="cta" href="https://bench.example/shop?c={{ email|urlencode }}">'
                'Shop</a> · <a href="https://bench.example/blog">Blog</a></p>'
                '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
            ),
        },
        actor=Actor(system="bench"),
    )
    total = max(MESSAGES, SMTP_MESSAGES)
    log(f"building {total} contacts")
    contact_ids = build_contacts(workspace.pk, total)
    common = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": url,
        "EMAIL_WEBHOOK_SECRET": "bench",
        "MESSAGING_WORKSPACE_RATE_PER_MINUTE": "0",
        "LOG_LEVEL": "WARNING",
    }
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    os.environ.update(bench_env(url))

    trickle = Trickle(template)
    log(f"HTTP: {MESSAGES} messages through {WORKERS} workers, {TRICKLE}/s in another workspace")
    enqueue(template, contact_ids[:MESSAGES], "http")
    with PostmarkStub(keep_requests=False) as stub:
        http = run(
            {
                **bench_env(url),
                **common,
                "MESSAGING_EMAIL_PROVIDER": "http",
                "EMAIL_HTTP_URL": stub.url,
            },
            url,
            MESSAGES,
            "http",
            each_second=trickle.add,
        )
        http_keys = dict(stub.accepted)
    trickle_lags = trickle.lags()
    http_uuids = {str(u) for u in Message.objects.values_list("uuid", flat=True)}
    http_dup = sum(n - 1 for n in http_keys.values())
    http_lost = len(http_uuids - set(http_keys))
    from django.db import connection

    with connection.cursor() as cursor:  # a million rows: not through the ORM's collector
        cursor.execute("TRUNCATE campaigns_message CASCADE")

    log(f"SMTP: {SMTP_MESSAGES} messages through {WORKERS} workers")
    enqueue(template, contact_ids[:SMTP_MESSAGES], "smtp")
    with SmtpSink(keep=False) as sink:
        smtp = run(
            {
                **bench_env(url),
                **common,
                "MESSAGING_EMAIL_PROVIDER": "smtp",
                "EMAIL_HOST": "127.0.0.1",
                "EMAIL_PORT": str(sink.port),
            },
            url,
            SMTP_MESSAGES,
            "smtp",
        )
        smtp_ids = sink.message_ids()
    smtp_expected = {message_id_header(m) for m in Message.objects.only("uuid", "workspace_id")}
    smtp_dup = sum(n - 1 for n in smtp_ids.values())
    smtp_lost = len(smtp_expected - set(smtp_ids))

    report(
        {
            "benchmark": "send",
            "messages": MESSAGES + len(trickle_lags),
            "broadcast_messages": MESSAGES,
            "smtp_messages": SMTP_MESSAGES,
            "workers": WORKERS,
            "http_messages_per_s": round(http["per_s"], 1),
            "smtp_messages_per_s": round(smtp["per_s"], 1),
            "http_seconds": round(http["seconds"], 2),
            "smtp_seconds": round(smtp["seconds"], 2),
            "peak_worker_rss_mb": round(max(http["peak_rss_mb"], smtp["peak_rss_mb"]), 1),
            "duplicates": http_dup + smtp_dup,
            "lost": http_lost + smtp_lost,
            "trickle_messages": len(trickle_lags),
            "trickle_lag_p95_s": round(_p95(trickle_lags), 2),
            "trickle_lag_max_s": round(max(trickle_lags, default=0.0), 2),
            "http_statuses": http["statuses"],
            "smtp_statuses": smtp["statuses"],
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
