"""The what-if funnel: how many contacts each stage would have held at each of the
last 12 month ends under proposed stage rules, next to the current rules, computed
by a worker with its progress on a `WhatIfRun` row.

Both sides are computed the same way (lifecycle.whatif.funnel_as_of: contacts signed
up by each month end, rules read from the events that had happened by then), so the
difference between them is the rule change alone, not history recorded under older
rules or manual moves."""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from config.errors import DomainError
from config.queue import enqueue_on_commit
from lifecycle.models import WhatIfRun
from lifecycle.whatif import Proposal, funnel_as_of, proposal_current, proposal_parse
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

logger = logging.getLogger(__name__)

MONTHS = 12


def month_ends(*, workspace: Workspace, now: dt.datetime, count: int = MONTHS) -> list[dt.datetime]:
    """The last `count` month ends before `now`, oldest first: midnight on the 1st in
    the workspace's time zone (the moment a month is over)."""
    zone = zoneinfo.ZoneInfo(workspace.time_zone or "UTC")
    local = now.astimezone(zone)
    year, month = local.year, local.month
    ends = []
    for _ in range(count):
        ends.append(dt.datetime(year, month, 1, tzinfo=zone))
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return ends[::-1]


@transaction.atomic
def whatif_funnel_start(*, workspace: Workspace, proposal: Proposal, actor: Actor) -> WhatIfRun:
    """Record a what-if funnel for the proposal and hand it to a worker."""
    run = WhatIfRun.objects.create(
        workspace=workspace,
        created_by=actor.user,
        proposal=proposal.to_json(),
        steps_total=2 * MONTHS,
    )
    audit_record(
        workspace=workspace,
        action="stages.whatif_started",
        actor=actor,
        object_type="whatif",
        object_id=run.pk,
    )
    enqueue_on_commit("lifecycle.whatif_funnel", run.pk)
    return run


def _stage_list(proposed: Proposal, current: Proposal) -> list[dict[str, Any]]:
    """Every stage either side has, in the proposed order, then those it removes."""
    stages = [{"key": s.key, "name": s.name} for s in proposed.stages]
    keys = {s.key for s in proposed.stages}
    stages += [{"key": s.key, "name": s.name} for s in current.stages if s.key not in keys]
    return stages


def _by_key(proposal: Proposal, counts: dict[int, int]) -> dict[str, int]:
    return {s.key: counts.get(s.pk, 0) for s in proposal.stages}


def _month(
    run_id: int, workspace: Workspace, moment: dt.datetime, current: Proposal, proposed: Proposal
) -> dict[str, Any]:
    row: dict[str, Any] = {"month_end": moment.isoformat()}
    for side, proposal in (("current", current), ("proposed", proposed)):
        counts = funnel_as_of(workspace=workspace, proposal=proposal, moment=moment)
        row[side] = _by_key(proposal, counts)
        WhatIfRun.objects.filter(pk=run_id).update(steps_done=F("steps_done") + 1)
    return row


def whatif_funnel_run(*, run_id: int, now: dt.datetime | None = None) -> WhatIfRun:
    """Compute a what-if funnel, one step (a month end under one rule set) at a time,
    each step's progress committed so the page can show it. Safe to run twice: a
    finished run is left as it is; an interrupted one starts again from the first
    month (the result is written once, at the end)."""
    run = WhatIfRun.objects.select_related("workspace").get(pk=run_id)
    if run.status in (WhatIfRun.Status.DONE, WhatIfRun.Status.FAILED):
        return run
    WhatIfRun.objects.filter(pk=run.pk).update(status=WhatIfRun.Status.RUNNING, steps_done=0)
    workspace = run.workspace
    try:
        # Checked again: the stages may have changed since the run was asked for.
        proposed = proposal_parse(workspace=workspace, body=run.proposal)
    except DomainError as error:
        WhatIfRun.objects.filter(pk=run.pk).update(
            status=WhatIfRun.Status.FAILED, error=error.message, finished_at=timezone.now()
        )
        return WhatIfRun.objects.get(pk=run.pk)
    current = proposal_current(workspace=workspace)
    try:
        months = [
            _month(run.pk, workspace, moment, current, proposed)
            for moment in month_ends(workspace=workspace, now=now or timezone.now())
        ]
    except Exception:
        logger.exception("lifecycle.whatif_failed workspace=%s run=%s", workspace.pk, run.pk)
        WhatIfRun.objects.filter(pk=run.pk).update(
            status=WhatIfRun.Status.FAILED,
            error="The funnel could not be computed; try again.",
            finished_at=timezone.now(),
        )
        raise
    result = {"stages": _stage_list(proposed, current), "months": months}
    WhatIfRun.objects.filter(pk=run.pk).update(
        status=WhatIfRun.Status.DONE, result=result, finished_at=timezone.now()
    )
    logger.info("lifecycle.whatif_done workspace=%s run=%s", workspace.pk, run.pk)
    return WhatIfRun.objects.get(pk=run.pk)
