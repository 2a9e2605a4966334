"""POST /api/v1/stages/preview/: what a stage rule change would do now, before saving,
checked against the engine itself (a sweep under the saved change must move exactly
the contacts the preview said)."""

from __future__ import annotations

from collections import Counter

import pytest

from contacts.services import event_summaries_refresh
from lifecycle import whatif
from lifecycle.models import ContactStage, Stage, StageTransition
from lifecycle.services import contact_stage_set, stage_update, stages_create_defaults, sweep_now
from tests.factories import ContactFactory, EventFactory, SegmentFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

URL = "/api/v1/stages/preview/"


@pytest.fixture
def shop(ws):
    """12 contacts with 0-3 purchases each (3 of each), evaluated."""
    stages_create_defaults(workspace=ws)
    contacts = []
    for i in range(12):
        contact = ContactFactory.create(workspace=ws, first_name=f"Buyer{i}")
        for k in range(i % 4):
            EventFactory.ago(5 + k, contact=contact, name="purchase", revenue="20.00")
        contacts.append(contact)
    event_summaries_refresh(contact_ids=[c.pk for c in contacts])
    sweep_now(workspace=ws)
    return contacts


def _stage_of(ws):
    return {
        cs.contact_id: cs.stage.key
        for cs in ContactStage.objects.filter(workspace=ws).select_related("stage")
    }


