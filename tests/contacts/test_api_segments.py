"""Segments over the API: CRUD, live preview with count and sample, contacts, errors."""

from __future__ import annotations

import pytest

from contacts.models import Segment
from contacts.services import event_summaries_refresh
from tests.factories import ContactFactory, EventFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/segments/"
PRO = {"attr": "plan", "op": "eq", "value": "pro"}


@pytest.fixture
def pros(ws):
    contacts = [ContactFactory.create(workspace=ws, attributes={"plan": "pro"}) for _ in range(12)]
    ContactFactory.create(workspace=ws, attributes={"plan": "free"})
    EventFactory.create(contact=contacts[0], name="purchase", revenue="10.00")
    event_summaries_refresh(contact_ids=[contacts[0].pk])
    return contacts


def test_preview_counts_and_samples_without_saving(api, pros):
    response = api.post(f"{URL}preview/", {"rule": PRO}, format="json")
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["count"] == 12
    assert len(body["sample"]) == 10
    assert body["sample"][0]["id"] == pros[-1].pk  # newest first
    assert Segment.objects.count() == 0


def test_preview_of_a_bad_rule_names_the_bad_node(api):
    rule = {"all": [PRO, {"event": "purchase"}, {"event": "purchase", "count": 2}]}
    response = api.post(f"{URL}preview/", {"rule": rule}, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert "rule.all[2].event.count" in error["fields"]
    assert error["message"].startswith("rule.all[2].event.count:")
    assert api.post(f"{URL}preview/", {}, format="json").status_code == 400


def test_crud_and_contacts(api, ws, pros):
    created = api.post(
        URL, {"name": "Pro buyers", "rule": {"all": [PRO, {"event": "purchase"}]}}, format="json"
    )
    assert created.status_code == 201, created.json()
    segment = created.json()
    assert api.post(URL, {"name": "Pro buyers", "rule": PRO}, format="json").status_code == 409
    contacts = api.get(f"{URL}{segment['id']}/contacts/").json()
    assert [c["id"] for c in contacts["results"]] == [pros[0].pk]
    updated = api.patch(f"{URL}{segment['id']}/", {"rule": PRO}, format="json").json()
    assert updated["rule"] == PRO
    page = api.get(f"{URL}{segment['id']}/contacts/", {"limit": 5}).json()
    assert len(page["results"]) == 5 and page["next"]
    assert [s["name"] for s in api.get(URL).json()["results"]] == ["Pro buyers"]
    assert api.delete(f"{URL}{segment['id']}/").status_code == 204
    assert not Segment.objects.exists()


def test_a_segment_in_use_is_not_deleted(api, ws):
    base = api.post(URL, {"name": "base", "rule": PRO}, format="json").json()
    api.post(URL, {"name": "uses base", "rule": {"segment": base["id"]}}, format="json")
    response = api.delete(f"{URL}{base['id']}/")
    assert response.status_code == 409
    assert "uses base" in response.json()["error"]["fields"]["segment"][0]
    # nor made to include itself
    response = api.patch(f"{URL}{base['id']}/", {"rule": {"segment": base["id"]}}, format="json")
    assert response.status_code == 400


def test_bad_input(api):
    assert api.post(URL, {"rule": PRO}, format="json").json()["error"]["fields"] == {
        "name": ["is required"]
    }
    assert api.post(URL, {"name": "x", "rule": PRO, "owner": 1}, format="json").json()["error"][
        "fields"
    ] == {"owner": ["unknown field"]}
    assert api.post(URL, {"name": " ", "rule": PRO}, format="json").status_code == 400


def test_outsider_gets_404_and_sees_nothing(api, outsider_api, pros):
    segment = api.post(URL, {"name": "mine", "rule": PRO}, format="json").json()
    for method in ("get", "patch", "delete"):
        assert (
            getattr(outsider_api, method)(f"{URL}{segment['id']}/", {}, format="json").status_code
            == 404
        )
    assert outsider_api.get(f"{URL}{segment['id']}/contacts/").status_code == 404
    assert outsider_api.get(URL).json()["results"] == []
    # Their preview of the same rule counts only their own contacts.
    assert outsider_api.post(f"{URL}preview/", {"rule": PRO}, format="json").json()["count"] == 0
    # And they cannot name our segment in a rule.
    response = outsider_api.post(
        f"{URL}preview/", {"rule": {"segment": segment["id"]}}, format="json"
    )
    assert response.status_code == 400
