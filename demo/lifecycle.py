"""The demo's year of lifecycle history, replayed from its events the way any
workspace's imported history is (lifecycle/services/replay.py): every move dated
when the events and the rules' time windows say it happened."""

from __future__ import annotations

from django.db import transaction

from contacts.models import Contact, ContactMark
from contacts.rules import Scope
from contacts.services import event_summaries_rebuild
from lifecycle.services import stages_replay
from lifecycle.services.due import contacts_due_store
from workspaces.models import Workspace


def demo_history_replay(*, workspace: Workspace, chunk: int = 5000) -> int:
    """Replay every contact from the beginning; returns the number of moves."""
    ids = list(
        Contact.objects.filter(workspace=workspace).order_by("pk").values_list("pk", flat=True)
    )
    moved = 0
    with transaction.atomic():
        for start in range(0, len(ids), chunk):
            moved += stages_replay(
                workspace=workspace, since=dict.fromkeys(ids[start : start + chunk])
            )
        # The marks the demo's writes left are done: the replay read the same data, and
        # the summaries the sweeps and segments read are derived here once for everyone.
        event_summaries_rebuild(workspace_id=workspace.pk)
        ContactMark.objects.filter(workspace=workspace).delete()
        # When time alone next moves each of them (lifecycle/services/due.py).
        contacts_due_store(workspace=workspace, scope=Scope.everyone())
    return moved
