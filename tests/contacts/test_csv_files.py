"""Every CSV the app writes is safe in a spreadsheet (config/spreadsheet.py) and an
export imported again is the same contacts."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from config.spreadsheet import csv_cell, csv_value
from contacts.models import Contact
from contacts.services import import_job_create, import_job_run, import_job_start
from tests.factories import ContactFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

HOSTILE = [
    '=HYPERLINK("http://evil.example","click")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1)",
    "\t=1",
    "\r=1",
    "'=already quoted",
    "-",
    "+",
]
HARMLESS = ["-5", "+7", "3.5e2", "-12.50", ".5", "+12125552998", "+1 (212) 555-2998", "plain"]


@pytest.mark.parametrize("text", HOSTILE)
def test_what_a_spreadsheet_would_run_is_neutralised_and_reads_back(text):
    cell = csv_cell(text)
    assert cell.startswith("'") and cell != text
    assert csv_value(cell) == text


@pytest.mark.parametrize("text", HARMLESS)
def test_numbers_and_phone_numbers_stay_as_they_are(text):
    assert csv_cell(text) == text
    assert csv_value(text) == text


def _read(response: Any) -> list[list[str]]:
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    return list(csv.reader(io.StringIO(raw.decode())))


def test_rejected_rows_csv_neutralises_its_header_row(owner):
    upload = SimpleUploadedFile(
        "bad.csv", b'email,"=HYPERLINK(""http://x"",""y"")"\nnot-an-email,1\n'
    )
    actor = Actor(system="test")
    job = import_job_create(workspace=owner.workspace, upload=upload, actor=actor)
    assert job.headers == ["email", '=HYPERLINK("http://x","y")']
    import_job_start(job=job, mapping={"email": "email"}, match_on="email", actor=actor)
    import_job_run(job_id=job.pk)
    rows = _read(owner.web.get(f"/w/{owner.workspace.slug}/imports/{job.pk}/rejected.csv"))
    assert rows[0] == ["row", "reason", "email", '\'=HYPERLINK("http://x","y")']
    assert rows[1][0] == "2"


def test_every_csv_download_neutralises_cells(owner, api):
    ContactFactory.create(
        workspace=owner.workspace,
        email="x@example.com",
        first_name="=HYPERLINK(1)",
        last_name="-5",
        phone="+12125552998",
        attributes={"note": "@SUM(A1)", "score": -5},
    )
    export = _read(api.get("/api/v1/contacts/export/"))
    header, row = export[0], export[1]
    values = dict(zip(header, row, strict=True))
    assert values["first_name"] == "'=HYPERLINK(1)"
    assert values["last_name"] == "-5"
    assert values["phone"] == "+12125552998"
    assert values["attributes.note"] == "'@SUM(A1)"
    assert values["attributes.score:number"] == "-5"
    dashboard = _read(owner.web.get(f"/w/{owner.workspace.slug}/contacts/export.csv"))
    assert dashboard == export
    consent = _read(api.get("/api/v1/consent/export/"))
    assert all(not cell.startswith(("=", "@")) for line in consent for cell in line)


def test_export_then_import_gives_the_same_contacts(owner, outsider, api):
    tricky = [
        {
            "email": "ada@example.com",
            "first_name": '=HYPERLINK("http://evil.example","x")',
            "last_name": "-5",
            "phone": "+12125552998",
            "external_id": "@ada",
            "time_zone": "Europe/London",
            "locale": "en-GB",
            "email_status": "unsubscribed",
            "sms_status": "subscribed",
            "attributes": {
                "note": "+cmd|' /C calc'!A0",
                "quote": "'=kept",
                "lines": 'two\nlines, "quoted"',
                "score": -5,
                "ratio": 3.5,
                "vip": True,
                "plan": "-2+3",
            },
        },
        {
            "email": "bob@example.com",
            "first_name": "Bob",
            "last_name": "@home",
            "attributes": {"score": 12, "vip": False, "plan": "pro"},
        },
        {"email": "cy@example.com", "first_name": "+44 Cy", "attributes": {}},
    ]
    for data in tricky:
        assert api.post("/api/v1/contacts/", data, format="json").status_code == 201
    exported = b"".join(api.get("/api/v1/contacts/export/").streaming_content)

    # Into another workspace, with the mapping the upload suggests.
    upload = outsider.api.post(
        "/api/v1/imports/",
        {"file": SimpleUploadedFile("contacts.csv", exported)},
        format="multipart",
    )
    assert upload.status_code == 201, upload.content
    job = upload.json()
    assert job["mapping"]["id"] == "" and job["mapping"]["created_at"] == ""
    started = outsider.api.post(
        f"/api/v1/imports/{job['id']}/start/",
        {"mapping": job["mapping"], "match_on": "email"},
        format="json",
    )
    assert started.status_code == 200, started.content
    finished = import_job_run(job_id=job["id"])
    assert finished is not None
    assert (finished.created_count, finished.rejected_count) == (3, 0)

    fields = ["email", "first_name", "last_name", "phone", "external_id", "time_zone"]
    fields += ["locale", "email_status", "sms_status", "attributes"]

    def snapshot(workspace: Any) -> list[tuple]:
        rows = Contact.objects.filter(workspace=workspace).order_by("email")
        return [tuple(getattr(c, f) for f in fields) for c in rows]

    assert snapshot(outsider.workspace) == snapshot(owner.workspace)
