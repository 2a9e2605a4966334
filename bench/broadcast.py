"""make bench-broadcast: a broadcast to AUDIENCE contacts (default 1,000,000)
materialised by the real task in a real Celery worker, then sent through the outbox.

Data (bench/broadcast_data.py): the audience is a segment that intersects a plan
attribute with a lifecycle stage, minus an exclusion segment and contacts without
consent, spread over nine time zones (a share resolved from their phone numbers);
~1% of it is on the suppression list. The broadcast is scheduled at 10:00 local time
two days ahead, so each zone gets its own due time.

  materialise_s        from `broadcast_schedule` to the broadcast being materialised,
                       the task running in a Celery worker (WORKERS processes)
  peak_worker_rss_mb   the largest VmHWM of the worker's processes by then
  wrong_due            messages whose due time is not 10:00 in their contact's zone
  messages_per_s       after moving every due time to now (not timed), messages sent
                       to a local Postmark-style HTTP stub per second, this process
                       acting as beat (claiming due rows once a second)
  duplicates / lost    what the stub received twice / what it should have and did not
                       (plus any audience member without a message); suppressed
                       addresses must be suppressed, never sent

Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

from bench.common import ROOT, bench_env, django_setup, fresh_database, machine, migrate, report

AUDIENCE = int(os.environ.get("AUDIENCE", os.environ.get("CONTACTS", "1000000")))
WORKERS = int(os.environ.get("WORKERS", "2"))
# SEND=0: materialise and check only (the send phase takes minutes at 1M).
SEND = os.environ.get("SEND", "1") != "0"
DB = "stagecraft_bench_broadcast"
LOCAL_TIME = dt.time(10, 0)


def log(message: str) -> None:
    print(f"[bench-broadcast] {message}", flush=True)


def wrong_dues(broadcast: Any, workspace_zone: str) -> int:
    """Messages not due at LOCAL_TIME on their contact's clock (one GROUP BY)."""
    from django.db import connection

    from contacts.zones import contact_zone, local_instant

    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT c.time_zone, c.phone IS NOT NULL, m.due_at, count(*)
            FROM campaigns_message m JOIN contacts_contact c ON c.id = m.contact_id
            WHERE m.origin_kind = 'broadcast' AND m.origin_id = %s
            GROUP BY 1, 2, 3""",
            [broadcast.pk],
        )
        rows = cursor.fetchall()
    wrong = 0
    for zone, _, due, count in rows:
        # Phone-only contacts here all have London numbers.
        resolved = contact_zone(zone, "+442079460000", workspace_zone)
        expected = local_instant(broadcast.local_date, LOCAL_TIME, resolved, workspace_zone)
        if due != expected:
            wrong += count
    return wrong


def main() -> None:
    url = fresh_database(DB)
    django_setup(url)
    migrate()
    from django.conf import settings
    from django.db import connection
    from django.db.models import Count
    from django.utils import timezone

    from bench import broadcast_data
    from campaigns.broadcasts.services import broadcast_create, broadcast_schedule
    from campaigns.models import Broadcast
    from messaging.models import Message
    from messaging.services import template_create
    from messaging.services.claims import message_dispatch_due
    from tests.messaging.servers import PostmarkStub
    from tests.processes import Worker, purge_broker
    from workspaces.services import Actor, workspace_provision

    settings.MESSAGING_WORKSPACE_RATE_PER_MINUTE = 0
    actor = Actor(system="bench")
    workspace, _ = workspace_provision(slug="bench", name="Bench Coffee")
    workspace.time_zone = "Europe/Paris"
    workspace.save(update_fields=["time_zone"])
    template = template_create(
        workspace=workspace,
        data={
            "name": "Spring",
            "channel": "email",
            "subject": "Hello {{ first_name|default:'there' }}, spring beans are in",
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
        actor=actor,
    )
    log(f"building an audience of {AUDIENCE}")
    built = broadcast_data.build(workspace, AUDIENCE, actor)
    local_date = timezone.now().date() + dt.timedelta(days=2)
    broadcast = broadcast_create(
        workspace=workspace,
        data={
            "name": "Spring beans",
            "channel": "email",
            "template_id": template.pk,
            "include_segment_ids": [built.segment_id],
            "exclude_segment_ids": [built.exclusion_id],
            "schedule": "local",
            "local_date": local_date.isoformat(),
            "local_time": LOCAL_TIME.strftime("%H:%M"),
        },
        actor=actor,
    )
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    os.environ.update(bench_env(url))
    purge_broker()
    with PostmarkStub(keep_requests=False) as stub:
        worker = Worker(concurrency=WORKERS, log=ROOT / "bench" / "results" / "broadcast.log")
        worker.start(
            env={
                **bench_env(url),
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "EMAIL_WEBHOOK_SECRET": "bench",
                "MESSAGING_WORKSPACE_RATE_PER_MINUTE": "0",
                "MESSAGING_EMAIL_PROVIDER": "http",
                "EMAIL_HTTP_URL": stub.url,
                "LOG_LEVEL": "WARNING",
            }
        )
        try:
            idle_rss = worker.peak_rss_mb()
            started = time.perf_counter()
            broadcast_schedule(broadcast=broadcast, actor=actor)
            while True:
                time.sleep(0.2)
                broadcast.refresh_from_db()
                if broadcast.materialised_at is not None:
                    break
                if time.perf_counter() - started > 1800:
                    raise RuntimeError("not materialised after 30 minutes")
            materialise_s = time.perf_counter() - started
            peak_materialise = worker.peak_rss_mb()
            log(
                f"materialised {broadcast.recipient_count} in {materialise_s:.1f}s, worker peak "
                f"{peak_materialise:.0f} MB (idle {idle_rss:.0f} MB)"
            )
            wrong = wrong_dues(broadcast, workspace.time_zone)
            if not SEND:
                report(
                    {
                        "benchmark": "broadcast",
                        "audience": broadcast.recipient_count,
                        "expected_audience": built.audience,
                        "materialise_s": round(materialise_s, 2),
                        "peak_worker_rss_mb": round(peak_materialise, 1),
                        "idle_worker_rss_mb": round(idle_rss, 1),
                        "wrong_due": wrong,
                        "machine": machine(),
                    }
                )
                return
            moved = time.perf_counter()
            with connection.cursor() as cursor:
                cursor.execute("UPDATE campaigns_message SET due_at = now()")
                cursor.execute("VACUUM ANALYZE campaigns_message")
            log(f"due times moved to now in {time.perf_counter() - moved:.1f}s (not timed)")
            started = time.perf_counter()
            while True:
                tick = time.monotonic()
                message_dispatch_due()
                if not Message.objects.filter(status__in=["scheduled", "sending"]).exists():
                    break
                if time.perf_counter() - started > 3600:
                    raise RuntimeError("messages still pending after an hour")
                time.sleep(max(0.0, 1.0 - (time.monotonic() - tick)))
            send_s = time.perf_counter() - started
            peak_send = worker.peak_rss_mb()
        finally:
            worker.stop()
        accepted = dict(stub.accepted)
    statuses = dict(Message.objects.values_list("status").annotate(n=Count("id")))
    sent_uuids = {
        str(u) for u in Message.objects.filter(status="sent").values_list("uuid", flat=True)
    }
    suppressed_uuids = {
        str(u) for u in Message.objects.filter(status="suppressed").values_list("uuid", flat=True)
    }
    duplicates = sum(n - 1 for n in accepted.values())
    missing = max(0, built.audience - int(broadcast.recipient_count))
    lost = (
        len(sent_uuids - set(accepted))
        + missing
        + sum(n for status, n in statuses.items() if status not in ("sent", "suppressed"))
        + abs(len(suppressed_uuids) - built.suppressed)
    )
    sent = statuses.get("sent", 0)
    log(f"sent {sent} in {send_s:.1f}s ({sent / send_s:.0f}/s) {statuses}")
    report(
        {
            "benchmark": "broadcast",
            "audience": broadcast.recipient_count,
            "expected_audience": built.audience,
            "contacts": built.contacts,
            "workers": WORKERS,
            "materialise_s": round(materialise_s, 2),
            "peak_worker_rss_mb": round(peak_materialise, 1),
            "idle_worker_rss_mb": round(idle_rss, 1),
            "wrong_due": wrong,
            "messages_per_s": round(sent / send_s, 1),
            "send_s": round(send_s, 1),
            "peak_send_worker_rss_mb": round(peak_send, 1),
            "sent": sent,
            "suppressed": len(suppressed_uuids),
            "suppression_list": built.suppressed,
            "suppressed_but_sent": len(suppressed_uuids & set(accepted)),
            "duplicates": duplicates,
            "lost": lost,
            "statuses": statuses,
            "broadcast_status": Broadcast.objects.get(pk=broadcast.pk).status,
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
