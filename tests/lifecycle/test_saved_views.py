"""Saved views of the contacts list: a member names the current filters (stage
included) for themselves, or shares the view with the team; others see only shared
views; a viewer keeps views of their own; another workspace's member cannot see or
remove any."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.loader import MigrationLoader

from contacts.models import SavedView
from lifecycle.services import stages_create_defaults
from tests.factories import MembershipFactory, UserFactory
from workspaces.models import Role

pytestmark = pytest.mark.django_db


def test_a_view_is_its_creators_own_unless_shared(owner, teammate, outsider):
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
    mine = SavedView.objects.get(workspace=owner.workspace)
    assert mine.query == "email_status=subscribed&stage=customer"
    assert mine.shared is False and mine.created_by == owner.user
    opened = owner.web.get(
        "/w/acme/contacts/?email_status=subscribed&stage=customer"
    ).content.decode()
    assert 'aria-current="page">Customers &lt;EU&gt;' in opened
    # The teammate does not see the owner's own view, nor may remove it.
    assert "Customers &lt;EU&gt;" not in teammate.web.get("/w/acme/contacts/").content.decode()
    assert teammate.web.post(f"/w/acme/contacts/views/{mine.pk}/delete/").status_code == 404

    owner.web.post(
        "/w/acme/contacts/views/", {"name": "Team list", "stage": "lead", "shared": "on"}
    )
    shared = SavedView.objects.get(name="Team list")
    assert shared.shared is True
    page = teammate.web.get("/w/acme/contacts/").content.decode()
    assert "Team list" in page and "?stage=lead" in page
    # A viewer may not remove a view the team shares.
    assert teammate.web.post(f"/w/acme/contacts/views/{shared.pk}/delete/").status_code == 403
    assert outsider.web.post(f"/w/globex/contacts/views/{shared.pk}/delete/").status_code == 404
    assert "Team list" not in outsider.web.get("/w/globex/contacts/").content.decode()

    again = owner.web.post("/w/acme/contacts/views/", {"name": "Customers <EU>"})
    assert again.status_code == 302 and SavedView.objects.count() == 2  # the name is taken
    owner.web.post(f"/w/acme/contacts/views/{mine.pk}/delete/")
    owner.web.post(f"/w/acme/contacts/views/{shared.pk}/delete/")
    assert not SavedView.objects.exists()


def test_a_viewer_keeps_views_of_their_own_and_may_not_share(owner, teammate):
    teammate.web.post("/w/acme/contacts/views/", {"name": "Mine", "q": "ada"})
    teammate.web.post("/w/acme/contacts/views/", {"name": "Everyone's", "shared": "on"})
    view = SavedView.objects.get()
    assert (view.name, view.shared, view.created_by) == ("Mine", False, teammate.user)
    page = teammate.web.get("/w/acme/contacts/").content.decode()
    assert "Mine" in page and 'name="shared"' not in page
    assert "Mine" not in owner.web.get("/w/acme/contacts/").content.decode()
    # Two members may each have a view of the same name.
    owner.web.post("/w/acme/contacts/views/", {"name": "Mine", "q": "bob"})
    assert SavedView.objects.filter(name="Mine").count() == 2
    assert teammate.web.post(f"/w/acme/contacts/views/{view.pk}/delete/").status_code == 302
    assert list(SavedView.objects.values_list("created_by", flat=True)) == [owner.user.pk]


def test_a_marketer_removes_a_view_another_member_shared(owner):
    marketer = UserFactory.create()
    MembershipFactory.create(user=marketer, workspace=owner.workspace, role=Role.MARKETER)
    owner.web.post("/w/acme/contacts/views/", {"name": "Team", "shared": "on"})
    view = SavedView.objects.get()
    owner.web.force_login(marketer)
    assert owner.web.post(f"/w/acme/contacts/views/{view.pk}/delete/").status_code == 302
    assert not SavedView.objects.exists()


def test_a_nameless_view_is_refused(owner):
    owner.web.post("/w/acme/contacts/views/", {"name": "  "})
    assert not SavedView.objects.exists()


def test_views_saved_before_the_change_stay_shared(owner):
    """Migration 0012's `shared` column, run on the table as it was before it (the
    column dropped again, inside this test's transaction): the views already saved
    were the workspace's and stay shared; a new view is its creator's own. (Migrating
    the whole project back and forth to say this took two minutes.)"""
    loader = MigrationLoader(connection)
    migration = loader.get_migration("contacts", "0012_saved_view_per_user")
    state = loader.project_state(("contacts", "0011_contact_export"))
    with connection.cursor() as cursor:
        cursor.execute("ALTER TABLE contacts_savedview DROP COLUMN shared")
    state.apps.get_model("contacts", "SavedView").objects.create(
        workspace_id=owner.workspace.pk, name="Old", query="stage=lead"
    )
    with connection.cursor() as cursor:  # its foreign keys checked now, not at commit
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
    remove_constraint, add_field, alter_field, _ = migration.operations
    remove_constraint.state_forwards("contacts", state)  # the constraint stays as it is
    with connection.schema_editor() as editor:
        for operation in (add_field, alter_field):
            after = state.clone()
            operation.state_forwards("contacts", after)
            operation.database_forwards("contacts", editor, state, after)
            state = after
    assert SavedView.objects.get(name="Old").shared is True
    new = SavedView.objects.create(workspace=owner.workspace, name="New", query="")
    assert SavedView.objects.get(pk=new.pk).shared is False
