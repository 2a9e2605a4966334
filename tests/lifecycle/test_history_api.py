"""POST/GET /api/v1/contacts/{id}/transitions/: importing known stage history (cause
import) and reading the history with both of its times."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from contacts.models import ContactMark
from lifecycle.models import StageTransition
from lifecycle.services import (
    contact_stage_set,
    marked_contacts_evaluate,
    stages_create_defaults,
)
from tests.factories import ContactFactory
from workspaces.models import AuditEntry
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def contact(ws, stages):
    contact = ContactFactory.create(workspace=ws, email="a@example.com")
    ContactMark.objects.filter(contact=contact).delete()
    return contact


def _url(contact) -> str:
    return f"/api/v1/contacts/{contact.pk}/transitions/"


def _utc(year: int, month: int, day: int, hour: int = 0) -> dt.datetime:
    return dt.datetime(year, month, day, hour, tzinfo=dt.UTC)


def test_a_list_is_stored_with_cause_import_from_stages_and_a_mark_since_the_earliest(
    api, contact, stages
):
    response = api.post(
        _url(contact),
        [
            {"stage": "customer", "at": "2025-03-01T10:00:00Z"},
            {"stage": "subscriber", "at": "2025-01-15T08:00:00Z"},
            {"stage": "lapsed", "at": "2025-09-01T00:00:00Z"},
        ],
        format="json",
    )
    assert response.status_code == 201, response.json()
    assert response.json() == {"created": 3, "duplicates": 0}
    rows = list(StageTransition.objects.filter(contact=contact).order_by("at"))
    assert [(r.from_stage_id, r.to_stage_id, r.at, r.cause) for r in rows] == [
        (None, stages["subscriber"].pk, _utc(2025, 1, 15, 8), "import"),
        (stages["subscriber"].pk, stages["customer"].pk, _utc(2025, 3, 1, 10), "import"),
        (stages["customer"].pk, stages["lapsed"].pk, _utc(2025, 9, 1), "import"),
    ]
    assert all(timezone.now() - r.recorded_at < dt.timedelta(minutes=1) for r in rows)
    marks = list(ContactMark.objects.filter(contact=contact))
    assert [(m.source, m.since) for m in marks] == [("api", _utc(2025, 1, 15, 8))]


def test_the_same_entries_posted_twice_are_stored_once(api, contact):
    entries = [
        {"stage": "customer", "at": "2025-03-01T10:00:00Z"},
        {"stage": "lapsed", "at": "2025-09-01"},
    ]
    assert api.post(_url(contact), entries, format="json").status_code == 201
    again = api.post(_url(contact), entries, format="json")
    assert again.status_code == 200
    assert again.json() == {"created": 0, "duplicates": 2}
    # One entry alone, already stored, and a new one in the same list.
    mixed = api.post(
        _url(contact),
        [entries[0], {"stage": "customer", "at": "2025-10-01T00:00:00Z"}],
        format="json",
    )
    assert mixed.json() == {"created": 1, "duplicates": 1}
    assert StageTransition.objects.filter(contact=contact).count() == 3
    # Nothing new, nothing to replay: no mark for the all-duplicates request.
    marks = ContactMark.objects.filter(contact=contact).order_by("id")
    assert [m.since for m in marks] == [_utc(2025, 3, 1, 10), _utc(2025, 10, 1)]
    # A repeat within one list is one entry.
    twice = api.post(_url(contact), [entries[0], entries[0]], format="json")
    assert twice.json() == {"created": 0, "duplicates": 1}


def test_one_object_is_one_entry_and_a_date_is_midnight_in_the_workspace_zone(api, ws, contact):
    ws.time_zone = "Europe/Paris"
    ws.save(update_fields=["time_zone"])
    response = api.post(_url(contact), {"stage": "customer", "at": "2025-07-14"}, format="json")
    assert response.status_code == 201
    row = StageTransition.objects.get(contact=contact)
    assert row.at == _utc(2025, 7, 13, 22)  # midnight in Paris, summer time


def test_from_stage_is_the_stage_in_force_just_before_among_stored_moves(api, ws, contact, stages):
    # A manual move stored earlier, and one stored later than the import.
    contact_stage_set(contact=contact, stage=stages["customer"], actor=Actor(system="test"))
    StageTransition.objects.filter(contact=contact).update(at=_utc(2025, 2, 1))
    response = api.post(_url(contact), {"stage": "lapsed", "at": "2025-06-01T00:00:00Z"})
    assert response.status_code == 201, response.json()
    imported = StageTransition.objects.get(contact=contact, cause="import")
    assert imported.from_stage_id == stages["customer"].pk
    # Before everything stored: nothing was in force.
    api.post(_url(contact), {"stage": "subscriber", "at": "2024-12-01T00:00:00Z"}, format="json")
    first = StageTransition.objects.get(contact=contact, at=_utc(2024, 12, 1))
    assert first.from_stage_id is None


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"stage": "nope", "at": "2025-01-01"}, {"stage"}),
        ({"stage": "customer"}, {"at"}),
        ({"at": "2025-01-01"}, {"stage"}),
        ({"stage": "customer", "at": "01/02/2025"}, {"at"}),
        ({"stage": "customer", "at": "2025-01-01", "why": "x"}, {"why"}),
        (
            [{"stage": "customer", "at": "2025-01-01"}, {"stage": "nope", "at": "x"}],
            {"[1].stage", "[1].at"},
        ),
        ([{"stage": "customer", "at": "2025-01-01"}, "customer"], {"[1]"}),
        ([], {"non_field_errors"}),
        ("customer", {"non_field_errors"}),
        ([{"stage": 3, "at": 5}], {"[0].stage", "[0].at"}),
    ],
)
def test_bad_input_is_a_400_naming_index_and_field_and_stores_nothing(api, contact, body, fields):
    response = api.post(_url(contact), body, format="json")
    assert response.status_code == 400, response.json()
    assert set(response.json()["error"]["fields"]) == fields
    assert not StageTransition.objects.filter(contact=contact).exists()
    assert not ContactMark.objects.filter(contact=contact).exists()


def test_unknown_stage_error_lists_the_live_stages(api, contact, stages):
    response = api.post(_url(contact), {"stage": "vip", "at": "2025-01-01"}, format="json")
    reason = response.json()["error"]["fields"]["stage"][0]
    assert reason.startswith("'vip' is not a stage of this workspace (one of ")
    assert "customer" in reason


def test_an_archived_stage_is_refused(api, contact, stages):
    stages["loyal"].archived_at = timezone.now()
    stages["loyal"].save(update_fields=["archived_at"])
    response = api.post(_url(contact), {"stage": "loyal", "at": "2025-01-01"}, format="json")
    assert response.status_code == 400
    assert "stage" in response.json()["error"]["fields"]


def test_a_future_date_is_refused(api, contact):
    later = (timezone.now() + dt.timedelta(hours=2)).isoformat()
    response = api.post(_url(contact), [{"stage": "customer", "at": later}], format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"[0].at": ["is in the future"]}


def test_more_than_1000_entries_are_refused(api, contact):
    entries = [
        {"stage": "customer", "at": (_utc(2020, 1, 1) + dt.timedelta(hours=i)).isoformat()}
        for i in range(1001)
    ]
    response = api.post(_url(contact), entries, format="json")
    assert response.status_code == 400
    assert "at most 1000" in response.json()["error"]["fields"]["non_field_errors"][0]
    assert api.post(_url(contact), entries[:1000], format="json").json()["created"] == 1000


def test_history_lists_both_times_cause_and_event(api, ws, contact, stages):
    api.post(_url(contact), {"stage": "customer", "at": "2025-03-01T10:00:00Z"}, format="json")
    StageTransition.objects.create(
        workspace=ws,
        contact=contact,
        from_stage=stages["customer"],
        to_stage=stages["loyal"],
        at=_utc(2025, 5, 1),
        cause="rule",
        event_id=42,
        event_name="purchase",
    )
    history = api.get(_url(contact)).json()["results"]
    assert [(h["to_stage"], h["cause"], h["event_name"], h["event_id"]) for h in history] == [
        ("loyal", "rule", "purchase", 42),
        ("customer", "import", "", None),
    ]
    imported = history[1]
    assert imported["at"] == "2025-03-01T10:00:00+00:00"
    assert dt.datetime.fromisoformat(imported["recorded_at"]) > _utc(2026, 1, 1)
    assert imported["time_in_stage_seconds"] == (61 * 86400 - 10 * 3600)


def test_outsider_gets_404_and_writes_nothing(api, outsider_api, contact):
    body = {"stage": "customer", "at": "2025-01-01"}
    assert outsider_api.post(_url(contact), body, format="json").status_code == 404
    assert outsider_api.get(_url(contact)).status_code == 404
    assert not StageTransition.objects.filter(contact=contact).exists()


def test_outsider_cannot_use_its_own_stage_keys_on_its_contacts_to_reach_ours(
    outsider, outsider_api, contact, stages
):
    """The outsider's contact with our stage ids or keys: its own stages only."""
    theirs = {s.key: s for s in stages_create_defaults(workspace=outsider.workspace)}
    other = ContactFactory.create(workspace=outsider.workspace)
    response = outsider_api.post(
        _url(other), {"stage": "customer", "at": "2025-01-01"}, format="json"
    )
    assert response.status_code == 201
    row = StageTransition.objects.get(contact=other)
    assert row.to_stage_id == theirs["customer"].pk
    assert row.workspace_id == outsider.workspace.pk


