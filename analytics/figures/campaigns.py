"""Campaign figures: what a broadcast did, per A/B variant; what a journey did, per send
step; and how many messages each lifecycle stage received.

Opens and clicks are the bot-filtered ones (a message's opened_at / clicked_at are set
by human hits only). A conversion is a contact doing one of the conversion events
within the window after a message was sent to it, attributed last-touch: to that
message only if no later message reached the contact before the event."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from analytics.figures.common import NO_FILTERS, Filters, Period, fetch, money
from analytics.figures.stages import _stage_rows
from campaigns.journeys.services import journey_totals
from campaigns.models import Broadcast, BroadcastVariant, Journey, JourneyStep
from workspaces.models import Workspace

_COUNTS_SQL = """
SELECT {group}, count(*), count(sent_at), count(delivered_at), count(bounced_at),
       count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'suppressed'),
       count(opened_at), count(clicked_at), count(unsubscribed_at), count(complained_at)
FROM campaigns_message
WHERE workspace_id = %(workspace)s AND {source} AND NOT is_test
GROUP BY {group}
"""

_CONVERSIONS_SQL = """
WITH sent AS (
    SELECT id, contact_id, {group} AS arm, sent_at FROM campaigns_message
    WHERE workspace_id = %(workspace)s AND {source} AND NOT is_test
      AND sent_at IS NOT NULL AND contact_id IS NOT NULL
),
touched AS (  -- each conversion event once, with the message it is attributed to
    SELECT DISTINCT ON (e.id) e.contact_id, e.revenue, s.arm
    FROM sent s
    JOIN contacts_event e ON e.contact_id = s.contact_id AND e.workspace_id = %(workspace)s
         AND e.name = ANY(%(names)s) AND e.occurred_at > s.sent_at
         AND e.occurred_at <= s.sent_at + %(window)s
    WHERE NOT EXISTS (
        SELECT 1 FROM campaigns_message later
        WHERE later.workspace_id = %(workspace)s AND later.contact_id = e.contact_id
          AND NOT later.is_test AND later.sent_at > s.sent_at AND later.sent_at < e.occurred_at)
    ORDER BY e.id, s.sent_at DESC
)
SELECT arm, count(DISTINCT contact_id), coalesce(sum(revenue), 0) FROM touched
GROUP BY arm
"""

# What the messages of a broadcast (per variant) or of a journey (per send step) are.
_BROADCAST = {
    "group": "variant_id",
    "source": "origin_kind = 'broadcast' AND origin_id = %(broadcast)s",
}
_JOURNEY = {
    "group": "origin_id",
    "source": "origin_kind = 'journey_step' AND origin_id = ANY(%(steps)s)",
}

FIELDS = (
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
)


def over_sent(row: dict[str, Any], count: str) -> float | None:
    """A count of a row as a rate over its messages sent (None when none were)."""
    return round(row[count] / row["sent"], 4) if row["sent"] else None


def _rates(row: dict[str, Any]) -> dict[str, Any]:
    return {
        **row,
        "open_rate": over_sent(row, "opened"),
        "click_rate": over_sent(row, "clicked"),
        "unsubscribe_rate": over_sent(row, "unsubscribed"),
        "conversion_rate": over_sent(row, "converted"),
        "revenue": money(row["revenue"]),
    }


def _arms(params: dict[str, Any], kind: dict[str, str]) -> dict[int | None, dict[str, Any]]:
    rows: dict[int | None, dict[str, Any]] = {}
    for arm, *counts in fetch(_COUNTS_SQL.format(**kind), params):
        rows[arm] = dict(zip(FIELDS, counts, strict=True))
        rows[arm] |= {"converted": 0, "revenue": Decimal(0)}
    for arm, converted, revenue in fetch(_CONVERSIONS_SQL.format(**kind), params):
        row = rows.setdefault(
            arm, {**dict.fromkeys(FIELDS, 0), "converted": 0, "revenue": Decimal(0)}
        )
        row["converted"], row["revenue"] = converted, Decimal(revenue)
    return rows


def _total(rows: dict[int | None, dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = dict.fromkeys((*FIELDS, "converted"), 0)
    total["revenue"] = Decimal(0)
    for row in rows.values():
        for name in total:
            total[name] += row[name]
    return total


def campaign_performance(
    *,
    workspace: Workspace,
    broadcast: Broadcast,
    event_names: list[str] | None = None,
    window_days: int = 7,
) -> dict[str, Any]:
    """Per variant (and in total): messages, sent, delivered, bounced, failed,
    suppressed, opened, clicked, unsubscribed, complained, converted (contacts), the
    revenue of the attributed conversion events, and the rates over sent."""
    names = event_names or list(workspace.purchase_event_names)
    params = {
        "workspace": workspace.pk,
        "broadcast": broadcast.pk,
        "names": names,
        "window": dt.timedelta(days=window_days),
    }
    labels = dict(BroadcastVariant.objects.filter(broadcast=broadcast).values_list("pk", "label"))
    rows = _arms(params, _BROADCAST)
    total = _total(rows)
    variants = [
        {"variant": labels.get(variant_id) if variant_id else None, **_rates(row)}
        for variant_id, row in sorted(rows.items(), key=lambda item: labels.get(item[0] or 0, ""))
    ]
    return {
        "broadcast": {"id": broadcast.pk, "name": broadcast.name, "status": broadcast.status},
        "conversion": {"events": names, "window_days": window_days},
        "total": _rates(total),
        "variants": variants,
    }


def journey_performance(
    *,
    workspace: Workspace,
    journey: Journey,
    event_names: list[str] | None = None,
    window_days: int = 7,
) -> dict[str, Any]:
    """The same figures per send step of a journey (removed steps included, their
    messages were sent), with the journey's own totals: entered, converted on its goal,
    and with a holdout, both groups' goal conversion and the lift."""

    names = event_names or list(workspace.purchase_event_names)
    steps = list(
        JourneyStep.objects.filter(journey=journey, kind__in=["send_email", "send_sms"]).order_by(
            "position", "id"
        )
    )
    params = {
        "workspace": workspace.pk,
        "steps": [s.pk for s in steps],
        "names": names,
        "window": dt.timedelta(days=window_days),
    }
    rows = _arms(params, _JOURNEY) if steps else {}
    empty = {**dict.fromkeys(FIELDS, 0), "converted": 0, "revenue": Decimal(0)}
    return {
        "journey": {"id": journey.pk, "name": journey.name, "status": journey.status},
        "conversion": {"events": names, "window_days": window_days},
        "goal": journey_totals(journey),
        "total": _rates(_total(rows)),
        "steps": [
            {
                "step": step.key,
                "kind": step.kind,
                "removed": step.removed_at is not None,
                **_rates(rows.get(step.pk, empty)),
            }
            for step in steps
        ],
    }


def stage_message_volume(
    *, workspace: Workspace, period: Period, filters: Filters = NO_FILTERS
) -> list[dict[str, Any]]:
    """Messages sent in the period, by channel and the stage the contact was in when
    each was sent (from the stays rollup)."""
    start, end = period.bounds(workspace.time_zone)
    condition, params = filters.contacts_sql(workspace, "m.contact_id")
    found = fetch(
        f"""
        SELECT s.stage_id, m.channel, count(*)
        FROM campaigns_message m
        JOIN analytics_stay s ON s.contact_id = m.contact_id AND s.entered_at <= m.sent_at
             AND (s.left_at IS NULL OR s.left_at > m.sent_at)
        WHERE m.workspace_id = %s AND NOT m.is_test AND m.sent_at >= %s AND m.sent_at < %s
          AND {condition}
        GROUP BY 1, 2
        """,
        [workspace.pk, start, end, *params],
    )
    counts = {(stage_id, channel): n for stage_id, channel, n in found}
    return [
        {
            "stage": stage.key,
            "name": stage.name,
            "email": counts.get((stage.pk, "email"), 0),
            "sms": counts.get((stage.pk, "sms"), 0),
        }
        for stage in _stage_rows(workspace)
    ]
