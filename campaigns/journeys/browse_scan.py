"""The browse-abandonment scan (the trigger and its sessions: product_triggers.py)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from campaigns.journeys.product_triggers import CART_OR_PURCHASE, SESSION_MAX_DAYS, browse_hours
from campaigns.journeys.triggers import enrol_from, live_journeys
from campaigns.models import Journey, JourneyScanMark, TriggerKind

# 0. the contacts who may have a session closing in (since, until]: a view in
#    (since - N hours, until - N hours] (the event_ws_name_time index, a thin slice);
# 1. their views that can belong to such a session: from SESSION_MAX_DAYS before
#    `since` up to now (a later view extends a session; the contact/name/time index);
# 2. a new session starts at a view more than N hours after the contact's previous
#    one; sessions are numbered by a running sum of those starts;
# 3. a session closes N hours after its last view; those closing in (since, until]
#    whose contact has no cart or purchase from the first view to the close enter.
_SESSIONS_SQL = """
WITH closing AS (
    SELECT DISTINCT c.contact_id FROM contacts_event c
    WHERE c.workspace_id = %(ws)s AND c.name = 'product_viewed' AND c.contact_id IS NOT NULL
      AND c.occurred_at > %(since)s - %(gap)s AND c.occurred_at <= %(until)s - %(gap)s
), views AS (
    SELECT e.id, e.contact_id, e.occurred_at,
           CASE WHEN lag(e.occurred_at) OVER w IS NULL
                  OR e.occurred_at - lag(e.occurred_at) OVER w > %(gap)s
                THEN 1 ELSE 0 END AS starts
    FROM closing k JOIN contacts_event e ON e.contact_id = k.contact_id
    WHERE e.workspace_id = %(ws)s AND e.name = 'product_viewed'
      AND e.occurred_at > %(since)s - %(gap)s - %(session_max)s AND e.occurred_at <= %(now)s
    WINDOW w AS (PARTITION BY e.contact_id ORDER BY e.occurred_at, e.id)
), numbered AS (
    SELECT v.*, sum(v.starts) OVER (PARTITION BY v.contact_id ORDER BY v.occurred_at, v.id)
           AS session
    FROM views v
), sessions AS (
    SELECT n.contact_id, min(n.occurred_at) AS first_at, max(n.occurred_at) AS last_at,
           (array_agg(n.id ORDER BY n.occurred_at DESC, n.id DESC))[1] AS last_id
    FROM numbered n GROUP BY n.contact_id, n.session
)
SELECT s.contact_id, 'browse:' || s.last_id, s.last_at + %(gap)s
FROM sessions s
WHERE s.last_at + %(gap)s > %(since)s AND s.last_at + %(gap)s <= %(until)s
  AND s.last_at >= %(live_since)s
  AND NOT EXISTS (
    SELECT 1 FROM contacts_event x
    WHERE x.contact_id = s.contact_id AND x.workspace_id = %(ws)s
      AND x.name = ANY(%(stops)s)
      AND x.occurred_at >= s.first_at AND x.occurred_at <= s.last_at + %(gap)s)
"""


def browse_scan_journey(journey: Journey, *, now: dt.datetime | None = None) -> int | None:
    """Judge the windows of `journey` that closed since its watermark; how many
    contacts entered, or None when another worker holds the journey."""
    now = now or timezone.now()
    assert journey.live_since is not None
    gap = dt.timedelta(hours=browse_hours(journey.trigger))
    JourneyScanMark.objects.get_or_create(
        workspace_id=journey.workspace_id,
        journey=journey,
        defaults={"scanned_until": journey.live_since},
    )
    with transaction.atomic():
        mark = (
            JourneyScanMark.objects.select_for_update(skip_locked=True)
            .filter(workspace_id=journey.workspace_id, journey=journey)
            .first()
        )
        if mark is None:
            return None
        until = now
        if until <= mark.scanned_until:
            return 0
        entered = enrol_from(
            journey,
            _SESSIONS_SQL,
            {
                "gap": gap,
                "session_max": dt.timedelta(days=SESSION_MAX_DAYS),
                "since": mark.scanned_until,
                "until": until,
                "now": now,
                "live_since": journey.live_since,
                "stops": list(CART_OR_PURCHASE),
            },
        )
        mark.scanned_until = until
        mark.save(update_fields=["scanned_until"])
    return entered


def browse_scan(*, now: dt.datetime | None = None) -> int:
    """Beat: every live browse-abandonment journey; how many contacts entered."""
    journeys = live_journeys([TriggerKind.BROWSE_ABANDONED])
    return sum(browse_scan_journey(j, now=now) or 0 for j in journeys)
