"""signed_up_at wherever a user sets contact data: API create and update, the batch
upsert, CSV import and the dashboard; and the marks that tell the engine to replay a
contact's history from the earlier of the old and new signup."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from contacts.models import Contact, ContactMark
from contacts.services import import_job_create, import_job_run, import_job_start
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

NY = ZoneInfo("America/New_York")


@pytest.fixture
def ny_ws(ws):
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    return ws


def _marks(contact_id: int) -> list[ContactMark]:
    return list(ContactMark.objects.filter(contact_id=contact_id).order_by("id"))


def test_create_without_signup_defaults_to_creation_time_and_marks_now(api, ws):
    response = api.post("/api/v1/contacts/", {"email": "a@example.com"}, format="json")
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.signed_up_at == contact.created_at
    assert response.json()["signed_up_at"] == contact.created_at.isoformat()
    assert [m.since for m in _marks(contact.pk)] == [None]


def test_a_date_alone_is_midnight_in_the_workspace_time_zone(api, ny_ws):
    response = api.post(
        "/api/v1/contacts/",
        {"email": "a@example.com", "signed_up_at": "2025-03-10"},
        format="json",
    )
    assert response.status_code == 201, response.json()
    contact = Contact.objects.get(pk=response.json()["id"])
    expected = dt.datetime(2025, 3, 10, tzinfo=NY)
    assert contact.signed_up_at == expected
    assert dt.datetime.fromisoformat(response.json()["signed_up_at"]) == expected
    assert [m.since for m in _marks(contact.pk)] == [expected]


def test_a_date_time_without_offset_is_utc(api, ny_ws):
    response = api.post(
        "/api/v1/contacts/",
        {"email": "a@example.com", "signed_up_at": "2025-03-10T14:30:00"},
        format="json",
    )
    assert response.status_code == 201
    contact = Contact.objects.get(pk=response.json()["id"])
    assert contact.signed_up_at == dt.datetime(2025, 3, 10, 14, 30, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("yesterday", "is not an ISO 8601 date or date-time"),
        ("2025-02-30", "is not a date (YYYY-MM-DD)"),
        ("1969-12-31", "is before 1970"),
        (None, "must be an ISO 8601 date or date-time string"),
        (12, "must be an ISO 8601 date or date-time string"),
    ],
)
def test_bad_signup_is_a_400_naming_the_field(api, ws, value, reason):
    response = api.post(
        "/api/v1/contacts/", {"email": "a@example.com", "signed_up_at": value}, format="json"
    )
    assert response.status_code == 400
    assert reason in response.json()["error"]["fields"]["signed_up_at"][0]
    assert not Contact.objects.filter(workspace=ws).exists()


def test_future_signup_is_refused_beyond_a_small_clock_skew(api, ws):
    soon = (timezone.now() + dt.timedelta(minutes=2)).isoformat()
    later = (timezone.now() + dt.timedelta(hours=1)).isoformat()
    ok = api.post("/api/v1/contacts/", {"email": "a@x.com", "signed_up_at": soon}, format="json")
    assert ok.status_code == 201
    bad = api.post("/api/v1/contacts/", {"email": "b@x.com", "signed_up_at": later}, format="json")
    assert bad.status_code == 400
    assert bad.json()["error"]["fields"] == {"signed_up_at": ["is in the future"]}


def test_update_marks_since_the_earlier_of_old_and_new(api, ws):
    old = dt.datetime(2024, 5, 1, tzinfo=dt.UTC)
    contact = ContactFactory.create(workspace=ws, email="a@example.com", signed_up_at=old)
    ContactMark.objects.filter(contact=contact).delete()
    url = f"/api/v1/contacts/{contact.pk}/"
    # Later than before: the history changes from the old signup on.
    response = api.patch(url, {"signed_up_at": "2024-06-01T00:00:00Z"}, format="json")
    assert response.status_code == 200, response.json()
    assert [m.since for m in _marks(contact.pk)] == [old]
    # Earlier: from the new one.
    response = api.patch(url, {"signed_up_at": "2024-01-01T00:00:00Z"}, format="json")
    assert response.status_code == 200
    assert _marks(contact.pk)[-1].since == dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    # The same again: nothing changed, no mark.
    response = api.patch(url, {"signed_up_at": "2024-01-01T00:00:00Z"}, format="json")
    assert len(_marks(contact.pk)) == 2
    # Another field only: a mark without since.
    api.patch(url, {"first_name": "Ada"}, format="json")
    assert _marks(contact.pk)[-1].since is None


def test_outsider_cannot_set_another_workspaces_signup(api, ws, outsider_api):
    contact = ContactFactory.create(workspace=ws, email="a@example.com")
    before = contact.signed_up_at
    response = outsider_api.patch(
        f"/api/v1/contacts/{contact.pk}/", {"signed_up_at": "2024-01-01"}, format="json"
    )
    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.signed_up_at == before


def test_batch_sets_signups_refuses_bad_ones_per_item_and_marks_each_since(api, ny_ws):
    jan = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
    existing = ContactFactory.create(workspace=ny_ws, email="old@example.com", signed_up_at=jan)
    ContactMark.objects.filter(contact=existing).delete()
    future = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    response = api.post(
        "/api/v1/contacts/batch/",
        {
            "contacts": [
                {"email": "new@example.com", "signed_up_at": "2024-02-03"},
                {"email": "old@example.com", "signed_up_at": "2025-07-01T00:00:00Z"},
                {"email": "bad@example.com", "signed_up_at": future},
                {"email": "plain@example.com"},
            ]
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "updated", "error", "created"]
    assert results[2]["errors"] == {"signed_up_at": ["is in the future"]}
    new = Contact.objects.get(workspace=ny_ws, email="new@example.com")
    assert new.signed_up_at == dt.datetime(2024, 2, 3, tzinfo=NY)
    existing.refresh_from_db()
    assert existing.signed_up_at == dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
    assert [m.since for m in _marks(new.pk)] == [dt.datetime(2024, 2, 3, tzinfo=NY)]
    assert [m.since for m in _marks(existing.pk)] == [dt.datetime(2025, 1, 1, tzinfo=dt.UTC)]
    plain = Contact.objects.get(workspace=ny_ws, email="plain@example.com")
    assert [m.since for m in _marks(plain.pk)] == [None]
    assert plain.signed_up_at == plain.created_at


def test_csv_import_maps_a_signed_up_column_and_reports_bad_dates_by_row(ny_ws):
    future = (timezone.now() + dt.timedelta(days=3)).date().isoformat()
    text = (
        "Email,Signed up\n"
        "ada@example.com,2024-04-05\n"  # row 2: a date alone
        "bob@example.com,2024-04-05T10:00:00+02:00\n"  # row 3: with an offset
        "carol@example.com,05/04/2024\n"  # row 4: not ISO
        f"dave@example.com,{future}\n"  # row 5: future
        "erin@example.com,\n"  # row 6: empty: the default
    )
    actor = Actor(system="test")
    upload = SimpleUploadedFile("c.csv", text.encode(), content_type="text/csv")
    job = import_job_create(workspace=ny_ws, upload=upload, actor=actor)
    assert job.mapping["Signed up"] == "signed_up_at"  # suggested from the header
    import_job_start(job=job, mapping=job.mapping, match_on="email", actor=actor)
    done = import_job_run(job_id=job.pk)
    assert done is not None
    assert (done.created_count, done.rejected_count) == (3, 2)
    reasons = {e.row_number: e.reason for e in done.row_errors.all()}
    assert reasons == {
        4: "Signed up: '05/04/2024' is not an ISO 8601 date or date-time",
        5: "Signed up: is in the future",
    }
    by_email = {c.email: c for c in Contact.objects.filter(workspace=ny_ws)}
    assert by_email["ada@example.com"].signed_up_at == dt.datetime(2024, 4, 5, tzinfo=NY)
    assert by_email["bob@example.com"].signed_up_at == dt.datetime(2024, 4, 5, 8, tzinfo=dt.UTC)
    assert by_email["erin@example.com"].signed_up_at == by_email["erin@example.com"].created_at
    ada_marks = _marks(by_email["ada@example.com"].pk)
    assert [(m.source, m.since) for m in ada_marks] == [
        ("import", dt.datetime(2024, 4, 5, tzinfo=NY))
    ]


def test_export_round_trips_the_signup(api, ws):
    ContactFactory.create(
        workspace=ws, email="a@example.com", signed_up_at=dt.datetime(2023, 9, 9, 9, tzinfo=dt.UTC)
    )
    body = b"".join(api.get("/api/v1/contacts/export/").streaming_content).decode()
    header, row = body.splitlines()[:2]
    assert "signed_up_at" in header.split(",")
    assert "2023-09-09T09:00:00+00:00" in row


def test_dashboard_sets_the_signup_in_the_workspace_time_zone(owner, ny_ws):
    contact = ContactFactory.create(workspace=ny_ws, email="a@example.com")
    url = f"/w/{ny_ws.slug}/contacts/{contact.pk}/signed-up/"
    response = owner.web.post(url, {"signed_up_on": "2024-12-24", "time": "18:30"})
    assert response.status_code == 302
    contact.refresh_from_db()
    assert contact.signed_up_at == dt.datetime(2024, 12, 24, 18, 30, tzinfo=NY)
    page = owner.web.get(f"/w/{ny_ws.slug}/contacts/{contact.pk}/").content.decode()
    assert "24 Dec 2024, 18:30" in page
    future = (timezone.now() + dt.timedelta(days=5)).date().isoformat()
    response = owner.web.post(url, {"signed_up_on": future}, follow=True)
    assert "Signed up: is in the future." in response.content.decode()
    contact.refresh_from_db()
    assert contact.signed_up_at == dt.datetime(2024, 12, 24, 18, 30, tzinfo=NY)


def test_dashboard_signup_form_is_404_for_another_workspace(outsider, ws):
    contact = ContactFactory.create(workspace=ws, email="a@example.com")
    response = outsider.web.post(
        f"/w/{outsider.workspace.slug}/contacts/{contact.pk}/signed-up/",
        {"signed_up_on": "2024-01-01"},
    )
    assert response.status_code == 404


def test_viewer_cannot_set_the_signup(teammate, ws):
    contact = ContactFactory.create(workspace=ws, email="a@example.com")
    response = teammate.web.post(
        f"/w/{ws.slug}/contacts/{contact.pk}/signed-up/", {"signed_up_on": "2024-01-01"}
    )
    assert response.status_code == 403
