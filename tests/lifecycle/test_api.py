"""Lifecycle over the API: stages, a contact's stage (manual move, pin) and history."""

from __future__ import annotations

import pytest

from contacts.services import event_summaries_refresh
from lifecycle.models import Stage, StageTransition
from lifecycle.services import sweep_now
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db


def test_stage_list_has_order_rules_and_counts(api, ws, stages):
    buyer = ContactFactory.create(workspace=ws)
    EventFactory.create(contact=buyer, name="purchase", revenue="5.00")
    event_summaries_refresh(contact_ids=[buyer.pk])
    ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    body = api.get("/api/v1/stages/").json()["results"]
    assert [s["key"] for s in body][-1] == "subscriber"
    counts = {s["key"]: s["contacts"] for s in body}
    assert (counts["customer"], counts["subscriber"]) == (1, 1)
    assert body[-1]["rule"] is None and body[-1]["is_default"]


def test_create_update_reorder_make_default_and_remove(api, ws, stages):
    created = api.post(
        "/api/v1/stages/",
        {
            "key": "vip",
            "name": "VIP",
            "colour": "#aa00aa",
            "rule": {"attr": "vip", "op": "is_true"},
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    vip = created.json()
    assert (
        api.post(
            "/api/v1/stages/", {"key": "vip", "name": "Again", "rule": {"all": []}}, format="json"
        ).status_code
        == 409
    )
    bad = api.patch(
        f"/api/v1/stages/{vip['id']}/", {"rule": {"attr": "vip", "op": "nope"}}, format="json"
    )
    assert bad.status_code == 400 and "rule.attr.op" in bad.json()["error"]["fields"]
    updated = api.patch(
        f"/api/v1/stages/{vip['id']}/",
        {"rule": {"attr": "vip", "op": "eq", "value": "yes"}},
        format="json",
    ).json()
    assert updated["rule_version"] == 2
    order = ["vip", "advocate", "loyal", "lapsed", "at_risk", "repeat", "customer", "lead"]
    reordered = api.post("/api/v1/stages/reorder/", {"order": order}, format="json").json()
    assert [s["key"] for s in reordered["results"]][:-1] == order
    assert (
        api.post("/api/v1/stages/reorder/", {"order": order[1:]}, format="json").status_code == 400
    )
    removed_default = api.delete(f"/api/v1/stages/{stages['subscriber'].pk}/")
    assert removed_default.status_code == 409  # the state forbids it, not the request
    assert removed_default.json()["error"]["fields"] == {"stage": ["is the default stage"]}
    default = api.post(f"/api/v1/stages/{stages['lead'].pk}/make-default/").json()
    assert default["is_default"] and default["rule"] is None
    assert api.delete(f"/api/v1/stages/{vip['id']}/").status_code == 204
    assert Stage.objects.get(pk=vip["id"]).archived_at is not None
    assert "vip" not in [s["key"] for s in api.get("/api/v1/stages/").json()["results"]]


def test_bad_stage_input(api, stages):
    for payload, field in [
        ({"name": "x", "rule": {"all": []}}, "key"),
        ({"key": "Bad Key", "name": "x", "rule": {"all": []}}, "key"),
        ({"key": "ok", "name": "x", "rule": None}, "rule"),
        ({"key": "ok", "name": "x", "colour": "red", "rule": {"all": []}}, "colour"),
        ({"key": "ok", "name": "x", "rule": {"all": []}, "icon": "*"}, "icon"),
    ]:
        response = api.post("/api/v1/stages/", payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json()["error"]["fields"], (payload, response.json())


def test_manual_move_pin_unpin_and_history(api, ws, stages):
    contact = ContactFactory.create(workspace=ws)
    sweep_now(workspace=ws)
    url = f"/api/v1/contacts/{contact.pk}/stage/"
    assert api.get(url).json()["stage"] == "subscriber"
    moved = api.post(url, {"stage": "loyal", "reason": "Board member"}, format="json")
    assert moved.status_code == 200, moved.json()
    assert moved.json()["stage"] == "loyal" and moved.json()["pinned"] is True
    sweep_now(workspace=ws)
    assert api.get(url).json()["stage"] == "loyal"
    assert api.post(f"{url}unpin/").json()["pinned"] is False
    for payload, field in [
        ({"stage": "nope"}, "stage"),
        ({"stage": "lead", "pinned_until": "2000-01-01T00:00:00Z"}, "pinned_until"),
        ({"stage": "lead", "pinned": "yes"}, "pinned"),
        ({"stage": "lead", "colour": 1}, "colour"),
    ]:
        response = api.post(url, payload, format="json")
        assert response.status_code == 400, payload
        assert field in response.json()["error"]["fields"]
    history = api.get(f"/api/v1/contacts/{contact.pk}/transitions/").json()["results"]
    assert [(t["from_stage"], t["to_stage"], t["cause"]) for t in history] == [
        ("subscriber", "loyal", "api"),
        (None, "subscriber", "rule"),
    ]
    assert history[0]["time_in_stage_seconds"] is None  # still there
    assert history[1]["time_in_stage_seconds"] >= 0
    assert history[0]["reason"] == "Board member"
    assert StageTransition.objects.get(to_stage=stages["loyal"]).actor_api_key_id is not None


def test_outsider_gets_404(api, ws, stages, outsider_api):
    contact = ContactFactory.create(workspace=ws)
    assert outsider_api.get(f"/api/v1/stages/{stages['lead'].pk}/").status_code == 404
    assert (
        outsider_api.patch(
            f"/api/v1/stages/{stages['lead'].pk}/", {"name": "x"}, format="json"
        ).status_code
        == 404
    )
    assert (
        outsider_api.post(
            f"/api/v1/contacts/{contact.pk}/stage/", {"stage": "lead"}, format="json"
        ).status_code
        == 404
    )
    assert outsider_api.get(f"/api/v1/contacts/{contact.pk}/transitions/").status_code == 404
    assert outsider_api.get("/api/v1/stages/").json()["results"] == []
