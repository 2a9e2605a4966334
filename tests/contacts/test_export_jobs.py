"""Contacts exports written by a worker: a list bigger than
CONTACTS_EXPORT_INLINE_MAX gets a button that queues one; the page shows rows written
of the total, then a download link served only to the workspace's members; the task
runs once when delivered twice; viewers start one too (a big list never streams from
the request); outsiders get 404s."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from contacts import tasks
from contacts.models import Contact, ContactExport
from contacts.services.export_jobs import KEEP
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

START = "/w/acme/contacts/exports/"
STATUS = "/w/acme/contacts/exports/status/"
BUTTON = 'action="/w/acme/contacts/exports/"'


@pytest.fixture
def contacts(owner: Any, outsider: Any) -> None:
    for i in range(7):
        ContactFactory.create(
            workspace=owner.workspace,
            email=f"c{i}@example.com",
            email_status="unsubscribed" if i < 2 else "subscribed",
            attributes={"plan": "=cmd" if i == 0 else "pro"},
        )
    ContactFactory.create(workspace=outsider.workspace, email="theirs@example.com")


def _download_rows(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


def test_a_big_list_exports_in_a_worker_with_progress_and_a_private_download(
    settings: Any, owner: Any, teammate: Any, outsider: Any, contacts: None
) -> None:
    settings.CONTACTS_EXPORT_INLINE_MAX = 3
    page = owner.web.get("/w/acme/contacts/").content.decode()
    assert BUTTON in page  # the background button
    assert owner.web.get(STATUS).content.decode().strip() == ""  # nothing asked yet

    response = owner.web.post(START, {"querystring": "email_status=subscribed&sort=oldest"})
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/contacts/?email_status=subscribed&sort=oldest"
    owner.web.post(START, {"querystring": "email_status=subscribed"})
    export = ContactExport.objects.get(workspace=owner.workspace)  # one, not two
    assert export.query == "email_status=subscribed" and len(export.token) >= 32
    waiting = owner.web.get(STATUS).content.decode()
    assert "Waiting for a worker" in waiting and 'hx-trigger="every 1s"' in waiting

    ContactExport.objects.filter(pk=export.pk).update(
        started_at=timezone.now(), total=5, rows_written=2
    )
    running = owner.web.get(STATUS).content.decode()
    assert "2 of 5 rows written" in running and '<progress value="2" max="5"' in running
    ContactExport.objects.filter(pk=export.pk).update(started_at=None, total=None, rows_written=0)

    tasks.export_run(export.pk)
    tasks.export_run(export.pk)  # delivered twice: written once
    export.refresh_from_db()
    assert export.total == 5 and export.rows_written == 5 and export.error == ""
    assert export.file.name == f"exports/{owner.workspace.pk}/{export.token}.csv"
    done = owner.web.get(STATUS).content.decode()
    assert "5 contacts exported" in done and "every 1s" not in done
    download = f"/w/acme/contacts/exports/{export.token}/download/"
    assert download in done and download in owner.web.get("/w/acme/contacts/").content.decode()

    file = owner.web.get(download)
    assert file.status_code == 200 and "attachment" in file["Content-Disposition"]
    rows = _download_rows(file)
    assert sorted(r["email"] for r in rows) == [f"c{i}@example.com" for i in range(2, 7)]
    viewer_file = teammate.web.get(download)  # a viewer reads what the team exported
    assert viewer_file.status_code == 200

    assert outsider.web.get(download).status_code == 404
    own_workspace = f"/w/globex/contacts/exports/{export.token}/download/"
    assert outsider.web.get(own_workspace).status_code == 404
    assert outsider.web.get(STATUS).status_code == 404
    assert outsider.web.post(START).status_code == 404
    assert owner.web.get("/w/acme/contacts/exports/not-a-token/download/").status_code == 404


def test_a_viewers_big_export_goes_to_a_worker_not_the_request(
    settings: Any, teammate: Any, contacts: None
) -> None:
    settings.CONTACTS_EXPORT_INLINE_MAX = 3
    page = teammate.web.get("/w/acme/contacts/").content.decode()
    assert BUTTON in page and "/w/acme/contacts/export.csv" not in page
    # The streamed link of a big list sends the viewer back to the list's button.
    streamed = teammate.web.get("/w/acme/contacts/export.csv?email_status=subscribed")
    assert streamed.status_code == 302
    assert streamed["Location"] == "/w/acme/contacts/?email_status=subscribed"
    response = teammate.web.post(START, {"querystring": "email_status=subscribed"})
    assert response.status_code == 302
    export = ContactExport.objects.get()
    assert export.requested_by == teammate.user.get_username()
    tasks.export_run(export.pk)
    export.refresh_from_db()
    assert export.total == 5 and export.error == ""
    download = teammate.web.get(f"/w/acme/contacts/exports/{export.token}/download/")
    assert sorted(r["email"] for r in _download_rows(download)) == [
        f"c{i}@example.com" for i in range(2, 7)
    ]
    # A list within the limit still streams.
    small = teammate.web.get("/w/acme/contacts/export.csv?email_status=unsubscribed")
    assert small.status_code == 200
    assert sorted(r["email"] for r in _download_rows(small)) == ["c0@example.com", "c1@example.com"]


def test_a_small_list_still_streams(owner: Any, contacts: None) -> None:
    page = owner.web.get("/w/acme/contacts/").content.decode()
    assert "/w/acme/contacts/export.csv" in page and BUTTON not in page


def test_the_export_file_is_safe_in_a_spreadsheet_and_keeps_the_filters(
    owner: Any, contacts: None
) -> None:
    owner.web.post(START, {"querystring": "email_status=unsubscribed"})
    export = ContactExport.objects.get()
    tasks.export_run(export.pk)
    rows = _download_rows(owner.web.get(f"/w/acme/contacts/exports/{export.token}/download/"))
    assert sorted(r["email"] for r in rows) == ["c0@example.com", "c1@example.com"]
    assert {r["attributes.plan"] for r in rows} == {"'=cmd", "pro"}


def test_an_unknown_filter_value_exports_nothing_rather_than_failing(
    owner: Any, contacts: None
) -> None:
    owner.web.post(START, {"querystring": "email_status=%00nonsense&stage=<b>"})
    export = ContactExport.objects.get()
    tasks.export_run(export.pk)
    export.refresh_from_db()
    assert export.error == "" and export.rows_written == 0
    listed = owner.web.get("/w/acme/contacts/", {"email_status": "\x00x"})
    assert listed.status_code == 200  # the list reads its filters the same way


def test_old_exports_and_their_files_are_deleted(
    owner: Any, outsider: Any, contacts: None, django_capture_on_commit_callbacks: Any
) -> None:
    """When the workspace asks for the next one, and hourly by beat for every
    workspace; a recent one stays. (Files go after the commit: the callbacks run.)"""
    owner.web.post(START)
    old = ContactExport.objects.get()
    tasks.export_run(old.pk)
    old.refresh_from_db()
    assert Path(old.file.path).exists()
    ContactExport.objects.filter(pk=old.pk).update(requested_at=timezone.now() - 2 * KEEP)
    # Its file goes after the commit (not run here: the commit would also publish the
    # new export's task); the beat's and the erasure's below run theirs.
    owner.web.post(START)
    assert not ContactExport.objects.filter(pk=old.pk).exists()

    outsider.web.post("/w/globex/contacts/exports/")
    theirs = ContactExport.objects.get(workspace=outsider.workspace)
    tasks.export_run(theirs.pk)
    theirs.refresh_from_db()
    their_path = Path(theirs.file.path)
    assert tasks.exports_forget() == 0  # nothing old yet
    ContactExport.objects.filter(pk=theirs.pk).update(requested_at=timezone.now() - 2 * KEEP)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.exports_forget() == 1
    assert not their_path.exists() and ContactExport.objects.filter(workspace=owner.workspace)


def test_erasing_a_contact_deletes_the_exports_that_may_list_it(
    owner: Any, outsider: Any, contacts: None, django_capture_on_commit_callbacks: Any
) -> None:
    owner.web.post(START)
    export = ContactExport.objects.get()
    tasks.export_run(export.pk)
    export.refresh_from_db()
    path = Path(export.file.path)
    download = f"/w/acme/contacts/exports/{export.token}/download/"
    assert "c3@example.com" in b"".join(owner.web.get(download).streaming_content).decode()
    outsider.web.post("/w/globex/contacts/exports/")
    theirs = ContactExport.objects.get(workspace=outsider.workspace)
    tasks.export_run(theirs.pk)

    contact = Contact.objects.get(workspace=owner.workspace, email="c3@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        assert owner.api.delete(f"/api/v1/contacts/{contact.pk}/").status_code == 204
    assert not path.exists() and owner.web.get(download).status_code == 404
    assert ContactExport.objects.filter(pk=theirs.pk).exists()  # another workspace's stays
