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


def due_run(workspace: Any, now: dt.datetime, *, exact: bool = False) -> tuple[float, int, int]:
    """One due run as beat starts it, in this process: (seconds, evaluated, moved).
    `exact`: every due contact is late, so replayed (moves dated at their boundaries,
    what a run after downtime does); otherwise every one is on time and the set-based
    statement moves it (what runs every LIFECYCLE_DUE_SECONDS do)."""
    from lifecycle.services.due import due_contacts_evaluate

    started = time.perf_counter()
    evaluated, moved = due_contacts_evaluate(
        now=now, workspace_ids=[workspace.pk], late_seconds=0 if exact else None
    )
    return time.perf_counter() - started, evaluated, moved


def due_rows(workspace: Any) -> int:
    from lifecycle.models import ContactDue

    return ContactDue.objects.filter(workspace=workspace).count()


def boundary_lag(workspace: Any, start: dt.datetime) -> tuple[float | None, int]:
    """Beat the due run every TICK_SECONDS of a simulated clock from `start` for
    LAG_HOURS, as beat does. A contact's boundary is no earlier than its due moment, and
    its stage changed when the run that moved it finished: the run's clock plus the
    run's own duration. Returns (p95 of those lags, an upper bound, in seconds; moves)."""
    from lifecycle.models import ContactDue, StageTransition

    lags: list[float] = []
    clock = start
    end = start + dt.timedelta(hours=LAG_HOURS)
    last_id = StageTransition.objects.order_by("-id").values_list("id", flat=True).first() or 0
    while clock < end:
        clock += dt.timedelta(seconds=TICK_SECONDS)
        due = dict(
            ContactDue.objects.filter(workspace=workspace, due_at__lte=clock).values_list(
                "contact_id", "due_at"
            )
        )
        seconds, _, moved = due_run(workspace, clock)
        if moved:
            for contact_id in StageTransition.objects.filter(
                workspace=workspace, id__gt=last_id, cause="rule"
            ).values_list("contact_id", flat=True):
                lags.append((clock - due[contact_id]).total_seconds() + seconds)
            last_id = max(
                last_id,
                StageTransition.objects.order_by("-id").values_list("id", flat=True).first() or 0,
            )
    if not lags:
        return None, 0
    lags.sort()
    return lags[min(len(lags) - 1, int(0.95 * len(lags)))], len(lags)
