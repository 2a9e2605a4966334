"""The product feed: a workspace gives the address of a CSV file (the products
import's columns) or a JSON list of products; a worker fetches it on its schedule and
upserts it through the batch service, recording each run.

The fetch goes through config/outbound.py, the SSRF guard the journey webhook step
uses: the host is resolved once, every address must be public (or in
OUTBOUND_ALLOWED_NETWORKS, which only tests and local development set), and the
connection goes to the address that was checked. Redirects are followed here, at most
FEED_REDIRECTS_MAX, each new address checked the same way. The answer is read in
chunks and the fetch aborted past CATALOG_FEED_MAX_BYTES or CATALOG_FEED_TIMEOUT_SECONDS
(over all the redirects)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from catalog.models import FeedFormat, FeedRunStatus, ProductFeed, ProductFeedRun
from catalog.services.products import products_upsert
from catalog.services.products_csv import product_data_from_row, suggest_products_mapping
from catalog.validation import clean_product
from config import outbound
from config.errors import InvalidInput
from config.spreadsheet import csv_value
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record

FEED_REDIRECTS_MAX = 5
FEED_ERRORS_KEPT = 100
FEED_CHUNK = 1000
EVERY_HOURS_MIN, EVERY_HOURS_MAX = 1, 168
_REDIRECTS = {301, 302, 303, 307, 308}


class FeedError(Exception):
    """The run failed as a whole; `reason` is stored and shown."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def feed_url_error(url: str) -> str:
    """Why this address cannot be a feed ("" if it can): https (unless the setting
    allows http, for local development), public, resolvable."""
    if not url:
        return "is required"
    scheme = urlsplit(url).scheme
    if scheme not in settings.CATALOG_FEED_SCHEMES:
        return f"must be an {' or '.join(settings.CATALOG_FEED_SCHEMES)} address"
    return outbound.url_error(url)


@transaction.atomic
def feed_save(
    *, workspace: Workspace, url: str, format: str, every_hours: Any, enabled: bool, actor: Actor
) -> ProductFeed:
    """Create or change the workspace's feed; a new or changed address is due now."""
    url = (url or "").strip()
    errors: dict[str, list[str]] = {}
    reason = feed_url_error(url)
    if reason:
        errors["url"] = [reason]
    if format not in FeedFormat.values:
        errors["format"] = [f"one of {', '.join(FeedFormat.values)}"]
    try:
        hours = int(every_hours)
    except (TypeError, ValueError):
        hours = 0
    if not EVERY_HOURS_MIN <= hours <= EVERY_HOURS_MAX:
        errors["every_hours"] = [f"a whole number of hours from {EVERY_HOURS_MIN} to 168"]
    if errors:
        raise InvalidInput("The feed settings are not valid.", fields=errors)
    now = timezone.now()
    feed = ProductFeed.objects.select_for_update().filter(workspace=workspace).first()
    if feed is None:
        feed = ProductFeed(workspace=workspace, next_due_at=now)
    elif feed.url != url or (enabled and not feed.enabled):
        feed.next_due_at = now
    feed.url, feed.format, feed.every_hours, feed.enabled = url, format, hours, enabled
    feed.updated_at = now
    feed.full_clean()
    feed.save()
    audit_record(
        workspace=workspace,
        action="product_feed.saved",
        actor=actor,
        object_type="product_feed",
        object_id=feed.pk,
        details={"url": url, "every_hours": hours, "enabled": enabled},
    )
    return feed


def feed_fetch_now(*, feed: ProductFeed) -> None:
    """Make the feed due at once (the dashboard's "Fetch now"); beat picks it up."""
    ProductFeed.objects.filter(pk=feed.pk).update(next_due_at=timezone.now())


def feeds_claim_due(*, now: dt.datetime | None = None, limit: int = 100) -> list[int]:
    """Ids of the enabled feeds that are due, each moved to its next time in the same
    transaction (SKIP LOCKED: two beats never claim one feed). A workspace has one feed:
    the workspaces with a due feed are read first, then each claimed with its workspace
    in the claim, which Citus routes to one shard (issue 20)."""
    now = now or timezone.now()
    due = ProductFeed.objects.filter(enabled=True, next_due_at__lte=now).order_by("next_due_at")
    claimed: list[int] = []
    for workspace_id in list(due.values_list("workspace_id", flat=True)[:limit]):
        with transaction.atomic():
            feed = (
                ProductFeed.objects.select_for_update(skip_locked=True)
                .filter(workspace_id=workspace_id, enabled=True, next_due_at__lte=now)
                .first()
            )
            if feed is None:
                continue
            feed.next_due_at = now + dt.timedelta(hours=feed.every_hours)
            feed.save(update_fields=["next_due_at"])
            claimed.append(feed.pk)
    return claimed


