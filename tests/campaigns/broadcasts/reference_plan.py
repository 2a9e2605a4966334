"""The broadcast planner as it was before the plan moved into PostgreSQL: every
recipient read into Python, each due time computed, sorted and throttled in a loop.
Kept as the definition the set-based plan (campaigns/broadcasts/plan.py) is compared
against on small audiences."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from campaigns.broadcasts.audience import audience_contacts, hash_ordered, split_counts, throttled
from campaigns.broadcasts.plan import base_due, broadcast_audience, remainder_time
from campaigns.models import Broadcast, ScheduleKind
from campaigns.send_time import send_times_for
from contacts.zones import contact_zone


@dataclass(frozen=True)
class Planned:
    contact_id: int
    due_at: dt.datetime
    template_id: int | None
    variant_id: int | None
    subject: str = ""


@dataclass(frozen=True)
class Arm:
    template_id: int | None
    variant_id: int | None
    best_time: bool = False
    subject: str = ""
    send_at: dt.datetime | None = None


def assignments(broadcast: Broadcast, count: int) -> list[Arm]:
    variants = list(broadcast.variants.order_by("label"))
    if broadcast.winner_variant_id is not None:
        winner = next(v for v in variants if v.pk == broadcast.winner_variant_id)
        at = remainder_time(broadcast, variants, winner)
        return [Arm(winner.template_id, winner.pk, winner.best_time, winner.subject, at)] * count
    if not variants:
        return [Arm(broadcast.template_id, None)] * count
    testing = broadcast.is_ab_test and broadcast.test_pool_percent < 100
    pool = (count * broadcast.test_pool_percent * 2 + 100) // 200 if testing else count
    out: list[Arm] = []
    for v, share in zip(variants, split_counts(pool, [v.weight for v in variants]), strict=True):
        out.extend([Arm(v.template_id, v.pk, v.best_time, v.subject, v.send_at)] * share)
    return out


def reference_plan(broadcast: Broadcast, *, now: dt.datetime) -> list[Planned]:
    workspace = broadcast.workspace
    contacts = hash_ordered(
        audience_contacts(workspace=workspace, audience=broadcast_audience(broadcast)),
        salt=f"broadcast:{broadcast.pk}",
    )
    rows = [
        (pk, contact_zone(zone, phone, workspace.time_zone))
        for pk, zone, phone in contacts.values_list("pk", "time_zone", "phone")
    ]
    assigned = assignments(broadcast, len(rows))
    winner_phase = broadcast.winner_variant_id is not None
    best_after = now if winner_phase else max(broadcast.send_at or now, now)
    best_for = {
        contact_id
        for (contact_id, _), arm in zip(rows, assigned, strict=False)
        if broadcast.schedule == ScheduleKind.BEST or arm.best_time
    }
    best = send_times_for(
        workspace=workspace, zoned=[row for row in rows if row[0] in best_for], after=best_after
    )
    planned: list[tuple[dt.datetime, int, int, Arm]] = []
    for position, ((contact_id, zone), arm) in enumerate(zip(rows, assigned, strict=False)):
        if contact_id in best:
            due = best[contact_id]
        elif arm.send_at is not None:
            due = max(arm.send_at, now)
        elif winner_phase:
            due = now
        else:
            due = base_due(broadcast, zone, now)
        planned.append((due, position, contact_id, arm))
    planned.sort(key=lambda p: (p[0], p[1]))
    dues = throttled([p[0] for p in planned], broadcast.throttle_per_hour)
    return [
        Planned(p[2], due, p[3].template_id, p[3].variant_id, p[3].subject)
        for p, due in zip(planned, dues, strict=True)
    ]
