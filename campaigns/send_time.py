"""Send-time optimisation: for each contact, the hour of the week it engages most, and
the next time that hour comes round within a window (24 h by default).

Engagement is the first human open or click of each message the contact got in the
last `HISTORY_DAYS` (the click time when there is one: a click is a person, an open may
be a privacy proxy). Bot opens and scanner clicks never set `Message.opened_at` /
`clicked_at` (messaging/services/tracking.py), so they are not counted.

1. Resolve each contact's zone (`contact_zone`: its own, else its phone number's
   region when that has a single zone, else the workspace's).
2. Workspace prior: one GROUP BY over the workspace's engaged messages, bucketed by
   hour of week (0 = Monday 00:00-00:59) on the clock of each contact's own zone
   (else the workspace's; the phone-region fallback is not applied in SQL), and
   normalised to shares. An empty workspace gets a prior of `DEFAULT_HOUR` every day.
3. Contact history: one GROUP BY per chunk of `CHUNK` contacts, bucketed the same way
   in the zone from step 1 (passed in as arrays, so the query is set-based).
4. Candidates per zone: `after` itself (for the hour in progress) and every local hour
   start in (after, after + within), as UTC instants. Walking UTC hours from the local
   hour start keeps this DST-correct: a skipped hour never appears, a repeated one is
   taken at its first occurrence.
5. Score of a candidate hour h: engagements_h + PRIOR_STRENGTH * workspace_share_h
   (a Dirichlet prior: the workspace's shape is worth `PRIOR_STRENGTH` engagements, so
   one stray open does not outweigh it but a habit does). The best score wins; ties go
   to the earlier instant. A contact with no history gets the prior's best hour.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import cache

from django.db import connection
from django.db.models import QuerySet
from django.utils import timezone

from contacts.models import Contact
from contacts.zones import contact_zone
from messaging.models import Message
from workspaces.models import Workspace

HOURS_OF_WEEK = 7 * 24
# Local hour used when the workspace has no engagement at all.
DEFAULT_HOUR = 10
# How many engagements the workspace prior is worth against a contact's own history.
PRIOR_STRENGTH = 10.0
# Engagement older than this says little about today's habits.
HISTORY_DAYS = 365
CHUNK = 20_000
# Breaks ties in the prior towards DEFAULT_HOUR without ever outweighing real data.
_DEFAULT_NUDGE = 1e-6

Zoned = tuple[int, str]  # (contact id, zone name from `contact_zone`)


def hour_of_week(local: dt.datetime) -> int:
    """0 = Monday 00:00-00:59 on the wall clock of `local`'s zone, 167 = Sunday 23:00."""
    return local.weekday() * 24 + local.hour


def best_send_times(
    *,
    workspace: Workspace,
    contacts: Sequence[int] | QuerySet[Contact],
    after: dt.datetime,
    within: dt.timedelta = dt.timedelta(hours=24),
) -> dict[int, dt.datetime]:
    """For each contact of `workspace` (ids, or a queryset of its contacts), the UTC
    instant in [after, after + within) at which its best hour of week starts (or
    `after` itself when the best hour is the one in progress). Contacts not in the
    workspace are left out. See the module docstring for how "best" is judged.

    Cost: two GROUP BY queries for up to `CHUNK` contacts (one more per further
    chunk); no query per contact."""
    if isinstance(contacts, QuerySet):
        rows: Iterable[tuple[int, str, str | None]] = (
            contacts.filter(workspace=workspace)
            .values_list("pk", "time_zone", "phone")
            .iterator(chunk_size=CHUNK)
        )
    else:
        ids = list(contacts)
        rows = (
            row
            for start in range(0, len(ids), CHUNK)
            for row in Contact.objects.filter(
                workspace=workspace, pk__in=ids[start : start + CHUNK]
            ).values_list("pk", "time_zone", "phone")
        )
    zoned = [(pk, contact_zone(tz, phone, workspace.time_zone)) for pk, tz, phone in rows]
    return send_times_for(workspace=workspace, zoned=zoned, after=after, within=within)


def send_times_for(
    *,
    workspace: Workspace,
    zoned: Sequence[Zoned],
    after: dt.datetime,
    within: dt.timedelta = dt.timedelta(hours=24),
    prior: list[float] | None = None,
) -> dict[int, dt.datetime]:
    """`best_send_times` for contacts whose zones are already resolved (the broadcast
    planner has read them anyway). `prior` is `workspace_prior`'s answer, for a caller
    that asks chunk by chunk (it costs a GROUP BY over the workspace's messages)."""
    if not zoned:
        return {}
    shares = prior if prior is not None else workspace_prior(workspace=workspace)
    out: dict[int, dt.datetime] = {}
    for start in range(0, len(zoned), CHUNK):
        chunk = zoned[start : start + CHUNK]
        history = contact_history(workspace=workspace, zoned=chunk)
        by_zone: dict[str, list[int]] = defaultdict(list)
        for contact_id, zone in chunk:
            by_zone[zone].append(contact_id)
        for zone, contact_ids in by_zone.items():
            out.update(_pick(contact_ids, history, shares, _candidates(zone, after, within)))
    return out


