"""Claims are fair across workspaces: a big backlog in one never keeps another's
messages waiting, and no workspace fills the broker alone."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from messaging.models import Message
from messaging.services import claims
from messaging.services.claims import messages_claim
from tests.factories import ContactFactory
from tests.messaging.helpers import email_template, enqueue

pytestmark = pytest.mark.django_db


def _due(workspace, count: int, *, minutes_ago: int, prefix: str) -> list[int]:
    contacts = [ContactFactory.create(workspace=workspace) for _ in range(count)]
    ids = enqueue(contacts, email_template(workspace), prefix=prefix)
    Message.objects.filter(pk__in=ids).update(
        due_at=timezone.now() - dt.timedelta(minutes=minutes_ago)
    )
    return ids


def _claimed_ids(claims) -> set[int]:
    return {message_id for message_id, _ in claims}


def test_a_small_workspace_is_claimed_beside_an_older_backlog(ws, outsider):
    backlog = _due(ws, 40, minutes_ago=30, prefix="big")
    trickle = _due(outsider.workspace, 3, minutes_ago=1, prefix="small")

    claimed = _claimed_ids(messages_claim(limit=10))

    # First come, first served would have taken ten of the older backlog.
    assert set(trickle) <= claimed
    assert len(claimed) == 10
    assert len(claimed & set(backlog)) == 7


def test_what_one_workspace_leaves_unused_goes_to_the_other(ws, outsider):
    _due(ws, 30, minutes_ago=5, prefix="big")
    _due(outsider.workspace, 2, minutes_ago=5, prefix="small")

    assert len(messages_claim(limit=20)) == 20
    assert Message.objects.filter(workspace=outsider.workspace, status="sending").count() == 2


def test_a_workspace_holds_at_most_its_share_in_flight(ws, outsider, settings):
    settings.MESSAGING_WORKSPACE_MAX_IN_FLIGHT = 5
    _due(ws, 12, minutes_ago=5, prefix="big")

    assert len(messages_claim(limit=100)) == 5
    # Its five are still in flight: nothing more of it, but another workspace goes on.
    assert messages_claim(limit=100) == []
    trickle = _due(outsider.workspace, 2, minutes_ago=1, prefix="small")
    assert _claimed_ids(messages_claim(limit=100)) == set(trickle)

    # Once they are sent, the next five.
    Message.objects.filter(workspace=ws, status="sending").update(status="sent")
    assert len(messages_claim(limit=100)) == 5


def test_a_small_workspace_is_published_on_the_prompt_queue(ws, outsider, settings, monkeypatch):
    """Workers read the prompt queue turn about with the default one, so a small
    workspace's messages never wait in the broker behind another's broadcast."""
    settings.MESSAGING_PROMPT_BACKLOG = 5
    settings.MESSAGING_TASK_CHUNK = 4
    published: list[tuple[list, str | None]] = []
    monkeypatch.setattr(
        claims, "publish", lambda task, pairs, queue=None: published.append((pairs, queue))
    )
    backlog = _due(ws, 12, minutes_ago=30, prefix="big")
    trickle = _due(outsider.workspace, 2, minutes_ago=1, prefix="small")

    assert claims.message_dispatch_due() == 14

    by_queue: dict[str | None, set[int]] = {}
    for pairs, queue in published:
        by_queue.setdefault(queue, set()).update(message_id for message_id, _ in pairs)
    assert by_queue == {None: set(backlog), "prompt": set(trickle)}
