"""Letting contacts into journeys, and waking those inside when something changed.

Every trigger ends in `enrol`: one INSERT ... SELECT that applies the re-entry policy
and skips a trigger already counted (`trigger_key` is unique per journey) or a contact
already inside (one active enrolment per contact and journey). Entering writes only
the row; the first worker run places the contact (holdout or the entry step).

- stage entered / exited: the lifecycle `stage.changed` hook, in the transaction that
  marks the transitions notified (so none is missed or counted twice);
- event performed: the `contacts_refreshed` hook, which runs after every ingest batch's
  evaluation, reads the new events of those contacts;
- joined segment: campaigns/journeys/segment_trigger.py (the contacts that changed or
  moved, those whose due moment came, and a safety scan of everyone);
- survey answered: surveys' `on_survey_answered` hook, in the answer's transaction,
  keyed by the response, so a changed answer enters a journey once
  (campaigns/journeys/survey_trigger.py says which answers match);
- loyalty (tier changed, points earned or about to expire, reward redeemed): loyalty's
  `on_loyalty_news` hook, in the transaction that wrote the news, keyed by it
  (campaigns/journeys/loyalty_trigger.py says which news match);
- referral converted: loyalty's `on_referral_converted` hook, in the engine's
  transaction, keyed by the referral and the side that enters;
- back in stock / price drop: the catalogue's `on_products_changed` hook, after the
  upsert commits: the contacts who viewed the product (`product_viewed`) or carted it
  (`added_to_cart`, `cart_abandoned` line items) within the trigger's `lookback_days`
  (30), keyed by the change, so once per contact and product change;
- browse abandonment: a scan with a watermark per journey, for the view sessions whose
  N hours have passed with no cart or purchase (campaigns/journeys/browse_trigger.py);
- date attribute: a scan (every 15 minutes) for contacts whose date, moved by the
  offset, is today in the workspace's time zone; keyed by that date, so once a day.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from campaigns.journeys.definition import PRODUCT_LOOKBACK_DAYS
from campaigns.journeys.loyalty_trigger import LOYALTY_KINDS, news_matches
from campaigns.journeys.referral_trigger import referral_entrant
from campaigns.journeys.survey_trigger import answer_matches
from campaigns.models import (
    IN_JOURNEY,
    Journey,
    JourneyEnrolment,
    JourneyStatus,
    Reentry,
    StepKind,
    TriggerKind,
)
from catalog.hooks import BACK_IN_STOCK, PRICE_DROP, ProductChange
from contacts.models import Contact
from lifecycle.models import StageTransition
from loyalty.hooks import LoyaltyNews
from surveys.models import Survey, SurveyResponse

_ENROL_SQL = """
INSERT INTO campaigns_journeyenrolment
    (workspace_id, journey_id, contact_id, step_id, status, due_at, trigger_key, entered_at,
     step_entered_at, goal_until, attempts, path, exit_reason)
SELECT %(ws)s, %(journey)s, src.contact_id, NULL, 'active', src.at, src.key, src.at,
       src.at, CASE WHEN %(goal_days)s::int IS NULL THEN NULL
                    ELSE src.at + make_interval(days => %(goal_days)s::int) END,
       0, '{{}}'::jsonb, ''
