"""Jobs a dashboard user starts and watches (a CLV refit, a rollup rebuild, a big
contacts export): one row each, with `workspace`, `requested_by`, `requested_at`,
`started_at`, `finished_at` and `error`.

- `request` creates the row (or returns the one of the workspace still queued or
  running) and publishes the task by name when the transaction commits; a broker that
  cannot be reached marks the row failed at once, so the page does not wait forever.
- `claim` is the task's first step: a conditional UPDATE only one delivery can win.
- `shown` is the row the page shows: one queued or running (unless older than `stale`:
  it died with its worker), or one finished within `recent`.

The app owning the job keeps what is particular to it (what a run does, what its
status adds); this module keeps the lifecycle every such job shares."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from django.db import models, transaction
from django.utils import timezone

from config.queue import enqueue

Job = TypeVar("Job", bound=models.Model)

BROKER_DOWN = "The background workers could not be reached; try again in a minute."


def _pk_only(row: Any) -> tuple[Any, ...]:
    return (row.pk,)


@dataclass(frozen=True)
class UserJobs(Generic[Job]):
    model: type[Job]
    task: str
    # Not finished in this long: taken to have died with its worker.
    stale: dt.timedelta
    # A finished job stays on the page this long.
    recent: dt.timedelta
    # The task's arguments for a row.
    task_args: Callable[[Job], tuple[Any, ...]] = field(default=_pk_only)

    def pending(self, workspace: Any) -> Job | None:
        """The workspace's job still queued or running, if any."""
        return (
            self.model._default_manager.filter(
                workspace=workspace,
                finished_at__isnull=True,
                requested_at__gte=timezone.now() - self.stale,
            )
            .order_by("-requested_at")
            .first()
        )

    def request(
        self,
        *,
        workspace: Any,
        requested_by: str = "",
        same: Callable[[Job], bool] = lambda job: True,
        **fields: Any,
    ) -> Job:
        """Queue a job, or return the one already queued or running when `same` says
        it asks for the same thing."""
        with transaction.atomic():
            pending = self.pending(workspace)
            if pending is not None and same(pending):
                return pending
            job = self.model._default_manager.create(
                workspace=workspace, requested_by=requested_by[:254], **fields
            )
            transaction.on_commit(lambda: self._send(job))
        return job

    def _send(self, job: Job) -> None:
        if not enqueue(self.task, *self.task_args(job)):
            self.model._default_manager.filter(pk=job.pk, started_at__isnull=True).update(
                finished_at=timezone.now(), error=BROKER_DOWN
            )

    def claim(self, job_id: int) -> bool:
        """True for the one delivery of the task that may run the job."""
        unclaimed = self.model._default_manager.filter(pk=job_id, started_at__isnull=True)
        return bool(unclaimed.update(started_at=timezone.now()))

    def shown(self, *, workspace: Any) -> Job | None:
        """The job to show: one queued or running, or one finished within `recent`."""
        latest: Any = (
            self.model._default_manager.filter(workspace=workspace)
            .order_by("-requested_at")
            .first()
        )
        if latest is None:
            return None
        now = timezone.now()
        if latest.finished_at is None:
            return latest if latest.requested_at >= now - self.stale else None
        return latest if latest.finished_at >= now - self.recent else None
