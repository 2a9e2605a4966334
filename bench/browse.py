"""make bench-browse: the browse-abandonment scan (campaigns/journeys/browse_scan.py)
on CONTACTS contacts (default 200,000) with VIEWS_PER_DAY `product_viewed` events a
day (default 300,000) over the last DAYS days (default 4: the 3 days a visit may
reach back, and one more), on PRODUCTS products; a tenth of the viewers carted
something (`added_to_cart`) and a twentieth bought (`purchase`) a little after a view.

  steady_scan_ms   one beat run judging the windows closed in the last 5 minutes
                   (what beat does every 5 minutes)
  catch_up_scan_s  one run judging a whole day of windows (a worker that was down)
  entered_*        contacts let in by each

Prints one JSON object as its last line."""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import time

from bench.common import copy_contacts, django_setup, fresh_database, machine, migrate, report

CONTACTS = int(os.environ.get("CONTACTS", "200000"))
VIEWS_PER_DAY = int(os.environ.get("VIEWS_PER_DAY", "300000"))
DAYS = int(os.environ.get("DAYS", "4"))
PRODUCTS = int(os.environ.get("PRODUCTS", "2000"))
DB = "stagecraft_bench_browse"


def log(message: str) -> None:
    print(f"[bench-browse] {message}", flush=True)


def main() -> None:
    url = fresh_database(DB)
    django_setup(url)
    migrate()
    from django.db import connection
    from django.utils import timezone

    from campaigns.journeys.browse_scan import browse_scan_journey
    from campaigns.journeys.services import journey_create, journey_schedule
    from campaigns.models import Journey, JourneyScanMark
    from workspaces.services import Actor, workspace_provision

    rng = random.Random(7)
    now = timezone.now()
    workspace, _ = workspace_provision(slug="bench", name="Bench Coffee")
    views = VIEWS_PER_DAY * DAYS
    log(f"building {CONTACTS} contacts and {views} views")
    with connection.cursor() as cursor:
        first_id, _ = copy_contacts(
            cursor,
            workspace_id=workspace.pk,
            count=CONTACTS,
            rng=rng,
            now=now,
            attributes=lambda i: {},
        )
        with cursor.cursor.copy(
            "COPY contacts_event (workspace_id, contact_id, name, properties, currency, "
            "occurred_at, received_at) FROM STDIN"
        ) as copy:
            for _ in range(views):
                contact = first_id + rng.randrange(CONTACTS)
                at = now - dt.timedelta(seconds=rng.random() * DAYS * 86400)
                sku = f"p{rng.randrange(PRODUCTS)}"
                copy.write_row(
                    (
                        workspace.pk,
                        contact,
                        "product_viewed",
                        json.dumps({"product_id": sku}),
                        "",
                        at,
                        at,
                    )
                )
                draw = rng.random()
                if draw < 0.15:
                    name = "added_to_cart" if draw < 0.1 else "purchase"
                    later = min(now, at + dt.timedelta(minutes=rng.randrange(5, 300)))
                    items = json.dumps({"items": [{"product_id": sku}]})
                    copy.write_row((workspace.pk, contact, name, items, "", later, later))
        # Statistics after the bulk load, as seed_demo does: without them the planner
        # takes the workspace for a few contacts and joins them by a nested loop.
        cursor.execute("ANALYZE contacts_contact")
        cursor.execute("ANALYZE contacts_event")
    journey = journey_create(
        workspace=workspace,
        data={
            "name": "Browse abandonment",
            "trigger": {"kind": "browse_abandoned", "hours": 4},
            "reentry": "always",
            "steps": [{"key": "w", "kind": "wait", "config": {"duration": {"days": 1}}}],
        },
        actor=Actor(system="bench"),
    )
    journey = journey_schedule(journey=journey, actor=Actor(system="bench"))
    Journey.objects.filter(pk=journey.pk).update(live_since=now - dt.timedelta(days=DAYS))
    journey.refresh_from_db()

    log("catch-up: a day of windows")
    JourneyScanMark.objects.create(
        workspace=workspace, journey=journey, scanned_until=now - dt.timedelta(days=1, minutes=25)
    )
    started = time.perf_counter()
    entered_day = browse_scan_journey(journey, now=now - dt.timedelta(minutes=25)) or 0
    catch_up_s = time.perf_counter() - started
    log("steady: five runs of 5 minutes of windows each")
    steady = []
    entered_steady = 0
    for i in range(5):
        at = now - dt.timedelta(minutes=25) + dt.timedelta(minutes=5 * (i + 1))
        started = time.perf_counter()
        entered_steady += browse_scan_journey(journey, now=at) or 0
        steady.append((time.perf_counter() - started) * 1000)
    report(
        {
            "contacts": CONTACTS,
            "views": views,
            "catch_up_scan_s": round(catch_up_s, 2),
            "entered_catch_up": entered_day,
            "steady_scan_ms": round(sorted(steady)[len(steady) // 2], 1),
            "steady_scan_ms_max": round(max(steady), 1),
            "entered_steady": entered_steady,
            "load_average": os.getloadavg(),
            "machine": machine(),
        }
    )


if __name__ == "__main__":
    main()
