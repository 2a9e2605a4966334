"""Stage history from a CSV file: the contacts import's machinery with the
stage_history kind: mapping, row-numbered errors, chunks, idempotency and marks."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from config.errors import InvalidInput
from contacts.models import ContactMark, ImportJob
from contacts.services import import_job_create, import_job_run, import_job_start
from contacts.services import imports as import_service
from lifecycle.models import StageTransition
from lifecycle.services import stages_create_defaults
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

FUTURE = (timezone.now() + dt.timedelta(days=3)).date().isoformat()


@pytest.fixture
def stages(ws):
    ws.time_zone = "America/New_York"
    ws.save(update_fields=["time_zone"])
    return {s.key: s for s in stages_create_defaults(workspace=ws)}


@pytest.fixture
def people(ws, stages):
    ada = ContactFactory.create(workspace=ws, email="ada@example.com", external_id="c-1")
    bob = ContactFactory.create(workspace=ws, email="bob@example.com", external_id="c-2")
    ContactMark.objects.all().delete()
    return ada, bob


def _upload(text: str) -> SimpleUploadedFile:
    return SimpleUploadedFile("history.csv", text.encode(), content_type="text/csv")


def _run(ws, text: str, mapping=None, match_on: str = "email") -> ImportJob:
    actor = Actor(system="test")
    job = import_job_create(workspace=ws, upload=_upload(text), actor=actor, kind="stage_history")
    import_job_start(job=job, mapping=mapping or job.mapping, match_on=match_on, actor=actor)
    result = import_job_run(job_id=job.pk)
    assert result is not None
    return result


FILE = (
    "Email,Stage,Date\n"
    "ada@example.com,subscriber,2025-01-10\n"  # row 2: by key, a date alone
    "ada@example.com,Customer,2025-02-01T09:30:00Z\n"  # row 3: by name
    "nobody@example.com,customer,2025-02-01\n"  # row 4: unknown contact
    "bob@example.com,vip,2025-02-01\n"  # row 5: unknown stage
    "bob@example.com,customer,01/02/2025\n"  # row 6: bad date
    f"bob@example.com,customer,{FUTURE}\n"  # row 7: future date
    "bob@example.com,customer\n"  # row 8: short row
    ",customer,2025-02-01\n"  # row 9: no email
    "bob@example.com,lapsed,2025-05-05\n"  # row 10: ok
    "ada@example.com,subscriber,2025-01-10\n"  # row 11: the same as row 2
)
NY = ZoneInfo("America/New_York")


def test_rows_are_imported_and_bad_ones_reported_by_row_number(ws, stages, people):
    ada, bob = people
    job = _run(ws, FILE)
    assert job.status == "completed"
    assert job.mapping == {"Email": "email", "Stage": "stage", "Date": "at"}
    assert (job.processed_rows, job.created_count, job.unchanged_count) == (10, 3, 1)
    reasons = {e.row_number: e.reason for e in job.row_errors.all()}
    assert reasons == {
        4: "Email: no contact with the email 'nobody@example.com'",
        5: "Stage: 'vip' is not a stage of this workspace (one of advocate, at_risk, "
        "customer, lapsed, lead, loyal, repeat, subscriber)",
        6: "Date: '01/02/2025' is not an ISO 8601 date or date-time",
        7: "Date: is in the future",
        8: "has 2 columns, the header has 3",
        9: "Email: is empty",
    }
    assert job.rejected_count == 6
    ada_moves = list(StageTransition.objects.filter(contact=ada).order_by("at"))
    assert [(t.from_stage_id, t.to_stage_id, t.at, t.cause) for t in ada_moves] == [
        (None, stages["subscriber"].pk, dt.datetime(2025, 1, 10, tzinfo=NY), "import"),
        (
            stages["subscriber"].pk,
            stages["customer"].pk,
            dt.datetime(2025, 2, 1, 9, 30, tzinfo=dt.UTC),
            "import",
        ),
    ]
    assert ada_moves[0].reason == "imported from history.csv"
    marks = {m.contact_id: (m.source, m.since) for m in ContactMark.objects.all()}
    assert marks == {
        ada.pk: ("import", dt.datetime(2025, 1, 10, tzinfo=NY)),
        bob.pk: ("import", dt.datetime(2025, 5, 5, tzinfo=NY)),
    }


def test_the_same_file_twice_stores_nothing_new(ws, stages, people):
    _run(ws, FILE)
    ContactMark.objects.all().delete()
    again = _run(ws, FILE)
    assert (again.created_count, again.unchanged_count, again.rejected_count) == (0, 4, 6)
    assert StageTransition.objects.filter(workspace=ws).count() == 3
    assert not ContactMark.objects.exists()


def test_match_on_external_id(ws, stages, people):
    ada, _ = people
    text = (
        "Customer ID,Lifecycle stage,Entered at\nc-1,customer,2025-03-03\nc-9,customer,2025-03-03\n"
    )
    job = _run(ws, text, match_on="external_id")
    assert job.mapping == {
        "Customer ID": "external_id",
        "Lifecycle stage": "stage",
        "Entered at": "at",
    }
    assert job.created_count == 1
    assert [e.reason for e in job.row_errors.all()] == [
        "Customer ID: no contact with the external id 'c-9'"
    ]
    assert StageTransition.objects.get(workspace=ws).contact_id == ada.pk


def test_chunks_checkpoint_and_from_stage_crosses_chunks(ws, stages, people, monkeypatch):
    ada, _ = people
    monkeypatch.setattr(import_service, "CHUNK_ROWS", 2)
    rows = [
        "ada@example.com,subscriber,2025-01-01",
        "ada@example.com,customer,2025-02-01",
        "ada@example.com,loyal,2025-03-01",
        "ada@example.com,at_risk,2025-04-01",
        "ada@example.com,lapsed,2025-05-01",
    ]
    job = _run(ws, "Email,Stage,Date\n" + "\n".join(rows) + "\n")
    assert (job.processed_rows, job.created_count) == (5, 5)
    moves = list(StageTransition.objects.filter(contact=ada).order_by("at"))
    keys = {s.pk: s.key for s in stages.values()}
    assert [(keys.get(t.from_stage_id), keys[t.to_stage_id]) for t in moves] == [
        (None, "subscriber"),
        ("subscriber", "customer"),
        ("customer", "loyal"),
        ("loyal", "at_risk"),
        ("at_risk", "lapsed"),
    ]
    # One mark per chunk, each since the chunk's earliest move for the contact.
    sinces = sorted(m.since for m in ContactMark.objects.filter(contact=ada) if m.since)
    assert sinces[0] == dt.datetime(2025, 1, 1, tzinfo=NY)


@pytest.mark.parametrize(
    ("mapping", "match_on", "field"),
    [
        ({"Email": "email", "Stage": "stage"}, "email", "mapping.at"),
        ({"Email": "email", "Date": "at"}, "email", "mapping.stage"),
        ({"Email": "email", "Stage": "stage", "Date": "at"}, "external_id", "mapping.external_id"),
        ({"Email": "email", "Stage": "stage", "Date": "stage"}, "email", "mapping.Date"),
        ({"Email": "first_name", "Stage": "stage", "Date": "at"}, "email", "mapping.Email"),
        ({"Nope": "email", "Stage": "stage", "Date": "at"}, "email", "mapping.Nope"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_column(ws, stages, mapping, match_on, field):
    actor = Actor(system="test")
    job = import_job_create(
        workspace=ws, upload=_upload("Email,Stage,Date\n"), actor=actor, kind="stage_history"
    )
    with pytest.raises(InvalidInput) as caught:
        import_job_start(job=job, mapping=mapping, match_on=match_on, actor=actor)
    assert field in caught.value.fields


def test_an_unknown_kind_is_refused(ws):
    with pytest.raises(InvalidInput) as caught:
        import_job_create(
            workspace=ws, upload=_upload("a\n1\n"), actor=Actor(system="t"), kind="orders"
        )
    # Other apps register kinds of their own (catalog: products).
    (reason,) = caught.value.fields["kind"]
    assert reason.startswith("one of contacts, ") and "stage_history" in reason


def test_api_upload_with_kind_and_mapping_runs_and_outsider_gets_404(
    api, outsider_api, ws, stages, people, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    response = api.post(
        "/api/v1/imports/",
        {
            "file": _upload(FILE),
            "kind": "stage_history",
            "mapping": '{"Email": "email", "Stage": "stage", "Date": "at"}',
        },
        format="multipart",
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["kind"] == "stage_history"
    job_id = body["id"]
    import_job_run(job_id=job_id)
    detail = api.get(f"/api/v1/imports/{job_id}/").json()
    assert (detail["status"], detail["created_count"], detail["rejected_count"]) == (
        "completed",
        3,
        6,
    )
    errors = api.get(f"/api/v1/imports/{job_id}/errors/").json()["results"]
    assert [e["row_number"] for e in errors] == [4, 5, 6, 7, 8, 9]
    assert outsider_api.get(f"/api/v1/imports/{job_id}/").status_code == 404
    assert outsider_api.get(f"/api/v1/imports/{job_id}/errors/").status_code == 404
    bad = api.post(
        "/api/v1/imports/", {"file": _upload(FILE), "kind": "orders"}, format="multipart"
    )
    assert bad.status_code == 400
    assert "kind" in bad.json()["error"]["fields"]


def test_dashboard_upload_maps_and_reports(owner, ws, stages, people, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    page = owner.web.get(f"/w/{ws.slug}/imports/").content.decode()
    assert 'data-testid="upload-stage_history"' in page
    response = owner.web.post(
        f"/w/{ws.slug}/imports/", {"file": _upload(FILE), "kind": "stage_history"}
    )
    assert response.status_code == 302
    job = ImportJob.objects.get(workspace=ws)
    assert job.kind == "stage_history"
    mapping_page = owner.web.get(response.url).content.decode()
    assert "Date (entered the stage)" in mapping_page
    assert "Custom attribute" not in mapping_page
