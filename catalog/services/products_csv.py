"""Products from a CSV file: one product per row, run by the contacts import's
machinery (upload, mapping, checkpointed chunks of 1,000 rows, row-numbered errors,
progress) as the `products` kind, registered in catalog/apps.py. Each chunk is one
batch upsert (catalog.services.products)."""

from __future__ import annotations

import re
from typing import Any

from catalog.services.products import products_upsert
from catalog.validation import clean_product
from config.errors import InvalidInput
from config.spreadsheet import csv_value
from contacts.import_kinds import ChunkOutcome, ImportKind, Rows
from contacts.models import ImportJob
from workspaces.services import Actor

KIND = "products"
ATTRIBUTE = "attribute"
TARGETS = (
    ("product_id", "Product id (SKU)"),
    ("title", "Title"),
    ("url", "Product page address"),
    ("image_url", "Image address"),
    ("price", "Price"),
    ("currency", "Currency"),
    ("categories", "Categories"),
    ("brand", "Brand"),
    ("quantity", "Quantity in stock"),
    ("in_stock", "In stock"),
    ("active", "Active"),
    (ATTRIBUTE, "Custom attribute"),
)
_ALIASES = {
    "product_id": {"productid", "id", "sku", "itemid", "variantsku", "variantid"},
    "title": {"title", "name", "productname", "producttitle"},
    "url": {"url", "link", "producturl", "productlink", "page"},
    "image_url": {"imageurl", "image", "imagelink", "imagesrc", "picture", "photo"},
    "price": {"price", "unitprice", "variantprice"},
    "currency": {"currency", "currencycode"},
    "categories": {"categories", "category", "producttype", "type", "collection", "collections"},
    "brand": {"brand", "vendor", "manufacturer"},
    "quantity": {"quantity", "qty", "stock", "inventory", "inventoryquantity"},
    "in_stock": {"instock", "available", "availability"},
    "active": {"active", "published", "enabled"},
}
_YES = {"true", "yes", "y", "1", "in stock", "instock", "available"}
_NO = {"false", "no", "n", "0", "out of stock", "outofstock", "unavailable"}
_SINGLE = {target for target, _ in TARGETS} - {ATTRIBUTE}


def suggest_products_mapping(headers: list[str]) -> dict[str, str]:
    """Each header that names a target (or a known spelling of one), once."""
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for header in headers:
        key = re.sub(r"[^a-z0-9]", "", header.lower())
        target = next((t for t, names in _ALIASES.items() if key in names and t not in used), "")
        if target:
            used.add(target)
        mapping[header] = target
    return mapping


def validate_products_mapping(headers: list[str], mapping: Any, match_on: Any) -> dict[str, str]:
    """{"Column": target | ""}: product_id and title are needed; each target but
    `attribute` comes from one column. `match_on` does not apply (products are matched
    by product_id)."""
    if not isinstance(mapping, dict):
        raise InvalidInput("The mapping must be an object.", fields={"mapping": ["not an object"]})
    errors: dict[str, list[str]] = {}
    targets = dict(TARGETS)
    clean: dict[str, str] = {}
    seen: dict[str, str] = {}
    for column, target in mapping.items():
        path = f"mapping.{column}"
        if column not in headers:
            errors[path] = ["is not a column of the file"]
        elif target in ("", None):
            continue
        elif not isinstance(target, str) or target not in targets:
            errors[path] = [f"one of {', '.join(targets)}, or empty to ignore it"]
        elif target in seen and target in _SINGLE:
            errors[path] = [f"'{target}' is already mapped from '{seen[target]}'"]
        else:
            seen[target] = column
            clean[column] = target
    for needed in ("product_id", "title"):
        if needed not in seen:
            errors[f"mapping.{needed}"] = [f"map a column to {targets[needed]}"]
    if errors:
        raise InvalidInput("The column mapping is not valid.", fields=errors)
    return clean


def _flag(raw: str) -> Any:
    """yes/no in the spellings shops export; anything else is passed on as it is, for
    the product's checks to refuse."""
    low = raw.strip().lower()
    if low in _YES:
        return True
    if low in _NO:
        return False
    return raw


def _quantity(raw: str) -> Any:
    text = raw.strip()
    return int(text) if re.fullmatch(r"-?[0-9]{1,12}", text) else text


_CONVERT = {
    "categories": lambda raw: [c.strip() for c in re.split(r"[|;]", raw) if c.strip()],
    "quantity": _quantity,
    "in_stock": _flag,
    "active": _flag,
}


def product_data_from_row(values: dict[str, str], mapping: dict[str, str]) -> dict[str, Any]:
    """A row as the API's product object: empty cells are left out (their defaults)."""
    data: dict[str, Any] = {}
    attributes: dict[str, str] = {}
    for column, target in mapping.items():
        raw = values[column]
        if not raw:
            continue
        if target == ATTRIBUTE:
            attributes[column] = raw
        else:
            data[target] = _CONVERT.get(target, str)(raw)
    if attributes:
        data["attributes"] = attributes
    return data


def products_chunk_process(job: ImportJob, rows: Rows) -> ChunkOutcome:
    """Clean each row as the API cleans a product (refusals name the row and the
    column), then upsert the chunk's good rows as one batch."""
    workspace = job.workspace
    column_of = {target: column for column, target in job.mapping.items()}
    rejected: list[tuple[int, str]] = []
    cleaned: list[dict[str, Any]] = []
    row_numbers: list[int] = []
    for row_number, cells in rows:
        values = {c: csv_value(cell).strip() for c, cell in zip(job.headers, cells, strict=True)}
        data, errors = clean_product(
            product_data_from_row(values, job.mapping), default_currency=workspace.currency
        )
        if errors:
            field, reasons = next(iter(errors.items()))
            rejected.append((row_number, f"{column_of.get(field, field)}: {reasons[0]}"))
            continue
        cleaned.append(data)
        row_numbers.append(row_number)
    results = products_upsert(
        workspace=workspace,
        items=cleaned,
        actor=Actor(user=job.created_by, api_key=job.created_by_api_key, system="import"),
        source=f"import:{job.pk}",
    )
    written = 0
    for row_number, result in zip(row_numbers, results, strict=True):
        if result.duplicate_of is not None:
            first = row_numbers[result.duplicate_of]
            rejected.append((row_number, f"{column_of['product_id']}: is also row {first}"))
        elif result.status != "unchanged":
            written += 1
    unchanged = sum(1 for r in results if r.status == "unchanged")
    return ChunkOutcome(created=written, unchanged=unchanged, rejected=tuple(sorted(rejected)))


PRODUCTS_IMPORT = ImportKind(
    key=KIND,
    title="Products",
    help_text="One product per row: its id (SKU) and title, and any of its page and "
    "image addresses, price and currency, categories (separated by | or ;), brand, "
    "quantity, in stock and active (yes or no). Other columns can be kept as custom "
    "attributes, named by their header. A product already in the catalogue is replaced by its row.",
    targets=TARGETS,
    created_label="products created or updated",
    unchanged_label="already so",
    suggest_mapping=suggest_products_mapping,
    validate_mapping=validate_products_mapping,
    process_chunk=products_chunk_process,
    matches_contacts=False,
)
