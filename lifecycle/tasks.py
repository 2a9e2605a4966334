"""Celery tasks of the lifecycle engine: thin, take ids, safe to run twice."""

from __future__ import annotations

import datetime as dt
import time

from celery import shared_task
from django.conf import settings

from lifecycle import hooks, services
from lifecycle.services.due import due_contacts_evaluate
from lifecycle.services.whatif import whatif_funnel_run


@shared_task(name="lifecycle.evaluate_marked", acks_late=True)
def evaluate_marked(seconds: float = 5.0) -> int:
    """Drain marks for up to `seconds` (beat starts one every second; several can run
    at once: each claim takes contacts no other claim holds). A pass that finds less
    than a batch in all leaves the trickle to the next second's run, so contacts are
    evaluated in batches rather than one by one. The moves a pass wrote are handed to
    the stage.changed hooks (journeys enrol) at once, those of urgent news before the
    pass goes on to the rest, rather than at the next dispatch_transitions beat: a
    contact enters a stage's journey a moment after it enters the stage. Dispatching
    is safe alongside that beat (one dispatcher per workspace at a time, the others
    skip it)."""
    deadline = time.monotonic() + seconds

    def dispatch() -> None:
        while time.monotonic() < deadline and hooks.transitions_dispatch(limit=1000):
            pass

    total = 0
    while time.monotonic() < deadline:
        done = services.marked_contacts_evaluate(
            limit=settings.LIFECYCLE_MARK_BATCH,
            urgent_limit=settings.LIFECYCLE_MARK_URGENT_BATCH,
            after_urgent=dispatch,
        )
        total += done
        if done:
            dispatch()
        if done < settings.LIFECYCLE_MARK_BATCH:
            break
    return total


@shared_task(name="lifecycle.sweep_chunk", acks_late=True)
def sweep_chunk_run(run_id: int, low: int, high: int, now: str | None = None) -> int:
    moment = dt.datetime.fromisoformat(now) if now else None
    return services.sweep_chunk(run_id=run_id, low=low, high=high, now=moment)


@shared_task(name="lifecycle.sweep_due")
def sweep_due() -> list[int]:
    return services.sweeps_start_due(every=dt.timedelta(seconds=settings.LIFECYCLE_SWEEP_SECONDS))


@shared_task(name="lifecycle.evaluate_due", acks_late=True)
def evaluate_due() -> int:
    """The contacts whose due moment has come (lifecycle/services/due.py); beat starts
    one every LIFECYCLE_DUE_SECONDS. Two at once evaluate the same contacts twice,
    which changes nothing the second time."""
    evaluated, _moved = due_contacts_evaluate()
    return evaluated


@shared_task(name="lifecycle.dispatch_transitions", acks_late=True)
def dispatch_transitions(seconds: float = 5.0) -> int:
    """Hand new moves to the hooks for up to `seconds`, a batch of one workspace at a
    time (beat starts one every two seconds)."""
    deadline = time.monotonic() + seconds
    total = 0
    while time.monotonic() < deadline and (done := hooks.transitions_dispatch(limit=1000)):
        total += done
    return total


@shared_task(name="lifecycle.whatif_funnel", acks_late=True)
def whatif_funnel(run_id: int) -> str:
    """A what-if funnel (lifecycle.services.whatif); a repeated run recomputes it, a
    finished one is left alone."""
    return str(whatif_funnel_run(run_id=run_id).status)