def _download(url: str) -> bytes:
    deadline = time.monotonic() + settings.CATALOG_FEED_TIMEOUT_SECONDS
    for _ in range(FEED_REDIRECTS_MAX + 1):
        reason = feed_url_error(url)
        if reason:
            raise FeedError(f"{url}: {reason}")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FeedError(f"no complete answer within {settings.CATALOG_FEED_TIMEOUT_SECONDS} s")
        try:
            answer = outbound.request(
                "GET",
                url,
                headers={"Accept": "text/csv, application/json"},
                timeout=remaining,
                max_bytes=settings.CATALOG_FEED_MAX_BYTES,
            )
        except (outbound.OutboundRefused, outbound.OutboundFailed) as exc:
            raise FeedError(exc.reason) from None
        if answer.status in _REDIRECTS:
            location = answer.headers.get("Location") or answer.headers.get("location")
            if not location:
                raise FeedError(f"the server answered {answer.status} without a Location")
            url = urljoin(url, location)
            continue
        if not 200 <= answer.status < 300:
            raise FeedError(f"the server answered {answer.status}")
        return answer.body
    raise FeedError(f"more than {FEED_REDIRECTS_MAX} redirects")


def _csv_items(text: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """Rows as product objects; a header no column name matches is kept as a custom
    attribute, as the import's "Custom attribute" target would."""
    reader = csv.reader(io.StringIO(text))
    headers = [h.strip() for h in next(reader, [])]
    mapping = {h: t or "attribute" for h, t in suggest_products_mapping(headers).items() if h}
    targets = set(mapping.values())
    if not {"product_id", "title"} <= targets:
        raise FeedError("the CSV needs a product id (SKU) column and a title column")
    for number, cells in enumerate(reader, start=2):
        if not any(cell.strip() for cell in cells):
            continue
        cells = (cells + [""] * len(headers))[: len(headers)]
        values = {h: csv_value(c).strip() for h, c in zip(headers, cells, strict=True) if h}
        yield number, product_data_from_row(values, mapping)


def _json_items(data: Any) -> Iterator[tuple[int, Any]]:
    if isinstance(data, dict) and isinstance(data.get("products"), list):
        data = data["products"]
    if not isinstance(data, list):
        raise FeedError('the JSON must be a list of products or {"products": [...]}')
    yield from enumerate(data, start=1)


def _items(body: bytes, format: str, content_type: str = "") -> Iterator[tuple[int, Any]]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FeedError("the feed is not UTF-8 text") from None
    is_json = format == FeedFormat.JSON or (
        format == FeedFormat.AUTO and text.lstrip()[:1] in ("[", "{")
    )
    if not is_json:
        return _csv_items(text)
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise FeedError(f"the JSON does not parse: {exc}") from None
    return _json_items(data)


def _upsert(run: ProductFeedRun, workspace: Workspace, items: Iterator[tuple[int, Any]]) -> None:
    errors: list[dict[str, Any]] = []
    counts = {"created": 0, "updated": 0, "unchanged": 0}
    actor = Actor(system="feed")
    chunk: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        results = products_upsert(
            workspace=workspace, items=[d for _, d in chunk], actor=actor, source=f"feed:{run.pk}"
        )
        for (number, _), result in zip(chunk, results, strict=True):
            if result.status == "error":
                run.rejected += 1
                first = chunk[result.duplicate_of or 0][0]
                errors.append({"row": number, "reason": f"product_id: is also row {first}"})
            else:
                counts[result.status] += 1
        chunk.clear()

    for number, raw in items:
        data, problems = clean_product(raw, default_currency=workspace.currency)
        if problems:
            run.rejected += 1
            field, reasons = next(iter(problems.items()))
            errors.append({"row": number, "reason": f"{field}: {reasons[0]}"})
            continue
        chunk.append((number, data))
        if len(chunk) >= FEED_CHUNK:
            flush()
    if chunk:
        flush()
    run.created, run.updated, run.unchanged = (
        counts["created"],
        counts["updated"],
        counts["unchanged"],
    )
    run.errors = errors[:FEED_ERRORS_KEPT]


def feed_run(*, feed: ProductFeed) -> ProductFeedRun:
    """Fetch the feed once and upsert what it holds; the run records the outcome (a
    failed fetch changes no product). Each chunk of 1,000 is its own transaction, so a
    run that dies midway has written whole chunks, and a repeat writes them again as
    "unchanged"."""
    run = ProductFeedRun.objects.create(
        workspace_id=feed.workspace_id,
        feed=feed,
        url=feed.url,
        status=FeedRunStatus.RUNNING,
        started_at=timezone.now(),
    )
    try:
        body = _download(feed.url)
        run.bytes = len(body)
        _upsert(run, feed.workspace, _items(body, feed.format))
        run.status = FeedRunStatus.SUCCEEDED
    except FeedError as exc:
        run.status, run.reason = FeedRunStatus.FAILED, exc.reason[:500]
    except csv.Error as exc:
        run.status, run.reason = FeedRunStatus.FAILED, f"the CSV does not parse: {exc}"[:500]
    run.finished_at = timezone.now()
    run.save()
    return run
