"""Saved views of the contacts list: a marketer names the current filters (stage
included), everyone in the workspace sees the view, it opens the same list; another
workspace's member cannot see or remove it."""

from __future__ import annotations

import pytest

from contacts.models import SavedView
from lifecycle.services import stages_create_defaults

pytestmark = pytest.mark.django_db


def test_save_open_and_remove_a_view(owner, teammate, outsider):
    stages_create_defaults(workspace=owner.workspace)
    response = owner.web.post(
        "/w/acme/contacts/views/",
        {
            "name": "Customers <EU>",
            "stage": "customer",
            "email_status": "subscribed",
            "sort": "newest",
            "evil": "x",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/w/acme/contacts/?email_status=subscribed&stage=customer"
    view = SavedView.objects.get(workspace=owner.workspace)
    assert view.query == "email_status=subscribed&stage=customer"
    page = teammate.web.get("/w/acme/contacts/").content.decode()
    assert "Customers &lt;EU&gt;" in page and "?email_status=subscribed&amp;stage=customer" in page
    opened = owner.web.get(
        "/w/acme/contacts/?email_status=subscribed&stage=customer"
    ).content.decode()
    assert 'aria-current="page">Customers &lt;EU&gt;' in opened
    again = owner.web.post("/w/acme/contacts/views/", {"name": "Customers <EU>"})
    assert again.status_code == 302 and SavedView.objects.count() == 1  # the name is taken
    assert teammate.web.post(f"/w/acme/contacts/views/{view.pk}/delete/").status_code == 403
    assert outsider.web.post(f"/w/globex/contacts/views/{view.pk}/delete/").status_code == 404
    assert "Customers &lt;EU&gt;" not in outsider.web.get("/w/globex/contacts/").content.decode()
    owner.web.post(f"/w/acme/contacts/views/{view.pk}/delete/")
    assert not SavedView.objects.exists()


def test_a_nameless_view_is_refused(owner):
    owner.web.post("/w/acme/contacts/views/", {"name": "  "})
    assert not SavedView.objects.exists()
