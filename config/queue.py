"""Publishing Celery tasks from the request path without depending on the broker.

`enqueue` never raises: with the broker down or hung it logs
`config.enqueue_failed` and returns False, after one attempt bounded by the broker's
socket timeouts (no publish retries), and skips the broker for REDIS_RETRY_SECONDS.
Nothing is lost, because every task published this way starts work that the
database already records and a beat task picks up again:

- imports: the job is `queued`; `contacts.import_resume_stalled` re-enqueues jobs
  without progress for IMPORT_STALL_SECONDS;
- broadcasts: `campaigns.broadcasts_advance` restarts materialisations whose
  heartbeat is missing or stale;
- sweeps: `lifecycle.sweep_due` starts a sweep of every workspace each
  LIFECYCLE_SWEEP_SECONDS;
- marks, messages and journeys are claimed from their tables by beat tasks and never
  published from a request."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from kombu.exceptions import KombuError

from config.celery import app
from config.redis import BROKER, REDIS_ERRORS

logger = logging.getLogger(__name__)
PUBLISH_ERRORS: tuple[type[BaseException], ...] = (KombuError, *REDIS_ERRORS)


def enqueue(task: str, *args: Any) -> bool:
    """Publish the task registered as `task` (its `name=`, e.g. "contacts.import_run")
    with `args` now; False when the broker could not take it. By name, so that a
    service starting background work never imports its app's tasks module: tasks
    import services, never the other way round (docs/architecture.md)."""
    if not BROKER.available():
        logger.info("config.enqueue_skipped task=%s args=%s", task, args)
        return False
    timeout = settings.BROKER_SOCKET_TIMEOUT
    options = {"socket_timeout": timeout, "socket_connect_timeout": timeout, "max_retries": 0}
    try:
        with app.connection_for_write(transport_options=options) as connection:
            app.send_task(task, args=args, retry=False, connection=connection)
    except PUBLISH_ERRORS as error:
        BROKER.failed(error)
        logger.warning("config.enqueue_failed task=%s args=%s", task, args)
        return False
    return True


def enqueue_on_commit(task: str, *args: Any) -> None:
    """`enqueue` once the current transaction commits."""
    transaction.on_commit(lambda: enqueue(task, *args))


# Workers read this queue turn about with the default one (CELERY_TASK_QUEUES): work
# that must not wait behind a long backlog (a small workspace's messages) goes here.
PROMPT_QUEUE = "prompt"


def publish(task: str, *args: Any, queue: str | None = None) -> None:
    """Publish the task registered as `task` from a worker (beat's periodic work):
    there the broker is Celery's own business, with its usual retries and errors.
    `queue`: the default queue unless given (PROMPT_QUEUE)."""
    app.send_task(task, args=args, queue=queue)