def test_the_engine_keeps_imported_moves_and_replays_around_them(api, ws, contact, stages):
    """With the engine (the replay of marked contacts): imported moves are facts it
    keeps; a rule move it makes after them starts from the imported stage."""
    entries = [
        {"stage": "subscriber", "at": "2025-01-10T00:00:00Z"},
        {"stage": "loyal", "at": "2025-02-14T00:00:00Z"},
    ]
    assert api.post(_url(contact), entries, format="json").status_code == 201
    marked_contacts_evaluate()
    assert not ContactMark.objects.filter(contact=contact).exists()
    imported = list(StageTransition.objects.filter(contact=contact, cause="import").order_by("at"))
    assert [(t.to_stage_id, t.at) for t in imported] == [
        (stages["subscriber"].pk, _utc(2025, 1, 10)),
        (stages["loyal"].pk, _utc(2025, 2, 14)),
    ]
    # The rules (no purchases: the default stage) take the contact on from loyal.
    later = list(
        StageTransition.objects.filter(contact=contact, at__gt=_utc(2025, 2, 14)).order_by("at")
    )
    assert [(t.from_stage_id, t.to_stage_id, t.cause) for t in later] == [
        (stages["loyal"].pk, stages["subscriber"].pk, "rule")
    ]


def test_an_import_is_in_the_audit_log_with_its_api_key(api, owner, contact):
    api.post(_url(contact), [{"stage": "customer", "at": "2025-03-01"}], format="json")
    api.post(_url(contact), [{"stage": "customer", "at": "2025-03-01"}], format="json")
    entries = list(AuditEntry.objects.filter(action="stage_history.imported"))
    assert len(entries) == 1  # the repeat stored nothing
    assert entries[0].actor_api_key_id == owner.key.pk
    assert entries[0].object_id == contact.pk
    assert entries[0].details["moves"] == 1