def _pick(
    contact_ids: list[int],
    history: dict[int, dict[int, int]],
    shares: list[float],
    candidates: list[tuple[int, dt.datetime]],
) -> dict[int, dt.datetime]:
    """Step 5 for the contacts of one zone. Only the prior's best candidate and the
    candidates where a contact has history can win, so each contact costs a lookup
    per bucket of its own history, not one per candidate."""
    prior = [PRIOR_STRENGTH * shares[how] for how, _ in candidates]
    base = max(range(len(prior)), key=lambda i: (prior[i], -i))
    first_index: dict[int, int] = {}
    for index, (how, _) in enumerate(candidates):
        first_index.setdefault(how, index)
    out: dict[int, dt.datetime] = {}
    for contact_id in contact_ids:
        counts = history.get(contact_id)
        best = base
        if counts:
            best_score = prior[base] + counts.get(candidates[base][0], 0)
            for how, n in counts.items():
                if how not in first_index:
                    continue
                index = first_index[how]
                score = prior[index] + n
                if score > best_score or (score == best_score and index < best):
                    best, best_score = index, score
        out[contact_id] = candidates[best][1]
    return out


def _candidates(
    zone_name: str, after: dt.datetime, within: dt.timedelta
) -> list[tuple[int, dt.datetime]]:
    """Step 4: (hour of week, UTC instant) for `after` and each local hour start after
    it and before `after + within`."""
    zone = zoneinfo.ZoneInfo(zone_name)
    local = after.astimezone(zone)
    out = [(hour_of_week(local), after.astimezone(dt.UTC))]
    # The start of the local hour in progress (fold kept, so a repeated hour is right),
    # then whole UTC hours: each lands on a local hour start whatever the offset.
    moment = local.replace(minute=0, second=0, microsecond=0).astimezone(dt.UTC)
    end = after + within
    while True:
        moment += dt.timedelta(hours=1)
        if moment >= end:
            return out
        out.append((hour_of_week(moment.astimezone(zone)), moment))


@cache
def _pg_zones() -> frozenset[str]:
    """Zone names PostgreSQL knows (AT TIME ZONE fails on any other)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM pg_timezone_names")
        return frozenset(row[0] for row in cursor.fetchall())


def _sql_zone(name: str) -> str:
    return name if name in _pg_zones() else "UTC"


# Hour of week (Monday 00:00 = 0) of the engagement instant on a zone's wall clock.
_ENGAGED_AT = "COALESCE(m.clicked_at, m.opened_at)"
_HOW = (
    "((EXTRACT(ISODOW FROM {at} AT TIME ZONE {zone})::int - 1) * 24"
    " + EXTRACT(HOUR FROM {at} AT TIME ZONE {zone})::int)"
)


def _since() -> dt.datetime:
    return timezone.now() - dt.timedelta(days=HISTORY_DAYS)


def workspace_prior(*, workspace: Workspace) -> list[float]:
    """Step 2: the workspace's share of engagement in each hour of week (sums to 1),
    or `DEFAULT_HOUR` every day when it has none. Every share carries a tiny nudge
    towards `DEFAULT_HOUR`, so hours the workspace never engaged in fall back to it."""
    zones = sorted(_pg_zones())
    how = _HOW.format(
        at=_ENGAGED_AT,
        zone="(CASE WHEN c.time_zone = ANY(%(zones)s) THEN c.time_zone ELSE %(fallback)s END)",
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT {how} AS how, count(*)
            FROM {Message._meta.db_table} m
            JOIN {Contact._meta.db_table} c ON c.id = m.contact_id
            WHERE m.workspace_id = %(workspace)s
              AND (m.clicked_at IS NOT NULL OR m.opened_at IS NOT NULL)
              AND {_ENGAGED_AT} >= %(since)s
            GROUP BY 1
            """,  # only table names and fixed SQL are formatted in
            {
                "zones": zones,
                "fallback": _sql_zone(contact_zone("", None, workspace.time_zone)),
                "workspace": workspace.pk,
                "since": _since(),
            },
        )
        counts = dict(cursor.fetchall())
    total = sum(counts.values())
    default = [_DEFAULT_NUDGE if h % 24 == DEFAULT_HOUR else 0.0 for h in range(HOURS_OF_WEEK)]
    if not total:
        return [1.0 if d else 0.0 for d in default]
    return [counts.get(h, 0) / total + default[h] for h in range(HOURS_OF_WEEK)]


def contact_history(*, workspace: Workspace, zoned: Sequence[Zoned]) -> dict[int, dict[int, int]]:
    """Step 3: {contact id: {hour of week: engagements}} for contacts with any."""
    if not zoned:
        return {}
    how = _HOW.format(at=_ENGAGED_AT, zone="z.zone")
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            SELECT z.contact_id, {how} AS how, count(*)
            FROM unnest(%(ids)s::bigint[], %(zones)s::text[]) AS z(contact_id, zone)
            JOIN {Message._meta.db_table} m ON m.contact_id = z.contact_id
            WHERE m.workspace_id = %(workspace)s
              AND (m.clicked_at IS NOT NULL OR m.opened_at IS NOT NULL)
              AND {_ENGAGED_AT} >= %(since)s
            GROUP BY 1, 2
            """,  # only table names and fixed SQL are formatted in
            {
                "ids": [contact_id for contact_id, _ in zoned],
                "zones": [_sql_zone(zone) for _, zone in zoned],
                "workspace": workspace.pk,
                "since": _since(),
            },
        )
        history: dict[int, dict[int, int]] = defaultdict(dict)
        for contact_id, hour, count in cursor.fetchall():
            history[contact_id][hour] = count
    return history
