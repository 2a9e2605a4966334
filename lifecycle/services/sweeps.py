"""Sweeps: every contact of a workspace evaluated again, in id-range chunks that
workers run in parallel. Time alone changes stages ("no purchase for 90 days"), and
so does a change to the stage definitions; a sweep catches both. A periodic sweep
(time alone) replays the contacts it finds moving, so each move is dated when its
time boundary was crossed; a sweep after a change of definitions moves contacts now,
the change being the cause."""

from __future__ import annotations

import datetime as dt
import logging

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.queue import enqueue
from contacts.models import Contact
from contacts.rules import Scope
from contacts.services.locks import contacts_hold
from lifecycle.hooks import contacts_due_evaluated
from lifecycle.models import Cause, SweepRun
from lifecycle.services.chunks import sweep_chunks
from lifecycle.services.due import contacts_due_store, due_rules_fingerprint
from lifecycle.services.evaluation import stages_evaluate, stages_movers
from lifecycle.services.replay import stages_replay
from workspaces.models import Workspace

logger = logging.getLogger(__name__)

PERIODIC, DUE_RULES = SweepRun.PERIODIC, SweepRun.DUE_RULES
# A sweep started longer ago than this and not finished has lost chunks (the broker
# was down): it no longer holds a due-rules sweep back.
_BUSY = dt.timedelta(hours=1)


def sweep_start(*, workspace: Workspace, reason: str, now: dt.datetime | None = None) -> SweepRun:
    """Record a sweep and hand its chunks to workers. `now` evaluates the rules as of
    another moment (benchmarks, replaying history); by default each chunk uses its own
    start time."""

    chunks = sweep_chunks(workspace=workspace)
    run = SweepRun.objects.create(
        workspace=workspace, reason=reason[:100], chunks_total=len(chunks)
    )
    if not chunks:
        SweepRun.objects.filter(pk=run.pk).update(finished_at=timezone.now())

    def enqueue_chunks() -> None:
        # A chunk the broker cannot take now is covered by the next periodic sweep
        # (lifecycle.sweep_due), which the broker being down delays, never skips.
        moment = now.isoformat() if now else None
        for low, high in chunks:
            enqueue("lifecycle.sweep_chunk", run.pk, low, high, moment)

    transaction.on_commit(enqueue_chunks)
    logger.info(
        "lifecycle.sweep_started workspace=%s run=%s chunks=%s reason=%s",
        workspace.pk,
        run.pk,
        len(chunks),
        reason,
    )
    return run


def sweep_chunk(*, run_id: int, low: int, high: int, now: dt.datetime | None = None) -> int:
    """Evaluate one chunk of a sweep; returns how many contacts moved. Safe to run
    twice: a repeated chunk finds nothing left to change."""
    run = SweepRun.objects.select_related("workspace").get(pk=run_id)
    scope = Scope.between(low, high)
    with transaction.atomic():
        if run.reason == PERIODIC or run.reason.startswith(DUE_RULES):
            moved = _time_moves(workspace=run.workspace, scope=scope, now=now)
            if moved:
                # Due moments should have moved them already (docs/rules.md).
                logger.warning(
                    "lifecycle.safety_sweep_moved workspace=%s run=%s moved=%s",
                    run.workspace_id,
                    run_id,
                    moved,
                )
        else:
            moved = stages_evaluate(workspace=run.workspace, scope=scope, cause=Cause.RULE, now=now)
        # Every contact's next due moment, in the transaction that evaluated it.
        contacts_due_store(workspace=run.workspace, scope=scope, now=now)
        if run.reason.startswith(DUE_RULES):
            # A boundary of the new rules crossed before this chunk ran was in no due
            # moment: the chunk's contacts are looked at as a due run's are.
            ids = Contact.objects.filter(
                workspace=run.workspace, pk__gte=low, pk__lte=high
            ).values_list("pk", flat=True)
            contacts_due_evaluated(run.workspace_id, list(ids), now or timezone.now())
    with transaction.atomic():
        SweepRun.objects.filter(pk=run_id).update(
            chunks_done=F("chunks_done") + 1, contacts_changed=F("contacts_changed") + moved
        )
        SweepRun.objects.filter(
            pk=run_id, chunks_done__gte=F("chunks_total"), finished_at__isnull=True
        ).update(finished_at=timezone.now())
    return moved


def _time_moves(*, workspace: Workspace, scope: Scope, now: dt.datetime | None) -> int:
    """A periodic sweep's chunk: only time has passed since the contacts were last
    evaluated (data changes are replayed as they arrive), so whoever the rules would
    move now crossed a time boundary since its last move. The replay from now finds
    that boundary (and any crossed after it: customer → at risk → lapsed when sweeps
    were late) and dates each move when it was crossed; returns the moves written."""
    now = now or timezone.now()
    with transaction.atomic():
        movers = contacts_hold(contact_ids=stages_movers(workspace=workspace, scope=scope, now=now))
        return stages_replay(workspace=workspace, since=dict.fromkeys(movers, now), now=now)


def sweep_now(*, workspace: Workspace, now: dt.datetime | None = None) -> int:
    """Run a whole sweep in this process (commands, tests); returns contacts moved."""
    moved = 0
    for low, high in sweep_chunks(workspace=workspace):
        with transaction.atomic():
            scope = Scope.between(low, high)
            moved += stages_evaluate(workspace=workspace, scope=scope, cause=Cause.RULE, now=now)
            contacts_due_store(workspace=workspace, scope=scope, now=now)
    return moved


def sweeps_start_due(*, every: dt.timedelta) -> list[int]:
    """Start a sweep of each workspace whose due rules changed since its last such
    sweep (`DUE_RULES`: a journey went live or came back, a segment it listens to was
    edited), or whose last sweep started longer ago than `every` (beat calls this
    often; the interval lives here, not in beat). Both move only whom time moved. A
    due-rules sweep waits while another sweep of the workspace is under way (an
    editor saving a segment five times starts one or two, not five)."""
    started = []
    now = timezone.now()
    for workspace in Workspace.objects.all():
        runs = SweepRun.objects.filter(workspace=workspace).order_by("-started_at")
        stored = runs.filter(reason__startswith=DUE_RULES).values_list("reason", flat=True).first()
        fingerprint = due_rules_fingerprint(workspace)
        reason = f"{DUE_RULES}{fingerprint}" if fingerprint else SweepRun.DUE_RULES_NONE
        if stored not in (None, reason) and fingerprint is None:
            SweepRun.objects.create(workspace=workspace, reason=reason, finished_at=now)
            continue
        if stored != reason and fingerprint is not None:
            busy = runs.filter(finished_at__isnull=True, started_at__gte=now - _BUSY).exists()
            if not busy:
                with transaction.atomic():
                    started.append(sweep_start(workspace=workspace, reason=reason).pk)
            continue
        last = runs.first()
        if last is None or now - last.started_at >= every:
            with transaction.atomic():
                started.append(sweep_start(workspace=workspace, reason=PERIODIC).pk)
    return started