FROM ({source}) AS src(contact_id, key, at)
JOIN contacts_contact c ON c.id = src.contact_id AND c.workspace_id = %(ws)s
WHERE {reentry}
ORDER BY src.contact_id
ON CONFLICT DO NOTHING
"""

_REENTRY = {
    Reentry.ONCE: """NOT EXISTS (SELECT 1 FROM campaigns_journeyenrolment p
                     WHERE p.journey_id = %(journey)s AND p.contact_id = src.contact_id)""",
    Reentry.COOLDOWN: """NOT EXISTS (SELECT 1 FROM campaigns_journeyenrolment p
                     WHERE p.journey_id = %(journey)s AND p.contact_id = src.contact_id
                     AND p.entered_at > src.at - make_interval(days => %(days)s))""",
    Reentry.ALWAYS: "TRUE",
}


def enrol_from(journey: Journey, source: str, params: dict[str, Any]) -> int:
    """Enrol the rows of `source` (SQL giving contact_id, key, at); returns how many."""
    with_goal = journey.goal is not None or journey.holdout_percent > 0
    sql = _ENROL_SQL.format(source=source, reentry=_REENTRY[Reentry(journey.reentry)])
    with connection.cursor() as cursor:
        cursor.execute(
            sql,
            {
                **params,
                "ws": journey.workspace_id,
                "journey": journey.pk,
                "goal_days": journey.goal_days if with_goal else None,
                "days": journey.reentry_days,
            },
        )
        return cursor.rowcount


def enrol(journey: Journey, rows: Sequence[tuple[int, str, dt.datetime]]) -> int:
    """Enrol (contact id, trigger key, at) rows."""
    if not rows:
        return 0
    return enrol_from(
        journey,
        "SELECT * FROM unnest(%(ids)s::bigint[], %(keys)s::text[], %(ats)s::timestamptz[])",
        {"ids": [r[0] for r in rows], "keys": [r[1] for r in rows], "ats": [r[2] for r in rows]},
    )


def enrol_api(journey: Journey, contact_ids: Sequence[int], key: str = "") -> int:
    now = timezone.now()
    batch = key or uuid.uuid4().hex
    return enrol(journey, [(cid, f"api:{batch}:{cid}", now) for cid in contact_ids])


def _live(kinds: Sequence[str], workspace_ids: Sequence[int] | None = None) -> list[Journey]:
    queryset = Journey.objects.filter(status=JourneyStatus.LIVE, trigger__kind__in=list(kinds))
    if workspace_ids is not None:
        queryset = queryset.filter(workspace_id__in=set(workspace_ids))
    now = timezone.now()
    return [j for j in queryset.select_related("workspace") if j.live_since and j.live_since <= now]


def live_journeys(
    kinds: Sequence[str], workspace_ids: Sequence[int] | None = None
) -> list[Journey]:
    """The live journeys with these trigger kinds whose entries have begun."""
    return _live(kinds, workspace_ids)


# --- hooks ---------------------------------------------------------------------------


def on_stage_changed(transitions: list[StageTransition]) -> None:
    journeys = _live(
        [TriggerKind.STAGE_ENTERED, TriggerKind.STAGE_EXITED],
        [t.workspace_id for t in transitions],
    )
    for journey in journeys:
        stage_id = journey.trigger.get("stage_id")
        entered = journey.trigger_kind == TriggerKind.STAGE_ENTERED
        assert journey.live_since is not None
        enrol(
            journey,
            [
                (t.contact_id, f"transition:{t.pk}", t.at)
                for t in transitions
                if t.workspace_id == journey.workspace_id
                and (t.to_stage_id if entered else t.from_stage_id) == stage_id
                and t.at >= journey.live_since
            ],
        )
    wake(sorted({t.contact_id for t in transitions}))


def workspaces_of(contact_ids: Sequence[int]) -> list[int]:
    """The workspaces of these contacts (the engine hands over one workspace's), so that
    only their journeys are looked at."""
    return list(
        Contact.objects.filter(pk__in=list(contact_ids))
        .values_list("workspace_id", flat=True)
        .distinct()
    )


def on_contacts_refreshed(contact_ids: list[int], since: object = None) -> None:
    if not contact_ids:
        return
    for journey in _live([TriggerKind.EVENT], workspaces_of(contact_ids)):
        _enrol_events(journey, contact_ids)
    wake(contact_ids)


def on_survey_answered(response: SurveyResponse, survey: Survey) -> None:
    """A counted answer (or a change of score) lets the contact into the live journeys
    whose survey trigger it matches."""
    if response.contact_id is None:
        return
    for journey in _live([TriggerKind.SURVEY_ANSWERED], [survey.workspace_id]):
        assert journey.live_since is not None
        if response.updated_at >= journey.live_since and answer_matches(
            journey.trigger, survey_id=survey.pk, kind=survey.kind, score=response.score
        ):
            enrol(journey, [(response.contact_id, f"survey:{response.pk}", response.updated_at)])


def on_loyalty_news(news: Sequence[LoyaltyNews]) -> None:
    """Enrol contacts into the live journeys whose loyalty trigger the news matches."""
    for journey in _live(
        list({n.kind for n in news} & set(LOYALTY_KINDS)), [n.workspace_id for n in news]
    ):
        assert journey.live_since is not None
        live_since = journey.live_since
        enrol(
            journey,
            [
                (n.contact_id, n.key, n.at)
                for n in news
                if n.workspace_id == journey.workspace_id
                and n.at >= live_since
                and news_matches(journey.trigger, n)
            ],
        )


def on_referral_converted(referrals: list[Any]) -> None:
    """Converted referrals (loyalty's hook, in the engine's transaction) let the
    referrer, or the friend, into the live journeys with that trigger; keyed by the
    referral, so a referral enters a journey once."""
    journeys = _live([TriggerKind.REFERRAL_CONVERTED], [r.workspace_id for r in referrals])
    for journey in journeys:
        assert journey.live_since is not None
        rows = [
            (*referral_entrant(journey.trigger, r), r.converted_at)
            for r in referrals
            if r.workspace_id == journey.workspace_id and r.converted_at >= journey.live_since
        ]
        enrol(journey, rows)


def _enrol_events(journey: Journey, contact_ids: list[int]) -> int:
    properties = journey.trigger.get("properties") or {}
    return enrol_from(
        journey,
        """SELECT e.contact_id, 'event:' || e.id, e.occurred_at FROM contacts_event e
           WHERE e.contact_id = ANY(%(ids)s) AND e.workspace_id = %(ws)s AND e.name = %(name)s
           AND e.properties @> %(props)s::jsonb AND e.received_at >= %(since)s
           AND e.received_at >= now() - interval '2 days'
           AND e.occurred_at >= now() - %(recent)s * interval '1 second'""",
        {
            "ids": contact_ids,
            "name": journey.trigger.get("event"),
            "props": json.dumps(properties),
            "since": journey.live_since,
            # An event from further back (history brought in) triggers nothing.
            "recent": settings.LIFECYCLE_ACT_ON_MOVES_WITHIN_SECONDS,
        },
    )


def wake(contact_ids: Sequence[int]) -> int:
    """Bring forward the due time of these contacts' enrolments in journeys that watch
    for something (a goal, exit criteria, an awaited event or rule): the worker checks
    them now. A parked contact that turns out not to be done stays parked until its
    `resume_at`, so waking is always safe."""
    if not contact_ids:
        return 0
    watching = (
        Q(journey__goal__isnull=False)
        | Q(journey__exit_rule__isnull=False)
        | Q(journey__exit_on_stage_left=True)
        | Q(journey__exit_on_unsubscribe=True)
        | Q(step__kind=StepKind.WAIT_FOR)
    )
    now = timezone.now()
    # Locked in id order first: the engine's refresh hook and the stage-change dispatch
    # wake overlapping contacts at once, and an UPDATE takes its rows in whatever order
    # its plan meets them (index or heap order), so two of them could each hold a row the
    # other waits for. A worker that has claimed one of these rows is waited for: its
    # step ran on what it saw before this news, and the wake after it still holds.
    with transaction.atomic():  # the hooks' own transaction, or one of its own
        return _wake_locked(watching, contact_ids, now)


def _wake_locked(watching: Q, contact_ids: Sequence[int], now: dt.datetime) -> int:
    locked = list(
        JourneyEnrolment.objects.filter(
            watching, contact_id__in=list(contact_ids), status__in=IN_JOURNEY, due_at__gt=now
        )
        .exclude(step__isnull=True, status="active")
        .order_by("pk")
        .select_for_update(of=("self",))
        .values_list("pk", flat=True)
    )
    if not locked:
        return 0
    return JourneyEnrolment.objects.filter(pk__in=locked).update(due_at=now)


# --- scans ---------------------------------------------------------------------------


def date_scan(journey: Journey, *, now: dt.datetime | None = None) -> int:
    """Enrol contacts whose date attribute, moved by `offset_days`, is today in the
    workspace's time zone (`annual`: the month and day, e.g. birthdays; 29 February
    counts on 28 February in other years)."""
    now = now or timezone.now()
    zone = zoneinfo.ZoneInfo(journey.workspace.time_zone or "UTC")
    today = now.astimezone(zone).date()
    # "3 days before renewal_date": offset -3, so the date is today + 3.
    target = today - dt.timedelta(days=int(journey.trigger.get("offset_days", 0)))
    attribute = journey.trigger["attribute"]
    # Compared as text ("YYYY-MM-DD..."): no cast, so a malformed value never matches
    # and never fails the scan.
    if journey.trigger.get("annual"):
        match = "substring(c2.attributes ->> %(attr)s from 5 for 6) = ANY(%(mmdd)s)"
        mmdd = [target.strftime("-%m-%d")]
        if target.month == 2 and target.day == 28 and not _leap(target.year):
            mmdd.append("-02-29")
    else:
        match = "substring(c2.attributes ->> %(attr)s from 1 for 10) = %(target)s"
        mmdd = []
    valid = "c2.attributes ->> %(attr)s ~ '^\\d{4}-\\d{2}-\\d{2}'"
    return enrol_from(
        journey,
        f"""SELECT c2.id, 'date:' || %(today)s, %(now)s::timestamptz FROM contacts_contact c2
            WHERE c2.workspace_id = %(ws)s AND {valid} AND {match}""",
        {
            "attr": attribute,
            "mmdd": mmdd,
            "target": target.isoformat(),
            "today": today.isoformat(),
            "now": now,
        },
    )


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


_PRODUCT_INTEREST_SQL = """
SELECT e.contact_id, %(key)s || ':' || e.contact_id, max(e.occurred_at) FROM contacts_event e
WHERE e.workspace_id = %(ws)s AND e.contact_id IS NOT NULL
  AND e.occurred_at >= now() - %(lookback)s * interval '1 day'
  AND ((e.name = 'product_viewed' AND btrim(e.properties ->> 'product_id') = %(sku)s)
    OR (e.name IN ('added_to_cart', 'cart_abandoned')
        AND e.properties -> 'items'
            @> jsonb_build_array(jsonb_build_object('product_id', %(sku)s::text))))
GROUP BY e.contact_id
"""


def on_products_changed(changes: list[ProductChange]) -> None:
    """A product back in stock or cheaper lets in the contacts who viewed or carted it
    lately, into the live journeys with that trigger."""
    by_kind = {TriggerKind.BACK_IN_STOCK: BACK_IN_STOCK, TriggerKind.PRICE_DROP: PRICE_DROP}
    journeys = _live(list(by_kind), sorted({c.workspace_id for c in changes}))
    for journey in journeys:
        for change in changes:
            if change.workspace_id != journey.workspace_id:
                continue
            if change.kind != by_kind[TriggerKind(journey.trigger["kind"])]:
                continue
            enrol_from(
                journey,
                _PRODUCT_INTEREST_SQL,
                {
                    "key": change.key,
                    "sku": change.product_id,
                    "lookback": journey.trigger.get("lookback_days", PRODUCT_LOOKBACK_DAYS),
                },
            )
