"""make bench-pages: server time of every dashboard page on the demo data.

Builds the demo workspace (seed_demo: 3,000 contacts, a year of events and stage
history, journeys, a sent A/B broadcast) in its own database
(`stagecraft_bench_pages`), serves the app with gunicorn as in production, signs in as
the demo owner and requests each page once (cold) and REQUESTS more times (warm),
measured from the client on loopback, so it is the server's time plus a local hop.

Target (issue 14): every page ≤ 300 ms p95. Prints one JSON object as its last line:
max_page_p95_ms, the slowest page, and per page cold/p50/p95 in milliseconds."""

from __future__ import annotations

import io
import time
import urllib.request
from http.cookiejar import CookieJar

from bench.analytics import login, timed_requests
from bench.common import (
    WebServer,
    base_database_url,
    django_setup,
    fresh_database,
    machine,
    migrate,
    report,
    with_database,
)

DATABASE = "stagecraft_bench_pages"
WEB_WORKERS = 2


def log(message: str) -> None:
    print(f"[bench-pages] {message}", flush=True)


def main() -> None:
    url = fresh_database(DATABASE)
    django_setup(with_database(base_database_url(), DATABASE))
    migrate()
    from django.core.management import call_command
    from django.db import connection

    from campaigns.models import Broadcast, Journey
    from contacts.models import Contact, Segment
    from messaging.models import Template
    from surveys.models import Survey
    from workspaces.models import User

    started = time.perf_counter()
    call_command("seed_demo", stdout=io.StringIO())
    log(f"demo seeded in {time.perf_counter() - started:.0f}s")
    user = User.objects.get(email="demo@stagecraft.local")
    user.set_password(bench_password())
    user.save(update_fields=["password"])
    contact = Contact.objects.filter(workspace__slug="demo").order_by("pk")[10]
    broadcast = Broadcast.objects.filter(workspace__slug="demo", status="sent").first()
    journey = Journey.objects.filter(workspace__slug="demo").order_by("pk").first()
    template = Template.objects.filter(workspace__slug="demo").order_by("pk").first()
    segment = Segment.objects.filter(workspace__slug="demo").order_by("pk").first()
    survey = Survey.objects.filter(workspace__slug="demo", kind="nps").first()
    assert broadcast and journey and template and segment and survey
    w = "/w/demo"
    pages = {
        "contacts": f"{w}/contacts/",
        "contacts_by_stage": f"{w}/contacts/?stage=customer",
        "contact": f"{w}/contacts/{contact.pk}/",
        "contact_stage_panel": f"{w}/contacts/{contact.pk}/stage/",
        "contact_messages_panel": f"{w}/contacts/{contact.pk}/messages/",
        "contact_journeys_panel": f"{w}/contacts/{contact.pk}/journeys/",
        "contact_value_panel": f"{w}/contacts/{contact.pk}/value/",
        "contact_surveys_panel": f"{w}/contacts/{contact.pk}/surveys-panel/",
        "segments": f"{w}/segments/",
        "segment_count": f"{w}/segments/{segment.pk}/count/",
        "segment_contacts": f"{w}/segments/{segment.pk}/",
        "stages": f"{w}/stages/",
        "campaigns": f"{w}/campaigns/",
        "broadcast_new": f"{w}/campaigns/new/",
        "broadcast": f"{w}/campaigns/{broadcast.pk}/",
        "broadcast_report": f"{w}/campaigns/{broadcast.pk}/report/",
        "journeys": f"{w}/journeys/",
        "journey": f"{w}/journeys/{journey.pk}/",
        "templates": f"{w}/templates/",
        "template": f"{w}/templates/{template.pk}/",
        "analytics": f"{w}/analytics/",
        "surveys": f"{w}/surveys/",
        "survey": f"{w}/surveys/{survey.pk}/",
        "survey_report": f"{w}/surveys/{survey.pk}/report/",
        "reviews": f"{w}/reviews/",
        "outbox": f"{w}/outbox/",
        "imports": f"{w}/imports/",
        "settings": f"{w}/settings/",
        "members": f"{w}/settings/members/",
        "sending_rules": f"{w}/settings/sending-rules/",
        "reporting": f"{w}/settings/reporting/",
        "api_keys": f"{w}/settings/api-keys/",
    }
    connection.close()
    server = WebServer(url, workers=WEB_WORKERS)
    results: dict[str, dict[str, float]] = {}
    try:
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(CookieJar()))
        login(browser, server.url, email="demo@stagecraft.local", password=bench_password())
        for _ in range(4 * WEB_WORKERS):  # every worker imports and connects first
            timed_requests(browser, server.url + pages["settings"], {})
        for name, path in pages.items():
            results[name] = timed_requests(browser, server.url + path, {})
            log(f"{name}: {results[name]}")
    finally:
        server.stop()
    slowest = max(results, key=lambda name: results[name]["p95_ms"])
    report(
        {
            "benchmark": "pages",
            "pages": len(pages),
            "max_page_p95_ms": results[slowest]["p95_ms"],
            "slowest_page": slowest,
            "max_page_cold_ms": max(r["cold_ms"] for r in results.values()),
            "requests": results,
            "machine": machine(),
        }
    )


def bench_password() -> str:
    return "bench-pages-password"  # a throwaway password of the bench database's user


if __name__ == "__main__":
    main()
