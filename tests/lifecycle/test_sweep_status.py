"""The stages page shows a running re-evaluation's progress (polled) and, for a while
after, how many contacts moved; another workspace's member gets 404."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from lifecycle.models import SweepRun

pytestmark = pytest.mark.django_db


def test_running_then_finished(owner):
    assert "hx-get" in owner.web.get("/w/acme/stages/").content.decode()
    assert "Re-evaluat" not in owner.web.get("/w/acme/stages/sweep/").content.decode()
    run = SweepRun.objects.create(
        workspace=owner.workspace,
        reason="stage rule changed",
        chunks_total=8,
        chunks_done=3,
        contacts_changed=1200,
    )
    running = owner.web.get("/w/acme/stages/sweep/").content.decode()
    assert "3 of 8 parts done, 1,200 moved so far" in running and "every 2s" in running
    SweepRun.objects.filter(pk=run.pk).update(chunks_done=8, finished_at=timezone.now())
    done = owner.web.get("/w/acme/stages/sweep/", {"poll": "1"})
    assert done["HX-Refresh"] == "true"
    assert "1,200 moved" in done.content.decode() and "every 2s" not in done.content.decode()
    SweepRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - dt.timedelta(hours=1))
    assert "moved" not in owner.web.get("/w/acme/stages/sweep/").content.decode()


@pytest.mark.parametrize(
    ("reason", "said"),
    [
        ("periodic", "after “the daily check”"),
        ("due rules 0123456789abcdef", "after “a change to the segments journeys wait for”"),
        ("stage rule changed", "after “stage rule changed”"),
    ],
)
def test_the_reason_is_said_in_words(owner, reason, said):
    SweepRun.objects.create(workspace=owner.workspace, reason=reason, chunks_total=2)
    assert said in owner.web.get("/w/acme/stages/sweep/").content.decode()


def test_outsider_gets_404(owner, outsider):
    assert outsider.web.get("/w/acme/stages/sweep/").status_code == 404