def test_one_rule_change_counts_the_moves_the_engine_then_makes(api, ws, shop):
    before = _stage_of(ws)
    transitions = StageTransition.objects.filter(workspace=ws).count()
    assert Counter(before.values()) == {"subscriber": 3, "customer": 3, "repeat": 6}
    response = api.post(URL, {"stage": "repeat", "rule": {"purchases": {"gte": 3}}}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["moves"] == [
        {
            "from": "repeat",
            "from_name": "Repeat customer",
            "to": "customer",
            "to_name": "Customer",
            "contacts": 3,
        }
    ]
    assert (body["contacts"], body["moving"], body["staying"], body["held_by_pins"]) == (
        12,
        3,
        9,
        0,
    )
    assert {s["id"] for s in body["sample"]} == {c.pk for c in shop if c.events.count() == 2}
    assert all(s["from"] == "repeat" and s["to"] == "customer" for s in body["sample"])
    assert {s["name"] for s in body["sample"]} <= {c.full_name for c in shop}
    # Nothing was written; saving the rule and sweeping moves exactly those contacts.
    assert StageTransition.objects.filter(workspace=ws).count() == transitions
    assert _stage_of(ws) == before
    stage_update(
        stage=Stage.objects.get(workspace=ws, key="repeat"),
        data={"rule": {"purchases": {"gte": 3}}},
        actor=Actor(system="test"),
    )
    sweep_now(workspace=ws)
    after = _stage_of(ws)
    moved = Counter((before[c], after[c]) for c in after if before[c] != after[c])
    assert moved == {("repeat", "customer"): 3}


def test_the_full_list_reorders_adds_and_removes(api, ws, shop):
    body = api.post(
        URL,
        {
            "stages": [
                {"key": "big", "name": "Big spenders", "rule": {"revenue": {"gte": 60}}},
                {"key": "customer", "rule": {"purchases": {"gte": 1}}},
                {"key": "subscriber", "rule": None},
            ]
        },
        format="json",
    ).json()
    # repeat is removed: its two-purchase contacts become customers, the three-purchase
    # ones (60.00 each) enter the new stage first in order.
    cells = {(m["from"], m["to"]): m["contacts"] for m in body["moves"]}
    assert cells == {("repeat", "customer"): 3, ("repeat", "big"): 3}
    assert {m["to_name"] for m in body["moves"]} == {"Customer", "Big spenders"}
    assert body["staying"] == 6


def test_a_rule_that_matches_nobody_sends_its_contacts_on(api, ws, shop):
    body = api.post(
        URL,
        {"stage": "customer", "rule": {"attr": "plan", "op": "eq", "value": "nobody"}},
        format="json",
    ).json()
    assert [(m["from"], m["to"], m["contacts"]) for m in body["moves"]] == [
        ("customer", "subscriber", 3)
    ]
    unchanged = api.post(
        URL,
        {"stage": "lead", "rule": {"attr": "plan", "op": "eq", "value": "nobody"}},
        format="json",
    ).json()
    assert unchanged["moves"] == [] and unchanged["moving"] == 0 and unchanged["sample"] == []
    assert unchanged["staying"] == 12


def test_pinned_contacts_are_held_and_counted(api, ws, shop):
    repeat = Stage.objects.get(workspace=ws, key="repeat")
    three = [c for c in shop if c.events.count() == 3]
    contact_stage_set(contact=three[0], stage=repeat, actor=Actor(system="test"), pin=True)
    body = api.post(URL, {"stage": "repeat", "rule": {"purchases": {"gte": 4}}}, format="json")
    body = body.json()
    assert body["moves"] == [
        {
            "from": "repeat",
            "from_name": "Repeat customer",
            "to": "customer",
            "to_name": "Customer",
            "contacts": 5,
        }
    ]
    assert body["held_by_pins"] == 1
    assert body["held"][0]["contacts"] == 1 and body["held"][0]["to"] == "customer"
    assert three[0].pk not in {s["id"] for s in body["sample"]}
    assert body["staying"] == 6


def test_a_new_stage_by_key_goes_before_the_default(api, ws, shop):
    body = api.post(
        URL,
        {"stage": "vip", "name": "VIP", "rule": {"attr": "plan", "op": "exists"}},
        format="json",
    ).json()
    assert body["moving"] == 0  # factory contacts have no plan attribute
    body = api.post(URL, {"stage": "vip", "rule": {"all": []}}, format="json").json()
    # {"all": []} matches everyone, but the stages before it take theirs first.
    assert [(m["from"], m["to"], m["contacts"]) for m in body["moves"]] == [
        ("subscriber", "vip", 3)
    ]
    assert body["moves"][0]["to_name"] == "vip"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"stage": "repeat", "rule": {"purchases": {"gte": "two"}}}, "rule.purchases"),
        (
            {"stage": "repeat", "rule": {"all": [{"attr": "plan", "op": "nope"}]}},
            "rule.all[0].attr.op",
        ),
        ({"stage": "repeat"}, "rule"),
        ({"rule": {"all": []}}, "stage"),
        ({"stage": "Not A Key", "rule": {"all": []}}, "stage"),
        ({"stage": "subscriber", "rule": {"all": []}}, "rule"),
        ({"stage": "repeat", "rule": None}, "rule"),
        ({"stage": "repeat", "rule": {"all": []}, "colour": "#fff"}, "colour"),
        ({"stage": "repeat", "rule": {"all": []}, "name": "Renamed"}, "name"),
        ({"stages": "all"}, "stages"),
        ({"stages": [{"key": "repeat"}]}, "stages[0].rule"),
        (
            {"stages": [{"key": "a", "rule": {"all": []}}, {"key": "a", "rule": {}}]},
            "stages[1].key",
        ),
        ({"stages": [{"key": "b", "rule": {"bogus": 1}}]}, "stages[0].rule"),
        ({"stages": [3]}, "stages[0]"),
        ({"stages": [{"key": "b", "rule": {"all": []}, "x": 1}]}, "stages[0].x"),
        ({"stages": [], "stage": "repeat"}, "stage"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(api, ws, shop, body, field):
    response = api.post(URL, body, format="json")
    assert response.status_code == 400, response.json()
    fields = response.json()["error"]["fields"]
    assert any(name == field or name.startswith(field + ".") for name in fields), fields


def test_not_an_object_and_not_json(api, ws, shop):
    assert api.post(URL, [1, 2], format="json").status_code == 400
    response = api.generic("POST", URL, "{nope", content_type="application/json")
    assert response.status_code == 400


def test_an_outsider_sees_only_its_own_contacts(api, outsider_api, outsider, ws, shop):
    stages_create_defaults(workspace=outsider.workspace)
    ContactFactory.create(workspace=outsider.workspace)
    sweep_now(workspace=outsider.workspace)
    same = outsider_api.post(URL, {"stage": "subscriber", "rule": None}, format="json").json()
    assert (same["contacts"], same["moving"], same["staying"]) == (1, 0, 1)
    body = outsider_api.post(URL, {"stage": "lead", "rule": {"all": []}}, format="json").json()
    assert body["contacts"] == 1
    assert [(m["from"], m["to"], m["contacts"]) for m in body["moves"]] == [
        ("subscriber", "lead", 1)
    ]
    ours = {c.pk for c in shop}
    assert not ours & {s["id"] for s in body["sample"]}
    # A segment of ours named in the outsider's rule is unknown there.
    segment = SegmentFactory.create(workspace=ws, rule={"all": []})
    refused = outsider_api.post(
        URL, {"stage": "lead", "rule": {"segment": segment.pk}}, format="json"
    )
    assert refused.status_code == 400 and "rule.segment" in refused.json()["error"]["fields"]


def test_a_run_of_another_workspace_is_a_404(api, outsider_api, ws, shop):
    started = api.post(URL + "funnel/", {"stage": "repeat", "rule": {"all": []}}, format="json")
    assert started.status_code == 202, started.json()
    run_id = started.json()["id"]
    assert api.get(f"{URL}funnel/{run_id}/").status_code == 200
    assert outsider_api.get(f"{URL}funnel/{run_id}/").status_code == 404
    assert outsider_api.get(f"{URL}funnel/999999/").status_code == 404


def test_requires_a_key(client, ws, shop):
    assert client.post(URL, {}, content_type="application/json").status_code == 401


@pytest.mark.django_db(transaction=True)
def test_a_big_workspace_split_into_id_ranges_gives_the_same_answer(
    ws, shop, settings, monkeypatch
):
    """Over PARALLEL_FROM_IDS the workspace is evaluated in id ranges, each on its own
    connection at once; the moves, pins and sample must be those of one statement."""
    repeat = Stage.objects.get(workspace=ws, key="repeat")
    contact_stage_set(contact=shop[2], stage=repeat, actor=Actor(system="test"), pin=True)
    proposal = whatif.proposal_parse(
        workspace=ws, body={"stage": "repeat", "rule": {"purchases": {"gte": 3}}}
    )
    whole = whatif.whatif_now(workspace=ws, proposal=proposal)
    monkeypatch.setattr(whatif, "PARALLEL_FROM_IDS", 0)
    settings.LIFECYCLE_WHATIF_THREADS = 3
    assert len(whatif._ranges(ws)) == 3
    split = whatif.whatif_now(workspace=ws, proposal=proposal)
    whole.pop("computed_at"), split.pop("computed_at")
    assert split == whole
    assert whole["held_by_pins"] == 1 and whole["moving"] == 2
