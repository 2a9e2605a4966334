"""CSV import: mapping, upserts, rejected rows with row numbers, checkpoints."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.errors import InvalidInput
from contacts.models import Contact, ImportJob
from contacts.services import import_job_create, import_job_run, import_job_start
from contacts.services.imports import CHUNK_ROWS, _process_chunk, _rows
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

GOOD_AND_BAD = (
    "Email,First Name,Phone,Plan,Seats,Active,Renewal\n"
    "ada@example.com,Ada,+14155550101,pro,3,yes,2027-01-31\n"  # row 2: ok
    "not-an-email,Bob,,free,1,no,\n"  # row 3: bad email
    "carol@example.com,Carol,0044 20 7946,pro,2,yes,\n"  # row 4: bad phone
    "dave@example.com,Dave,,pro,many,yes,\n"  # row 5: bad number
    "\n"  # row 6: blank, skipped
    "erin@example.com,Erin,,basic,1,maybe,\n"  # row 7: bad boolean
    "frank@example.com,Frank\n"  # row 8: short row
    '"gina@example.com","Gina ""G""",,basic,1,true,2027-02-01\n'  # row 9: ok, quotes
    ",NoEmail,,basic,1,true,\n"  # row 10: no key
    "ada@example.com,Ada Again,,pro,4,yes,\n"  # row 11: updates ada
)
MAPPING = {
    "Email": "email",
    "First Name": "first_name",
    "Phone": "phone",
    "Plan": "attributes.plan",
    "Seats": "attributes.seats:number",
    "Active": "attributes.active:boolean",
    "Renewal": "attributes.renewal_date:date",
}


def _upload(text: str, name: str = "contacts.csv", encoding: str = "utf-8") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(encoding), content_type="text/csv")


def _run(ws, text: str, mapping=None, match_on: str = "email") -> ImportJob:
    actor = Actor(system="test")
    job = import_job_create(workspace=ws, upload=_upload(text), actor=actor)
    import_job_start(job=job, mapping=mapping or MAPPING, match_on=match_on, actor=actor)
    result = import_job_run(job_id=job.pk)
    assert result is not None
    return result


def test_accepted_rows_are_kept_and_bad_rows_reported_with_row_numbers(ws):
    job = _run(ws, GOOD_AND_BAD)
    assert job.status == "completed"
    assert job.total_rows == 9
    assert (job.created_count, job.updated_count, job.rejected_count) == (2, 1, 6)
    reasons = {e.row_number: e.reason for e in job.row_errors.all()}
    assert set(reasons) == {3, 4, 5, 7, 8, 10}
    assert "Email" in reasons[3] and "not a valid email" in reasons[3]
    assert reasons[4].startswith("Phone:")
    assert reasons[5] == "Seats: 'many' is not a number"
    assert reasons[7] == "Active: 'maybe' is not true/false"
    assert reasons[8] == "has 2 columns, the header has 7"
    assert reasons[10] == "email: is required to match on email"
    ada = Contact.objects.get(workspace=ws, email="ada@example.com")
    assert ada.first_name == "Ada Again"
    assert ada.attributes == {
        "plan": "pro",
        "seats": 4,
        "active": True,
        "renewal_date": "2027-01-31",
    }
    assert ada.phone == "+14155550101"
    gina = Contact.objects.get(workspace=ws, email="gina@example.com")
    assert gina.first_name == 'Gina "G"'
    assert gina.attributes["active"] is True


def test_upsert_by_external_id_updates_in_place(ws):
    contact = ContactFactory.create(workspace=ws, external_id="42", email="old@example.com")
    job = _run(
        ws,
        "id,email\n42,new@example.com\n43,other@example.com\n",
        mapping={"id": "external_id", "email": "email"},
        match_on="external_id",
    )
    assert (job.created_count, job.updated_count) == (1, 1)
    contact.refresh_from_db()
    assert contact.email == "new@example.com"


def test_windows_1252_and_bom_files(ws):
    actor = Actor(system="test")
    job = import_job_create(
        workspace=ws,
        upload=_upload("email,name\nzoë@example.com,Zoë\n", encoding="cp1252"),
        actor=actor,
    )
    assert job.headers == ["email", "name"]
    job = import_job_create(
        workspace=ws, upload=_upload("\ufeffemail\na@example.com\n"), actor=actor
    )
    assert job.headers == ["email"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [("", "empty"), ("email,email\na@b.co,a@b.co\n", "more than once"), (",,\n1,2,3\n", "")],
)
def test_unusable_files_are_refused_at_upload(ws, text, reason):
    with pytest.raises(InvalidInput) as caught:
        import_job_create(workspace=ws, upload=_upload(text), actor=Actor(system="test"))
    assert reason in " ".join(caught.value.fields.get("file", [])) + caught.value.message


