"""The demo's year of lifecycle history: contacts placed week by week as their events
happened, so the stage history, time in stage and flow between stages are real."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils import timezone

from contacts.models import Contact, ContactMark
from contacts.rules import Scope
from contacts.services import event_summaries_rebuild
from lifecycle.services.evaluation import stages_evaluate
from workspaces.models import Workspace


def demo_history_replay(*, workspace: Workspace, days: int = 365, step_days: int = 7) -> int:
    """Evaluate the stages as of each week of the past year, counting only the events
    that had happened by then and only the contacts that existed; then as of now.
    Returns the number of moves recorded."""
    now = timezone.now()
    moments = [now - dt.timedelta(days=d) for d in range(days, 0, -step_days)] + [now]
    moved = 0
    with transaction.atomic():
        for moment in moments:
            event_summaries_rebuild(workspace_id=workspace.pk, as_of=moment)
            ids = list(
                Contact.objects.filter(workspace=workspace, created_at__lte=moment).values_list(
                    "pk", flat=True
                )
            )
            for start in range(0, len(ids), 20_000):
                moved += stages_evaluate(
                    workspace=workspace, scope=Scope.of(ids[start : start + 20_000]), now=moment
                )
        # The summaries as of now stay; the marks the demo's writes left are done.
        ContactMark.objects.filter(workspace=workspace).delete()
    return moved
