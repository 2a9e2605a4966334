"""The stage.changed hook: every transition offered to every hook, exactly once per
success, and again after a hook fails."""

from __future__ import annotations

import pytest

from lifecycle import hooks
from lifecycle.models import StageTransition
from lifecycle.services import stages_create_defaults, sweep_now
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def registered():
    seen: list[int] = []
    state = {"fail": False}

    def hook(batch: list[StageTransition]) -> None:
        if state["fail"]:
            raise RuntimeError("journey service down")
        seen.extend(t.pk for t in batch)

    hooks.on_stage_changed(hook)
    yield seen, state
    hooks._hooks.remove(hook)


def test_each_transition_reaches_hooks_once(ws, registered):
    seen, state = registered
    stages_create_defaults(workspace=ws)
    for _ in range(3):
        ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    state["fail"] = True
    with pytest.raises(RuntimeError):
        hooks.transitions_dispatch()
    assert seen == []
    assert StageTransition.objects.filter(notified_at__isnull=True).count() == 3
    state["fail"] = False
    assert hooks.transitions_dispatch() == 3
    assert hooks.transitions_dispatch() == 0
    assert sorted(seen) == sorted(StageTransition.objects.values_list("pk", flat=True))
