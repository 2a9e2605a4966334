"""Products from a CSV file: the contacts import's machinery with the products kind:
a suggested mapping, row-numbered errors naming the column, upserts, idempotency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from catalog.models import Product
from config.errors import InvalidInput
from contacts.models import ImportJob
from contacts.services import import_job_create, import_job_run, import_job_start
from workspaces.services import Actor

pytestmark = pytest.mark.django_db

FILE = (
    "SKU,Name,Price,Category,Vendor,Stock,Image,Roast\n"
    "B-1,Kenya AA,14.50,beans|single origin,Roastery,12,https://cdn.example/k.jpg,light\n"
    "B-2,Colombia,9,beans,Roastery,0,,medium\n"  # row 3: out of stock
    ",No id,3,beans,,,,\n"  # row 4: no id
    "B-4,Negative,-1,beans,,,,\n"  # row 5: bad price
    "B-5,Bad image,4,beans,,,javascript:alert(1),\n"  # row 6: bad address
    "B-6,Bad stock,4,beans,,lots,,\n"  # row 7: bad quantity
    "B-1,Kenya again,15,beans,,,,\n"  # row 8: the same id as row 2
    "E-1,Grinder,120,equipment,Comandante,3,,\n"
)


def _run(ws, text: str, mapping=None) -> ImportJob:
    actor = Actor(system="test")
    upload = SimpleUploadedFile("products.csv", text.encode(), content_type="text/csv")
    job = import_job_create(workspace=ws, upload=upload, actor=actor, kind="products")
    import_job_start(job=job, mapping=mapping or job.mapping, match_on="email", actor=actor)
    result = import_job_run(job_id=job.pk)
    assert result is not None
    return result


def test_rows_become_products_and_bad_rows_are_reported_by_number(ws):
    job = _run(ws, FILE, mapping=None)
    assert job.mapping == {
        "SKU": "product_id",
        "Name": "title",
        "Price": "price",
        "Category": "categories",
        "Vendor": "brand",
        "Stock": "quantity",
        "Image": "image_url",
    }
    job = _run(ws, FILE, mapping={**job.mapping, "Roast": "attribute"})
    assert job.status == "completed"
    reasons = {e.row_number: e.reason for e in job.row_errors.all()}
    assert reasons == {
        4: "SKU: is required",
        5: "Price: must not be negative",
        6: "Image: must be an http:// or https:// address",
        7: "Stock: must be a whole number",
        8: "SKU: is also row 2",
    }
    kenya = Product.objects.get(workspace=ws, product_id="B-1")
    assert kenya.title == "Kenya AA" and kenya.price == Decimal("14.50")
    assert kenya.currency == ws.currency and kenya.categories == ["beans", "single origin"]
    assert kenya.quantity == 12 and kenya.in_stock is True
    assert kenya.attributes == {"Roast": "light"}
    assert Product.objects.get(workspace=ws, product_id="B-2").in_stock is False
    assert set(Product.objects.filter(workspace=ws).values_list("product_id", flat=True)) == {
        "B-1",
        "B-2",
        "E-1",
    }
    # The second run found the first run's products as they were (no Roast then):
    # two changed, and the counts say so.
    assert (job.created_count, job.unchanged_count, job.rejected_count) == (2, 1, 5)


def test_a_file_imported_twice_changes_nothing_the_second_time(ws):
    first = _run(ws, FILE)
    updated_at = dict(Product.objects.filter(workspace=ws).values_list("product_id", "updated_at"))
    second = _run(ws, FILE)
    assert first.created_count == 3 and second.created_count == 0
    assert second.unchanged_count == 3
    assert (
        dict(Product.objects.filter(workspace=ws).values_list("product_id", "updated_at"))
        == updated_at
    )


def test_the_mapping_needs_an_id_and_a_title_each_from_one_column(ws):
    actor = Actor(system="test")
    upload = SimpleUploadedFile("p.csv", b"SKU,Name,Other\nA,B,C\n", content_type="text/csv")
    job = import_job_create(workspace=ws, upload=upload, actor=actor, kind="products")
    with pytest.raises(InvalidInput) as refused:
        import_job_start(job=job, mapping={"SKU": "product_id"}, match_on="email", actor=actor)
    assert "mapping.title" in refused.value.fields
    with pytest.raises(InvalidInput) as refused:
        import_job_start(
            job=job,
            mapping={"SKU": "product_id", "Name": "title", "Other": "title"},
            match_on="email",
            actor=actor,
        )
    assert "mapping.Other" in refused.value.fields


def test_the_products_import_over_the_api(api, ws, outsider_api):
    upload = SimpleUploadedFile("p.csv", b"sku,title,price\nX-1,Dripper,25\n")
    created = api.post("/api/v1/imports/", {"file": upload, "kind": "products"}, format="multipart")
    assert created.status_code == 201, created.json()
    job = created.json()
    assert job["kind"] == "products"
    assert job["mapping"] == {"sku": "product_id", "title": "title", "price": "price"}
    assert outsider_api.get(f"/api/v1/imports/{job['id']}/").status_code == 404
