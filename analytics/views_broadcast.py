"""A broadcast's report in the dashboard: live progress while it sends, then delivered,
open, click, bounce, unsubscribe, complaint and conversion rates with revenue, per
variant with the test's winner, its lift and confidence, as a chart, a table and CSV."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from analytics.figures.campaigns import campaign_performance, over_sent
from campaigns.broadcasts.selectors import broadcast_get, broadcast_test_result, with_numbers
from campaigns.models import Broadcast
from config.spreadsheet import csv_writer
from workspaces.dashboard import WorkspaceRequest, workspace_view

RATES = (
    ("delivery_rate", "Delivered"),
    ("open_rate", "Opened"),
    ("click_rate", "Clicked"),
    ("bounce_rate", "Bounced"),
    ("unsubscribe_rate", "Unsubscribed"),
    ("complaint_rate", "Complaints"),
    ("conversion_rate", "Converted"),
)
COLUMNS = (
    "variant",
    "messages",
    "sent",
    "delivered",
    "bounced",
    "failed",
    "suppressed",
    "opened",
    "clicked",
    "unsubscribed",
    "complained",
    "converted",
    "revenue",
    *(key for key, _ in RATES),
)
IN_FLIGHT = ("scheduled", "sending", "paused")


def _with_all_rates(row: dict[str, Any]) -> dict[str, Any]:
    """The performance figures' rates and the three the API does not list."""
    return {
        **row,
        "delivery_rate": over_sent(row, "delivered"),
        "bounce_rate": over_sent(row, "bounced"),
        "complaint_rate": over_sent(row, "complained"),
    }


def _broadcast(request: WorkspaceRequest, broadcast_id: int) -> Broadcast:
    broadcast = broadcast_get(workspace=request.workspace, broadcast_id=broadcast_id)
    if broadcast is None:
        raise Http404("No such campaign.")
    return broadcast


def _csv(broadcast: Broadcast, rows: list[dict[str, Any]]) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{broadcast.pk}.csv"'
    writer = csv_writer(response)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [row.get(column) if row.get(column) is not None else "" for column in COLUMNS]
        )
    return response


@workspace_view()
def broadcast_report(request: WorkspaceRequest, broadcast_id: int) -> HttpResponse:
    broadcast = _broadcast(request, broadcast_id)
    computed_at = timezone.now()  # computed on every request: the figures are of now
    # The broadcast's own conversion event and window (those its A/B test is judged on).
    performance = campaign_performance(
        workspace=request.workspace,
        broadcast=broadcast,
        event_names=[broadcast.conversion_event] if broadcast.conversion_event else None,
        window_days=broadcast.conversion_window_days,
    )
    total = _with_all_rates({**performance["total"], "variant": "All"})
    variants = [
        _with_all_rates({**row, "variant": row["variant"] or "—"})
        for row in performance["variants"]
    ]
    if request.GET.get("format") == "csv":
        return _csv(broadcast, [total, *variants] if len(variants) > 1 else [total])
    test = broadcast_test_result(broadcast)
    chart = {
        "rates": [{"key": key, "label": label} for key, label in RATES],
        "series": [
            {"name": row["variant"], "values": [row[key] for key, _ in RATES]}
            for row in (variants if len(variants) > 1 else [total])
        ],
    }
    return render(
        request,
        "analytics/broadcast_report.html",
        {
            "broadcast": broadcast,
            "total": total,
            "variants": variants if len(variants) > 1 else [],
            "rates": RATES,
            "test": test,
            "chart": chart,
            "conversion": performance["conversion"],
            "currency": request.workspace.currency,
            "in_flight": broadcast.status in IN_FLIGHT,
            "computed_at": computed_at,
        },
    )


@workspace_view()
def broadcast_progress(request: WorkspaceRequest, broadcast_id: int) -> HttpResponse:
    """Live status of a sending broadcast (htmx polls it while it is in flight)."""
    broadcast = with_numbers([_broadcast(request, broadcast_id)])[0]
    numbers = {
        key: getattr(broadcast, key, 0) or 0
        for key in ("n_messages", "n_sent", "n_failed", "n_suppressed")
    }
    done = numbers["n_sent"] + numbers["n_failed"] + numbers["n_suppressed"]
    expected = max(broadcast.recipient_count, numbers["n_messages"])
    response = render(
        request,
        "analytics/_broadcast_progress.html",
        {
            "broadcast": broadcast,
            "numbers": numbers,
            "queued": max(numbers["n_messages"] - done, 0),
            "done": done,
            "expected": expected,
            "in_flight": broadcast.status in IN_FLIGHT,
        },
    )
    if broadcast.status not in IN_FLIGHT and request.GET.get("poll"):
        response["HX-Refresh"] = "true"  # it finished while polled: show the final page
    return response
