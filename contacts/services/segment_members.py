"""Stored segment membership (SegmentMember): kept equal to the segment's rule
evaluated live, which stays the definition.

How the rows are kept:
1. A new segment or a changed rule: `members_ready` goes false (readers evaluate the
   rule live meanwhile) and a worker runs `segment_members_build`: the rule over the
   workspace in contact-id chunks, each one INSERT … SELECT … ON CONFLICT DO NOTHING of
   the matching contacts plus one DELETE of the rows that no longer match; at the end
   `members_ready` is set, only if the rule is still the one built (a later edit
   queued a build of its own).
2. Contacts whose data changed: the stage engine calls `segment_members_refresh` with
   the contacts it just evaluated (every change marks its contact), for every segment
   of the workspace, in the transaction that consumes the marks.
3. Time alone (within_days, older than N days, days in stage, and conditions on other
   apps' data that change without marking the contact): `segment_members_due` lists
   the segments whose rule can drift, every SEGMENT_MEMBERS_REFRESH_SECONDS, and each
   is built again. Staleness bound: that interval plus one build.
4. An erased contact: its rows go with it (foreign key cascade) and the counts are
   taken down first (`segment_members_forget_contact`).

Every writer of a segment's rows takes the segment's advisory lock first (segments in
id order), so a build chunk and an incremental refresh never interleave: the one that
runs second reads what the first committed. Inserts go in contact-id order, the lock
order of every writer of the table."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from config.errors import InvalidInput
from config.queue import enqueue_on_commit
from contacts.hooks import SEGMENT_MEMBERS_HOOKS
from contacts.models import Contact, Segment
from contacts.rules import CONDITIONS, contacts_matching, referenced_segments
from contacts.rules.context import Scope
from contacts.rules.fields import CONTACT_FIELD_NAMES
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

_LOCK_SPACE = 7311  # advisory-lock namespace: one writer of a segment's rows at a time
BUILD_TASK = "contacts.segment_members_build"
# Keys and operators whose result changes with the clock alone.
_TIME_KEYS = frozenset({"within_days", "older_than_days"})
_TIME_OPS = frozenset({"within_last_days", "more_than_days_ago"})


def _lock(segment_ids: Sequence[int]) -> None:
    with connection.cursor() as cursor:
        for segment_id in sorted(segment_ids):
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_LOCK_SPACE, segment_id])


def _sync(segment: Segment, rule: Any, scope: Scope, now: dt.datetime) -> tuple[int, int]:
    """Make the segment's rows within `scope` equal to the rule's matches there;
    returns (inserted, deleted) and moves member_count by the difference."""
    matching = contacts_matching(
        rule, workspace=segment.workspace, scope=scope, now=now, validate=False
    ).values("pk")
    match_sql, match_params = matching.query.sql_with_params()
    limit_sql, limit_params = _limit(scope)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""DELETE FROM contacts_segmentmember m
                WHERE m.workspace_id = %s AND m.segment_id = %s AND {limit_sql}
                AND NOT EXISTS (SELECT 1 FROM ({match_sql}) AS s(id) WHERE s.id = m.contact_id)
                RETURNING m.contact_id""",
            [segment.workspace_id, segment.pk, *limit_params, *match_params],
        )
        left = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            f"""INSERT INTO contacts_segmentmember (workspace_id, segment_id, contact_id)
                SELECT %s, %s, s.id FROM ({match_sql}) AS s(id)
                ORDER BY s.id
                ON CONFLICT DO NOTHING
                RETURNING contact_id""",
            [segment.workspace_id, segment.pk, *match_params],
        )
        joined = [row[0] for row in cursor.fetchall()]
        inserted, deleted = len(joined), len(left)
        if inserted != deleted:
            cursor.execute(
                "UPDATE contacts_segment SET member_count = greatest(member_count + %s, 0) "
                "WHERE id = %s",
                [inserted - deleted, segment.pk],
            )
    if joined or left:
        for hook in SEGMENT_MEMBERS_HOOKS:
            hook(segment.workspace_id, segment.pk, joined, left)
    return inserted, deleted


def segment_lock(*, segment_id: int) -> None:
    _lock([segment_id])


