"""A journey definition is checked with every error named by its path."""

from __future__ import annotations

import datetime as dt

import pytest

from campaigns.journeys.services import journey_create
from config.errors import InvalidInput
from tests.messaging.helpers import ACTOR

pytestmark = pytest.mark.django_db

UTC = dt.UTC


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"trigger": {"kind": "nope"}}, "trigger.kind"),
        ({"steps": []}, "steps"),
        (
            {"steps": [{"key": "a", "kind": "wait", "config": {"duration": {"days": 0}}}]},
            "steps[0].config.duration",
        ),
        (
            {
                "steps": [
                    {"key": "a", "kind": "wait", "config": {"duration": {"days": 1}, "next": "zz"}}
                ]
            },
            "steps[0].config",
        ),
        (
            {
                "steps": [
                    {"key": "a", "kind": "wait", "config": {"duration": {"days": 1}, "next": "b"}},
                    {"key": "b", "kind": "wait", "config": {"duration": {"days": 1}, "next": "a"}},
                ]
            },
            "steps[0]",
        ),
        (
            {"steps": [{"key": "a", "kind": "branch", "config": {"rule": {"bogus": 1}}}]},
            "steps[0].config.rule",
        ),
        (
            {"steps": [{"key": "a", "kind": "send_email", "config": {"template_id": 999999}}]},
            "steps[0].config.template_id",
        ),
        (
            {"steps": [{"key": "a", "kind": "webhook", "config": {"url": "ftp://x"}}]},
            "steps[0].config.url",
        ),
        ({"holdout_percent": 20}, "holdout_percent"),
    ],
)
def test_definition_errors_name_the_field(ws, data, field):
    payload = {
        "name": "bad",
        "trigger": {"kind": "manual"},
        "steps": [{"key": "a", "kind": "exit"}],
        **data,
    }
    with pytest.raises(InvalidInput) as caught:
        journey_create(workspace=ws, data=payload, actor=ACTOR)
    assert field in caught.value.fields, caught.value.fields
