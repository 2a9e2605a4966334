"""Segment references are bounded across the whole expansion: a rule with the
segments it uses (inlined by the compiler) has at most MAX_EXPANDED_NODES conditions,
and segments use segments at most MAX_SEGMENT_DEPTH levels deep. Checked on save
(naming the path), when a used segment changes (naming the rule it would break), and
by the compiler for rules saved before the bounds."""

from __future__ import annotations

import time
from typing import Any

import pytest

from contacts.models import Segment
from contacts.rules import contacts_matching
from contacts.rules.compiler import RuleTooLarge
from contacts.rules.validation import MAX_EXPANDED_NODES
from tests.factories import ContactFactory, SegmentFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"


def _three_levels(ws: Any) -> list[Segment]:
    """The issue's shape, written straight to the table as if saved before the
    bounds: 20 segments that each use 20 segments that each use 20 segments."""
    leaves = [
        SegmentFactory.create(
            workspace=ws, name=f"leaf {i}", rule={"event": f"e{i}", "within_days": 30}
        )
        for i in range(20)
    ]
    middles = [
        SegmentFactory.create(
            workspace=ws, name=f"mid {i}", rule={"any": [{"segment": s.pk} for s in leaves]}
        )
        for i in range(20)
    ]
    return [
        SegmentFactory.create(
            workspace=ws, name=f"top {i}", rule={"any": [{"segment": s.pk} for s in middles]}
        )
        for i in range(20)
    ]


def test_preview_of_an_exponential_rule_is_refused_quickly_naming_the_path(api, ws):
    tops = _three_levels(ws)
    ContactFactory.create_batch(3, workspace=ws)
    started = time.monotonic()
    response = api.post(
        f"{URL}preview/", {"rule": {"any": [{"segment": s.pk} for s in tops]}}, format="json"
    )
    assert time.monotonic() - started < 3
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    [(path, reasons)] = fields.items()
    assert path.startswith("rule.any[")
    assert f"at most {MAX_EXPANDED_NODES} conditions" in reasons[0]


def test_saving_a_segment_over_the_expansion_is_a_400(api, ws):
    leaves = [
        api.post(URL, {"name": f"l{i}", "rule": {"event": f"e{i}"}}, format="json").json()["id"]
        for i in range(20)
    ]
    middles = [
        api.post(
            URL,
            {"name": f"m{i}", "rule": {"any": [{"segment": pk} for pk in leaves]}},
            format="json",
        )
        for i in range(20)
    ]
    assert all(m.status_code == 201 for m in middles)  # 41 conditions each: fine
    response = api.post(
        URL,
        {"name": "top", "rule": {"any": [{"segment": m.json()["id"]} for m in middles]}},
        format="json",
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["message"].startswith("rule.any[")
    assert "with the segments it uses" in error["message"]
    assert not Segment.objects.filter(name="top").exists()


def test_segments_nest_at_most_three_levels(api, ws):
    previous = api.post(URL, {"name": "s0", "rule": {"event": "x"}}, format="json").json()
    for level in range(1, 4):
        previous = api.post(
            URL, {"name": f"s{level}", "rule": {"segment": previous["id"]}}, format="json"
        ).json()
        assert "id" in previous, previous
    response = api.post(URL, {"name": "s4", "rule": {"segment": previous["id"]}}, format="json")
    assert response.status_code == 400
    fields = response.json()["error"]["fields"]
    assert "at most 3 levels deep" in fields["rule.segment"][0]


def test_changing_a_used_segment_may_not_break_the_rules_that_use_it(api, ws):
    leaves = [
        api.post(URL, {"name": f"l{i}", "rule": {"event": f"e{i}"}}, format="json").json()["id"]
        for i in range(20)
    ]
    small = [
        api.post(URL, {"name": f"m{i}", "rule": {"event": "x"}}, format="json").json()["id"]
        for i in range(20)
    ]
    top = api.post(
        URL, {"name": "top", "rule": {"any": [{"segment": pk} for pk in small]}}, format="json"
    )
    assert top.status_code == 201
    stage = api.post(
        "/api/v1/stages/",
        {"key": "vip", "name": "VIP", "colour": "#aa00aa", "rule": {"segment": top.json()["id"]}},
        format="json",
    )
    assert stage.status_code == 201, stage.content
    # "top" has 41 + 40k conditions once k of the segments it uses grow to 20
    # references each (the stage one more): 13 fit in 600, the 14th does not.
    wide = {"any": [{"segment": pk} for pk in leaves]}
    for pk in small[:13]:
        assert api.patch(f"{URL}{pk}/", {"rule": wide}, format="json").status_code == 200
    response = api.patch(f"{URL}{small[13]}/", {"rule": wide}, format="json")
    assert response.status_code == 400, response.content
    reason = response.json()["error"]["fields"]["rule"][0]
    assert "segment “top”" in reason and "stage “VIP”" in reason
    assert Segment.objects.get(pk=small[13]).rule == {"event": "x"}


def test_the_compiler_refuses_what_validation_would(ws):
    tops = _three_levels(ws)
    started = time.monotonic()
    with pytest.raises(RuleTooLarge):
        contacts_matching({"segment": tops[0].pk}, workspace=ws, validate=False).count()
    # Refused while counting, not after expanding (which takes minutes): typically 0.1 s,
    # up to 1 s on a loaded 2-core machine, so the bound leaves room for load.
    assert time.monotonic() - started < 5
    # A rule within the bounds still compiles through three levels.
    leaf = Segment.objects.filter(workspace=ws, name="leaf 0").get()
    chain = leaf
    for level in range(2):
        chain = SegmentFactory.create(
            workspace=ws, name=f"chain {level}", rule={"segment": chain.pk}
        )
    assert contacts_matching({"segment": chain.pk}, workspace=ws, validate=False).count() == 0
