"""The catalogue in Django admin: read-only, and only the staff user's workspaces."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_admin_lists_only_the_staff_users_products(owner, outsider):
    owner.api.put("/api/v1/products/OURS-1/", {"title": "Our beans"}, format="json")
    outsider.api.put("/api/v1/products/THEIRS-1/", {"title": "Their beans"}, format="json")
    owner.api.post(
        "/api/v1/events/",
        {
            "contact": {"email": "ada@example.com"},
            "name": "purchase",
            "properties": {"items": [{"product_id": "MISSING-1"}]},
        },
        format="json",
    )
    owner.user.is_staff = True
    owner.user.save()
    listed = owner.web.get("/admin/catalog/product/")
    assert listed.status_code == 200
    assert b"OURS-1" in listed.content and b"THEIRS-1" not in listed.content
    unknown = owner.web.get("/admin/catalog/unknownproduct/")
    assert unknown.status_code == 200 and b"MISSING-1" in unknown.content
    assert owner.web.get("/admin/catalog/product/add/").status_code == 403
