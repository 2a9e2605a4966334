"""Evaluating the contacts whose data changed (their marks), in short transactions
that never make a writer wait (contacts/services/marks.py has the claims)."""

from __future__ import annotations

import datetime as dt
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from contacts.rules import Scope
from contacts.services import (
    MarkClaim,
    contact_marks_claim,
    contact_marks_done,
    contact_marks_hold,
    contact_marks_release,
    contact_marks_release_stale,
    contact_marks_workspaces,
    event_summaries_refresh,
    segment_members_refresh,
)
from lifecycle.hooks import HookBusy, contacts_refreshed
from lifecycle.services.current import stages_evaluate_marked
from lifecycle.services.due import contacts_due_store
from workspaces.models import Workspace

logger = logging.getLogger(__name__)


def marked_contacts_evaluate(
    *,
    limit: int = 2000,
    urgent_limit: int | None = None,
    now: dt.datetime | None = None,
    after_urgent: Callable[[], object] | None = None,
) -> int:
    """Evaluate a batch of marked contacts in each workspace that has some; returns how
    many contacts in all.

    1. Give back claims older than the lease (a worker died holding them).
    2. For each workspace with pending marks (found by a skip scan, in random order):
       claim the marks of its contacts with urgent news first, up to `urgent_limit`
       (default `limit`; half of it once the oldest news has waited
       LIFECYCLE_MARK_MAX_WAIT_SECONDS), their stages committed on their own (then
       `after_urgent` runs: the task hands their moves to the journeys at once)
       before the batch is filled with the oldest of the rest up to `limit` contacts
       (a second claim; once the rest is overdue, at least as many as the urgent
       ones); with nothing urgent, the oldest `limit`. Before each later step of the
       pass (the rest's claim, each derived step), urgent news that came in meanwhile
       is claimed and its stages committed first (`_Pass`). A workspace where another
       worker is claiming right now is skipped.
    3. Stages, one transaction: hold the claim (the contacts, then their marks),
       recompute the contacts' event summaries, evaluate their stages. Commit.
    4. Derived data, one transaction: hold the claim again, bring the contacts' stored
       segment members up to date (contacts' service, called from here so imports
       keep flowing one way), run the contacts_refreshed hooks (analytics rollups,
       journey triggers), delete the claimed marks. Commit.
    Each transaction reads what is committed when it runs; a change committed after
    step 2 left a mark of its own, so the contact is evaluated again. A failure gives
    the claim back at once; a crash leaves it until the lease runs out. Steps 3 and 4
    are safe to repeat, so either way the next claim does them again."""
    contact_marks_release_stale(lease=dt.timedelta(seconds=settings.LIFECYCLE_MARK_LEASE_SECONDS))
    workspaces = contact_marks_workspaces()
    random.shuffle(workspaces)  # no workspace always waits behind another
    max_wait = dt.timedelta(seconds=settings.LIFECYCLE_MARK_MAX_WAIT_SECONDS)
    total = 0
    for workspace_id in workspaces:
        claim = contact_marks_claim(
            workspace_id=workspace_id, limit=limit, max_wait=max_wait, urgent_limit=urgent_limit
        )
        if claim is not None:
            work = _Pass(now, urgent_limit or limit, after_urgent)
            total += work.run(claim, limit)
    return total


# Claims of urgent news placed between the steps of one pass, at most.
MEANWHILE = 4


