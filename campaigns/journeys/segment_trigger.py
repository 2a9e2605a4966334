"""Segment triggers: a contact enters a journey when it joins the journey's segment.

Membership at the last look is kept per journey (`JourneySegmentMember`), so a
contact enters when it joins, and again only after it left. Who is looked at, when:

- contacts whose data changed, once the stage engine evaluated them (lifecycle's
  `contacts_refreshed` hook), and contacts whose stage changed (`stage.changed`);
- contacts whose time came: the segments of live segment triggers count in every
  contact's due moment (`due_rules`, registered with lifecycle), so the due run that
  evaluates a contact when "last purchase more than 30 days ago" turns true hands it
  here (`on_contacts_due`) within LIFECYCLE_DUE_SECONDS of the boundary. A journey
  going live or a segment it listens to being edited changes those rules, and the
  lifecycle's sweeps beat then stores everyone's due moment again
  (lifecycle/services/sweeps.py, `DUE_RULES`);
- everyone, as a safety net, every 15 minutes (`journeys_scan`, on the date
  triggers' beat; it was every minute): it logs whom it let in
  (`campaigns.segment_safety_entered`), which should be nobody.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Sequence

from django.db import connection, transaction
from django.utils import timezone

from campaigns.journeys.triggers import date_scan, enrol, live_journeys, workspaces_of
from campaigns.models import Journey, TriggerKind
from config.errors import InvalidInput
from contacts.models import Segment
from contacts.rules.compiler import contacts_matching
from contacts.rules.context import Scope
from lifecycle.models import StageTransition

logger = logging.getLogger(__name__)


def segment_scan(
    journey: Journey,
    *,
    contact_ids: Sequence[int] | None = None,
    enrol_joiners: bool = True,
    now: dt.datetime | None = None,
) -> int:
    """Compare the segment with the members seen last time, as of `now`: joiners
    enter, leavers are forgotten. With `contact_ids`, only those contacts are looked
    at. Returns how many entered."""
    segment = Segment.objects.filter(pk=journey.trigger.get("segment_id")).first()
    if segment is None:
        return 0
    scope = Scope.of(contact_ids) if contact_ids is not None else None
    now = now or timezone.now()
    matching = contacts_matching(
        segment.rule, workspace=journey.workspace, scope=scope, now=now, validate=False
    ).values("pk")
    match_sql, match_params = matching.query.sql_with_params()
    limit = "AND m.contact_id = ANY(%s)" if contact_ids is not None else ""
    with connection.cursor() as cursor:
        cursor.execute(
            # Rows locked in contact order before they go, and added in that order:
            # two looks at the same contacts (a due run and the marks' drain) never
            # wait on each other's rows crosswise.
            f"""DELETE FROM campaigns_journeysegmentmember d
                WHERE d.journey_id = %s AND d.workspace_id = %s AND d.contact_id IN (
                    SELECT m.contact_id FROM campaigns_journeysegmentmember m
                    WHERE m.journey_id = %s AND m.workspace_id = %s {limit}
                    AND NOT EXISTS (
                        SELECT 1 FROM ({match_sql}) AS s(id) WHERE s.id = m.contact_id)
                    ORDER BY m.contact_id FOR UPDATE)""",
            [
                journey.pk,
                journey.workspace_id,
                journey.pk,
                journey.workspace_id,
                *([list(contact_ids)] if contact_ids is not None else []),
                *match_params,
            ],
        )
        cursor.execute(
            f"""INSERT INTO campaigns_journeysegmentmember (workspace_id, journey_id, contact_id)
                SELECT %s, %s, s.id FROM ({match_sql}) AS s(id)
                WHERE NOT EXISTS (SELECT 1 FROM campaigns_journeysegmentmember m
                                  WHERE m.journey_id = %s AND m.contact_id = s.id
                                  AND m.workspace_id = %s)
                ORDER BY s.id
                ON CONFLICT DO NOTHING RETURNING contact_id""",
            [journey.workspace_id, journey.pk, *match_params, journey.pk, journey.workspace_id],
        )
        joined = [row[0] for row in cursor.fetchall()]
    if not enrol_joiners or not joined:
        return 0
    stamp = now.strftime("%Y%m%dT%H%M%S.%f")
    return enrol(journey, [(cid, f"segment:{stamp}:{cid}", now) for cid in joined])


def due_rules(workspace_id: int) -> list[dict]:
    """The segments the workspace's live segment triggers listen to, as rules whose
    time boundaries count in each contact's due moment."""
    ids = {
        journey.trigger.get("segment_id")
        for journey in live_journeys([TriggerKind.SEGMENT_JOINED], [workspace_id])
    }
    return [{"segment": segment_id} for segment_id in sorted(i for i in ids if isinstance(i, int))]


def on_contacts_due(workspace_id: int, contact_ids: list[int], now: dt.datetime) -> None:
    """A due run evaluated these contacts at `now` (time alone may have changed them).
    Membership is judged at the later of `now` and the clock: a long run's `now` is
    tens of seconds old, and judging at it could take back a join another look made
    since (and let the contact in a second time later). A segment whose rule no longer
    compiles is logged and skipped, never the due run."""
    at = max(now, timezone.now())
    for journey in live_journeys([TriggerKind.SEGMENT_JOINED], [workspace_id]):
        try:
            with transaction.atomic():
                segment_scan(journey, contact_ids=contact_ids, now=at)
        except (InvalidInput, ValueError) as error:
            logger.warning("campaigns.segment_scan_failed journey=%s error=%s", journey.pk, error)


def on_contacts_refreshed(contact_ids: list[int], since: object = None) -> None:
    if contact_ids:
        for journey in live_journeys([TriggerKind.SEGMENT_JOINED], workspaces_of(contact_ids)):
            segment_scan(journey, contact_ids=contact_ids)


def on_stage_changed(transitions: list[StageTransition]) -> None:
    """A rule on the stage or the days in it: the moved contacts are looked at again."""
    moved: dict[int, set[int]] = defaultdict(set)
    for transition in transitions:
        moved[transition.workspace_id].add(transition.contact_id)
    for journey in live_journeys([TriggerKind.SEGMENT_JOINED], list(moved)):
        segment_scan(journey, contact_ids=sorted(moved[journey.workspace_id]))


def journeys_scan(*, dates: bool = False) -> dict[str, int]:
    """Beat: every segment trigger over everyone (the safety net: the hooks above
    should have let everyone in already); the date triggers too when `dates`."""
    counts: dict[str, int] = defaultdict(int)
    for journey in live_journeys([TriggerKind.SEGMENT_JOINED]):
        entered = segment_scan(journey)
        if entered:
            logger.warning(
                "campaigns.segment_safety_entered journey=%s entered=%s", journey.pk, entered
            )
        counts["segment"] += entered
    if dates:
        for journey in live_journeys([TriggerKind.DATE]):
            counts["date"] += date_scan(journey)
    return dict(counts)
