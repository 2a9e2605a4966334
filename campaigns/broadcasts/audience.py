"""Who a broadcast goes to, and when each of them is due.

The audience is one SQL query on contacts: (any included segment OR any included stage)
AND NOT (any excluded segment OR any excluded stage) AND consent for the channel.
Filtering `Contact` rather than joining memberships makes each contact appear once,
however many included segments or stages it is in."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import CharField, Count, Exists, F, Func, OuterRef, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat

from contacts.models import Channel, Contact, EmailStatus, Segment, SmsStatus
from contacts.rules import compile_rule
from lifecycle.models import ContactStage
from workspaces.models import Workspace


@dataclass(frozen=True)
class Audience:
    channel: str
    include_segment_ids: Sequence[int] = ()
    include_stage_ids: Sequence[int] = ()
    exclude_segment_ids: Sequence[int] = ()
    exclude_stage_ids: Sequence[int] = ()

    @property
    def is_empty(self) -> bool:
        return not self.include_segment_ids and not self.include_stage_ids


def _any_of(workspace: Workspace, segment_ids: Sequence[int], stage_ids: Sequence[int]) -> Q:
    q = Q(pk__in=[])
    segments = Segment.objects.filter(workspace=workspace, pk__in=list(segment_ids))
    for segment in segments.order_by("pk"):
        q |= compile_rule(segment.rule, workspace=workspace)
    if stage_ids:
        q |= Q(
            Exists(
                ContactStage.objects.filter(
                    contact_id=OuterRef("pk"), workspace=workspace, stage_id__in=list(stage_ids)
                )
            )
        )
    return q


def segment_counts(*, workspace: Workspace) -> dict[int, int]:
    """How many contacts each of the workspace's segments holds now, in one pass over
    its contacts (a filtered count per segment), for the audience pickers."""
    segments = list(Segment.objects.filter(workspace=workspace).order_by("pk")[:500])
    if not segments:
        return {}
    counts = Contact.objects.filter(workspace=workspace).aggregate(
        **{
            f"s{segment.pk}": Count("pk", filter=compile_rule(segment.rule, workspace=workspace))
            for segment in segments
        }
    )
    return {segment.pk: counts[f"s{segment.pk}"] for segment in segments}


def consent_q(channel: str) -> Q:
    if channel == Channel.SMS:
        return Q(phone__isnull=False, sms_status=SmsStatus.SUBSCRIBED) & ~Q(phone="")
    return Q(email__isnull=False, email_status=EmailStatus.SUBSCRIBED) & ~Q(email="")


def audience_contacts(*, workspace: Workspace, audience: Audience) -> QuerySet[Contact]:
    """The contacts a broadcast with this audience would reach now (ids, no order)."""
    if audience.is_empty:
        return Contact.objects.none()
    included = _any_of(workspace, audience.include_segment_ids, audience.include_stage_ids)
    queryset = Contact.objects.filter(workspace=workspace).filter(included)
    queryset = queryset.filter(consent_q(audience.channel))
    if audience.exclude_segment_ids or audience.exclude_stage_ids:
        excluded = _any_of(workspace, audience.exclude_segment_ids, audience.exclude_stage_ids)
        queryset = queryset.exclude(excluded)
    return queryset


def audience_count(*, workspace: Workspace, audience: Audience) -> int:
    return audience_contacts(workspace=workspace, audience=audience).count()


def hash_ordered(queryset: QuerySet[Contact], *, salt: str) -> QuerySet[Contact]:
    """The contacts in a deterministic pseudo-random order (md5 of salt and id): the
    order A/B arms and the test pool are cut from, the same on every run."""
    digest = Func(Concat(Value(f"{salt}:"), Cast(F("pk"), CharField())), function="md5")
    return queryset.annotate(_order=digest).order_by("_order", "pk")


def split_counts(total: int, weights: Sequence[int]) -> list[int]:
    """Split `total` by integer weights so each share is within one of exact: cut
    points are round(total * cumulative weight / sum), so 1,999 at 50/50 is 1000/999."""
    whole = sum(weights)
    cuts = [0]
    running = 0
    for weight in weights:
        running += weight
        # Round half up in integers (no float error at millions of contacts).
        cuts.append((2 * total * running + whole) // (2 * whole))
    return [cuts[i + 1] - cuts[i] for i in range(len(weights))]


def throttled(base: list[dt.datetime], per_hour: int | None) -> list[dt.datetime]:
    """Due times spread so that no hour holds more than `per_hour` messages: each is
    due at its base time or one interval after the previous one, whichever is later.
    `base` must be sorted."""
    if not per_hour:
        return list(base)
    interval = dt.timedelta(seconds=3600 / per_hour)
    out: list[dt.datetime] = []
    previous: dt.datetime | None = None
    for when in base:
        due = when if previous is None else max(when, previous + interval)
        out.append(due)
        previous = due
    return out