@dataclass
class _Pass:
    """One workspace's pass: a claim's stages step, then (its stages committed, the
    contacts visible where they belong) the rest of the batch and every derived step.
    Urgent news that came in meanwhile is placed before each of those (up to
    MEANWHILE claims a pass): it waits for the step a worker is on, not its batch."""

    now: dt.datetime | None
    urgent_limit: int
    after_urgent: Callable[[], object] | None
    owed: list[tuple[MarkClaim, int, int]] = field(default_factory=list)  # derived steps
    meanwhile: int = 0

    def run(self, claim: MarkClaim, limit: int) -> int:
        done = 0
        if claim.overdue:  # the rest has waited too long: it gets its half first
            self.meanwhile = MEANWHILE
        try:
            self._place(claim)
            if claim.urgent:
                self._urgent_news()
                taken = len(claim.sources)
                fill = max(limit - taken, taken if claim.overdue else 0)
                rest = None
                if fill > 0:
                    self._meanwhile()
                    rest = contact_marks_claim(workspace_id=claim.workspace_id, limit=fill)
                if rest is not None:
                    self._place(rest)
            while self.owed:
                self._meanwhile()
                done += self._derive(*self.owed.pop(0))
        except BaseException:
            for owed, _, _ in self.owed:
                contact_marks_release(claim=owed)
            raise
        return done

    def _place(self, claim: MarkClaim) -> None:
        try:
            moved, replayed = _stages_step(claim, self.now)
        except HookBusy as busy:
            _deferred(claim, busy)
            return
        except BaseException:
            contact_marks_release(claim=claim)
            raise
        self.owed.append((claim, moved, replayed))

    def _urgent_news(self) -> None:
        """Hand the moves just written to the journeys (the task's dispatch)."""
        if self.after_urgent is not None:
            self.after_urgent()

    def _meanwhile(self) -> None:
        if self.meanwhile >= MEANWHILE or not self.owed:
            return
        workspace_id = self.owed[0][0].workspace_id
        claim = contact_marks_claim(
            workspace_id=workspace_id, limit=self.urgent_limit, urgent_only=True
        )
        if claim is not None:
            self.meanwhile += 1
            self._place(claim)
            self._urgent_news()

    def _derive(self, claim: MarkClaim, moved: int, replayed: int) -> int:
        try:
            _derived_step(claim)
        except HookBusy as busy:
            _deferred(claim, busy)
            return 0
        except BaseException:
            contact_marks_release(claim=claim)
            raise
        logger.info(
            "lifecycle.marked_evaluated workspace=%s contacts=%s moved=%s replayed=%s",
            claim.workspace_id,
            len(claim.sources),
            moved,
            replayed,
        )
        return len(claim.sources)


def _deferred(claim: MarkClaim, busy: HookBusy) -> None:
    """A rebuild holds the rollups: what is written stays, the rest waits for the next
    claim of these contacts."""
    contact_marks_release(claim=claim)
    logger.info(
        "lifecycle.marked_deferred workspace=%s contacts=%s reason=%s",
        claim.workspace_id,
        len(claim.sources),
        busy,
    )


def _stages_step(claim: MarkClaim, now: dt.datetime | None) -> tuple[int, int]:
    """(moves written, contacts replayed)."""
    with transaction.atomic():
        ids = contact_marks_hold(claim=claim)
        if not ids:
            return 0, 0
        event_summaries_refresh(contact_ids=ids)
        workspace = Workspace.objects.get(pk=claim.workspace_id)
        # Each contact as a replay from the earliest moment its changes are about
        # would put it: now for an edit, the event's time for an event. Set-based for
        # contacts whose data is current, replayed for those with news about the past
        # (a late event rewrites what follows it): current.py.
        moved, replayed = stages_evaluate_marked(
            workspace=workspace, since={i: claim.since.get(i) for i in ids}, now=now
        )
        # Their next due moment, from their data as it now is (lifecycle/services/due.py).
        contacts_due_store(workspace=workspace, scope=Scope.of(ids), now=now)
        return moved, replayed


def _derived_step(claim: MarkClaim) -> None:
    with transaction.atomic():
        ids = contact_marks_hold(claim=claim)
        if ids:
            segment_members_refresh(
                workspace=Workspace.objects.get(pk=claim.workspace_id), contact_ids=ids
            )
            contacts_refreshed(ids, claim.dated_since)
        contact_marks_done(claim=claim)