@pytest.mark.parametrize(
    ("mapping", "match_on", "field"),
    [
        ({"Email": "email", "First Name": "email"}, "email", "mapping.First Name"),
        ({"Email": "favourite"}, "email", "mapping.Email"),
        ({"Nope": "email"}, "email", "mapping.Nope"),
        ({"Email": "attributes.9x"}, "email", "mapping.Email"),
        ({"Email": "attributes.plan:colour"}, "email", "mapping.Email"),
        ({"First Name": "first_name"}, "email", "match_on"),
        ({"Email": "email"}, "phone", "match_on"),
    ],
)
def test_bad_mappings_are_refused(ws, mapping, match_on, field):
    job = import_job_create(workspace=ws, upload=_upload(GOOD_AND_BAD), actor=Actor(system="t"))
    with pytest.raises(InvalidInput) as caught:
        import_job_start(job=job, mapping=mapping, match_on=match_on, actor=Actor(system="t"))
    assert field in caught.value.fields
    job.refresh_from_db()
    assert job.status == "mapping"


def test_interrupted_job_resumes_after_its_last_checkpoint(ws):
    """A worker died after committing the first chunk: the rerun does not redo it."""
    rows = "".join(f"user{i}@example.com,{i}\n" for i in range(CHUNK_ROWS + 500))
    text = "email,n\n" + rows
    actor = Actor(system="test")
    job = import_job_create(workspace=ws, upload=_upload(text), actor=actor)
    import_job_start(
        job=job,
        mapping={"email": "email", "n": "attributes.n:number"},
        match_on="email",
        actor=actor,
    )
    first_chunk = list(_rows(text))[:CHUNK_ROWS]
    ImportJob.objects.filter(pk=job.pk).update(status="running")
    _process_chunk(job, first_chunk)
    done = import_job_run(job_id=job.pk)
    assert done is not None
    job = done
    assert job.status == "completed"
    assert (job.processed_rows, job.created_count, job.updated_count, job.unchanged_count) == (
        CHUNK_ROWS + 500,
        CHUNK_ROWS + 500,
        0,
        0,
    )
    assert Contact.objects.filter(workspace=ws).count() == CHUNK_ROWS + 500


def test_finished_job_is_not_run_again(ws):
    job = _run(ws, "email\na@example.com\n", mapping={"email": "email"})
    again = import_job_run(job_id=job.pk)
    assert again is not None
    assert again.created_count == 1


def test_import_over_the_api(api, ws):
    response = api.post("/api/v1/imports/", {"file": _upload(GOOD_AND_BAD)}, format="multipart")
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["status"] == "mapping"
    assert job["mapping"]["Email"] == "email" and job["mapping"]["First Name"] == "first_name"
    response = api.post(
        f"/api/v1/imports/{job['id']}/start/",
        {"mapping": MAPPING, "match_on": "email"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "queued"
    import_job_run(job_id=job["id"])  # what the worker does; tests/test_worker.py runs one
    body = api.get(f"/api/v1/imports/{job['id']}/").json()
    assert (body["status"], body["rejected_count"], body["progress_percent"]) == (
        "completed",
        6,
        100,
    )
    errors = api.get(f"/api/v1/imports/{job['id']}/errors/", {"limit": 2}).json()
    assert [e["row_number"] for e in errors["results"]] == [3, 4]
    assert errors["next"]


def test_import_api_bad_input(api, outsider_api):
    assert api.post("/api/v1/imports/", {}, format="multipart").status_code == 400
    job = api.post(
        "/api/v1/imports/", {"file": _upload("email\na@b.co\n")}, format="multipart"
    ).json()
    response = api.post(
        f"/api/v1/imports/{job['id']}/start/", {"mapping": "{bad json"}, format="json"
    )
    assert response.status_code == 400
    for url in (f"/api/v1/imports/{job['id']}/", f"/api/v1/imports/{job['id']}/errors/"):
        assert outsider_api.get(url).status_code == 404
    assert (
        outsider_api.post(
            f"/api/v1/imports/{job['id']}/start/", {"mapping": {"email": "email"}}, format="json"
        ).status_code
        == 404
    )
