"""bench-sweep's due moments (lifecycle/services/due.py): the due run timed when
nothing is due and when ~10% of contacts have crossed a boundary, and the lag from a
boundary to the stage change with the due run beating every LIFECYCLE_DUE_SECONDS."""

from __future__ import annotations

import datetime as dt
import os
import time
from typing import Any

TICK_SECONDS = float(os.environ.get("LIFECYCLE_DUE_SECONDS", "15"))
# How long (of the simulated clock) the lag is sampled for.
LAG_HOURS = float(os.environ.get("LAG_HOURS", "2"))


def due_run(workspace: Any, now: dt.datetime) -> tuple[float, int, int]:
    """One due run as beat starts it, in this process: (seconds, evaluated, moved)."""
    from lifecycle.services.due import due_contacts_evaluate

    started = time.perf_counter()
    evaluated, moved = due_contacts_evaluate(now=now, workspace_ids=[workspace.pk])
    return time.perf_counter() - started, evaluated, moved


def due_rows(workspace: Any) -> int:
    from lifecycle.models import ContactDue

    return ContactDue.objects.filter(workspace=workspace).count()


def boundary_lag(workspace: Any, start: dt.datetime) -> tuple[float | None, int]:
    """Beat the due run every TICK_SECONDS of a simulated clock from `start` for
    LAG_HOURS. Each move the rules make is dated at its boundary (`at`); its stage
    changed when the run that found it finished: the clock of that run plus the run's
    own duration. Returns (p95 of those lags in seconds, moves sampled)."""
    from lifecycle.models import StageTransition

    lags: list[float] = []
    clock = start
    end = start + dt.timedelta(hours=LAG_HOURS)
    last_id = StageTransition.objects.order_by("-id").values_list("id", flat=True).first() or 0
    while clock < end:
        clock += dt.timedelta(seconds=TICK_SECONDS)
        seconds, _, moved = due_run(workspace, clock)
        if moved:
            for at in StageTransition.objects.filter(
                workspace=workspace, id__gt=last_id, cause="rule"
            ).values_list("at", flat=True):
                lags.append((clock - at).total_seconds() + seconds)
            last_id = max(
                last_id,
                StageTransition.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            )
    if not lags:
        return None, 0
    lags.sort()
    return lags[min(len(lags) - 1, int(0.95 * len(lags)))], len(lags)