def segment_locks(*, workspace_id: int) -> None:
    """Take every segment's lock of the workspace (id order, the order of every
    writer): for a writer of per-segment rollups that reads the stored members and
    must not interleave with a change to them."""
    ids = (
        Segment.objects.filter(workspace_id=workspace_id)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    _lock(list(ids))


def _limit(scope: Scope) -> tuple[str, list[Any]]:
    if scope.ids is not None:
        return "m.contact_id = ANY(%s::bigint[])", [scope.ids_array]
    return "m.contact_id BETWEEN %s AND %s", [scope.low, scope.high]


def segment_members_build(*, segment_id: int, chunk: int | None = None) -> bool:
    """Build a segment's rows from its rule over the whole workspace, in id-range
    chunks (one short transaction each); True if the rows now follow the current
    rule (`members_ready`), False if the segment is gone or its rule changed meanwhile.
    Safe to run twice or concurrently: every chunk diffs against what is stored."""
    segment = Segment.objects.select_related("workspace").filter(pk=segment_id).first()
    if segment is None:
        return False
    chunk = chunk or settings.SEGMENT_MEMBERS_CHUNK
    rule = segment.rule
    now = timezone.now()
    bounds = Contact.objects.filter(workspace_id=segment.workspace_id).aggregate(
        low=Min("pk"), high=Max("pk")
    )
    low, high = bounds["low"], bounds["high"]
    inserted = deleted = 0
    if low is not None and high is not None:
        for start in range(low, high + 1, chunk):
            with transaction.atomic():
                _lock([segment.pk])
                added, removed = _sync(segment, rule, Scope.between(start, start + chunk - 1), now)
            inserted += added
            deleted += removed
    with transaction.atomic():
        _lock([segment.pk])
        with connection.cursor() as cursor:
            # Rows of contacts outside the id bounds (none: a contact's rows go with
            # it) are left; the count is taken exactly while no writer runs.
            cursor.execute(
                """UPDATE contacts_segment SET members_ready = true, members_refreshed_at = %s,
                       member_count = (SELECT count(*) FROM contacts_segmentmember m
                                       WHERE m.workspace_id = %s AND m.segment_id = %s)
                   WHERE id = %s AND rule = %s::jsonb""",
                [now, segment.workspace_id, segment.pk, segment.pk, json.dumps(rule)],
            )
            ready = cursor.rowcount == 1
    logger.info(
        "contacts.segment_members_built segment=%s inserted=%s deleted=%s ready=%s",
        segment.pk,
        inserted,
        deleted,
        ready,
    )
    return ready


def segment_members_refresh(*, workspace: Workspace, contact_ids: Sequence[int]) -> int:
    """Bring every segment of the workspace up to date for these contacts (their data
    just changed and the stage engine evaluated them); returns how many rows changed.
    Runs in the caller's transaction when there is one (the engine's, which consumes
    the contacts' marks). Segments still being built get the same treatment, so a
    chunk the build has passed stays right."""
    if not contact_ids:
        return 0
    scope = Scope.of(contact_ids)
    segments = list(Segment.objects.filter(workspace=workspace).order_by("pk"))
    changed = 0
    now = timezone.now()
    with transaction.atomic(savepoint=False):
        _lock([s.pk for s in segments])
        for segment in segments:
            segment.workspace = workspace
            try:
                added, removed = _sync(segment, segment.rule, scope, now)
            except (InvalidInput, ValueError):
                # A rule over the bounds (it grew through a segment it uses): no stored
                # members can be right, so readers must evaluate it (and fail) live.
                Segment.objects.filter(pk=segment.pk).update(members_ready=False)
                continue
            changed += added + removed
    return changed


def rule_drifts_with_time(
    rule: Any, *, workspace: Workspace, _seen: frozenset[int] = frozenset()
) -> bool:
    """Can the rule's result change with no change to the contact's own data? True
    for windows and ages (within_days, older_than_days, within_last_days,
    more_than_days_ago), for fields and conditions of later apps (stage, days in
    stage, engagement, survey answers, predictions: they change without marking the
    contact), and for a rule using a segment that does."""
    if isinstance(rule, list):
        return any(rule_drifts_with_time(item, workspace=workspace, _seen=_seen) for item in rule)
    if not isinstance(rule, dict):
        return False
    if _TIME_KEYS & rule.keys() or rule.get("op") in _TIME_OPS:
        return True
    if "field" in rule and rule["field"] not in CONTACT_FIELD_NAMES:
        return True
    if any(key in CONDITIONS for key in rule):
        return True
    if "segment" in rule and isinstance(rule["segment"], int):
        segment_id = rule["segment"]
        if segment_id in _seen:
            return False
        used = Segment.objects.filter(workspace=workspace, pk=segment_id).values("rule").first()
        if used is not None and rule_drifts_with_time(
            used["rule"], workspace=workspace, _seen=_seen | {segment_id}
        ):
            return True
    return any(
        rule_drifts_with_time(value, workspace=workspace, _seen=_seen)
        for key, value in rule.items()
        if key != "segment"
    )


def segment_members_due(*, now: dt.datetime | None = None) -> list[int]:
    """Segments to build now: never built for their current rule (a lost task), or
    whose rule drifts with time and was last refreshed SEGMENT_MEMBERS_REFRESH_SECONDS
    ago or more."""
    now = now or timezone.now()
    stale_before = now - dt.timedelta(seconds=settings.SEGMENT_MEMBERS_REFRESH_SECONDS)
    due: list[int] = []
    candidates = Segment.objects.filter(
        Q(members_ready=False)
        | Q(members_refreshed_at__isnull=True)
        | Q(members_refreshed_at__lte=stale_before)
    ).select_related("workspace")
    for segment in candidates.order_by("pk"):
        if not segment.members_ready or rule_drifts_with_time(
            segment.rule, workspace=segment.workspace
        ):
            due.append(segment.pk)
    return due


def segment_members_invalidate(*, segment: Segment) -> list[int]:
    """The segment's rule changed: it and every segment using it (at any depth) stop
    being read from stored rows until built again; a build of each is queued after
    commit. Returns their ids."""
    affected = {segment.pk}
    others = list(Segment.objects.filter(workspace=segment.workspace).exclude(pk=segment.pk))
    grew = True
    while grew:
        grew = False
        for other in others:
            if other.pk not in affected and referenced_segments(other.rule) & affected:
                affected.add(other.pk)
                grew = True
    Segment.objects.filter(pk__in=affected).update(members_ready=False)
    for segment_id in sorted(affected):
        enqueue_on_commit(BUILD_TASK, segment_id)
    return sorted(affected)


def segment_members_forget_contact(*, contact_id: int) -> None:
    """Take an erased contact out of its segments' counts (its rows go with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            """UPDATE contacts_segment SET member_count = greatest(member_count - 1, 0)
               WHERE id IN (SELECT segment_id FROM contacts_segmentmember WHERE contact_id = %s)""",
            [contact_id],
        )
