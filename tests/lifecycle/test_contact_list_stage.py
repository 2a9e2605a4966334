"""The contacts list shows each contact's stage and filters by it (a column the
lifecycle app adds through contacts/panels.py); stage counts link to the contacts they
count; segments list their counts; sorting keeps keyset paging."""

from __future__ import annotations

import pytest

from lifecycle.models import Stage
from lifecycle.services import stages_create_defaults
from lifecycle.services.moves import contact_stage_set
from tests.factories import ContactFactory, SegmentFactory
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


@pytest.fixture
def placed(owner):
    stages_create_defaults(workspace=owner.workspace)
    customer = Stage.objects.get(workspace=owner.workspace, key="customer")
    buyers = [
        ContactFactory.create(workspace=owner.workspace, email=f"buyer{i}@example.com")
        for i in range(3)
    ]
    for contact in buyers:
        contact_stage_set(contact=contact, stage=customer, actor=Actor(system="test"))
    ContactFactory.create(workspace=owner.workspace, email="browser@example.com")
    return customer, buyers


def test_stage_column_and_filter(owner, placed, django_assert_max_num_queries):
    customer, _ = placed
    with django_assert_max_num_queries(12):
        page = owner.web.get("/w/acme/contacts/")
    assert b"<th>Stage</th>" in page.content
    assert page.content.count(customer.name.encode()) >= 3
    filtered = owner.web.get("/w/acme/contacts/", {"stage": "customer"}, HTTP_HX_REQUEST="true")
    assert b"3 contacts match" in filtered.content
    assert b"browser@example.com" not in filtered.content
    export = owner.web.get("/w/acme/contacts/export.csv", {"stage": "customer"})
    lines = b"".join(export.streaming_content).decode().strip().splitlines()
    assert len(lines) == 4  # the header and the three customers


def test_stage_counts_link_to_their_contacts(owner, placed):
    page = owner.web.get("/w/acme/stages/").content.decode()
    assert "/w/acme/contacts/?stage=customer" in page


def test_sort_orders_and_pages(owner, placed):
    oldest = owner.web.get("/w/acme/contacts/", {"sort": "oldest"}).content.decode()
    assert oldest.index("buyer0@example.com") < oldest.index("browser@example.com")
    newest = owner.web.get("/w/acme/contacts/", {"sort": "newest"}).content.decode()
    assert newest.index("browser@example.com") < newest.index("buyer0@example.com")
    # An unknown sort falls back to newest first, never a 500.
    assert owner.web.get("/w/acme/contacts/", {"sort": "email; drop"}).status_code == 200


def test_a_stage_of_another_workspace_filters_to_nothing(owner, placed, outsider):
    stages_create_defaults(workspace=outsider.workspace)
    response = outsider.web.get("/w/globex/contacts/", {"stage": "customer"})
    assert b"0 contacts match" in response.content
    assert b"buyer0@example.com" not in response.content


def test_segment_list_counts_each_segment(owner, placed, outsider):
    segment = SegmentFactory.create(
        workspace=owner.workspace,
        rule={"field": "email", "op": "contains", "value": "buyer"},
    )
    page = owner.web.get("/w/acme/segments/").content.decode()
    assert f"/w/acme/segments/{segment.pk}/count/" in page
    count = owner.web.get(f"/w/acme/segments/{segment.pk}/count/").content.decode()
    assert "3 contacts" in count and f"/w/acme/segments/{segment.pk}/" in count
    assert outsider.web.get(f"/w/acme/segments/{segment.pk}/count/").status_code == 404
