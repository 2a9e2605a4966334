"""The product catalogue: each workspace's products, keyed by the shop's own id."""

from __future__ import annotations

from django.contrib.postgres.fields import ArrayField
from django.db import models

from config.fields import TenantForeignKey, WorkspaceKey
from workspaces.models import Workspace

PRODUCT_ID_MAX = 200
TITLE_MAX = 500
URL_MAX = 2000
NAME_MAX = 200  # a brand, a category
CATEGORIES_MAX = 50
ATTRIBUTE_KEYS_MAX = 100
ATTRIBUTES_BYTES_MAX = 16 * 1024
PRICE_MAX_DIGITS = 14


class Product(models.Model):
    """A product the shop sells. `product_id` is the shop's SKU or product id, what
    events' line items and the API name it by; `id` stays internal. Deleting a product
    over the API deactivates it (`active`), so past events still name a known product."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    product_id = models.CharField(max_length=PRODUCT_ID_MAX)
    title = models.CharField(max_length=TITLE_MAX)
    url = models.CharField(max_length=URL_MAX, blank=True, default="")
    image_url = models.CharField(max_length=URL_MAX, blank=True, default="")
    price = models.DecimalField(
        max_digits=PRICE_MAX_DIGITS, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(max_length=3, blank=True, default="")
    categories = ArrayField(
        models.CharField(max_length=NAME_MAX), default=list, blank=True, size=CATEGORIES_MAX
    )
    brand = models.CharField(max_length=NAME_MAX, blank=True, default="")
    in_stock = models.BooleanField(default=True)
    quantity = models.IntegerField(null=True, blank=True)
    attributes = models.JSONField(default=dict, blank=True)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product_id"], name="catalog_product_id_unique"
            ),
            models.CheckConstraint(
                condition=models.Q(price__isnull=True) | models.Q(price__gte=0),
                name="catalog_product_price_not_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__isnull=True) | models.Q(quantity__gte=0),
                name="catalog_product_quantity_not_negative",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "updated_at", "id"]),
        ]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.title}"


class UnknownProduct(models.Model):
    """A product id that events named (line items, a product viewed) and the catalogue
    did not hold when they came: recorded, not refused, so the shop can see what its
    feed is missing. Reads leave out ids the catalogue holds now; an upsert of the
    product deletes its row."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    product_id = models.CharField(max_length=PRODUCT_ID_MAX)
    occurrences = models.BigIntegerField(default=0)
    last_event = models.CharField(max_length=200)
    first_seen_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product_id"], name="catalog_unknown_product_unique"
            ),
        ]

    def __str__(self) -> str:
        return self.product_id


# The stored recommendation tables (a row per contact with history, a million in a
# large workspace; ~15 pairs per product) are all replaced by each compute: no
# foreign-key constraints (their deferred checks locked every contact and product
# referenced, at commit) and no index but the unique one serving reads. A workspace's
# and a product's rows go with them (cascaded by Django; the workspace through the
# unique indexes, a deleted product, an admin's rare act, by a scan), an erased
# contact's through catalog's erasure hook; a contact deleted otherwise leaves rows
# nothing reads until the next compute replaces them.
def _workspace_key() -> models.ForeignKey:
    return models.ForeignKey(
        Workspace,
        on_delete=models.CASCADE,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )


def _contact_key() -> models.ForeignKey:
    return models.ForeignKey(
        "contacts.Contact",
        on_delete=models.DO_NOTHING,
        related_name="+",
        db_constraint=False,
        db_index=False,
    )


def _product_key() -> models.ForeignKey:
    return models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="+", db_constraint=False, db_index=False
    )


class ProductPopularity(models.Model):
    """How many contacts bought the product in the window, as of the last compute
    (catalog.services.recommendations): the popularity fallback's order."""

    workspace = _workspace_key()
    product = _product_key()
    buyers = models.IntegerField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product"], name="catalog_popularity_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "-buyers", "product"])]

    def __str__(self) -> str:
        return f"{self.product_id}: {self.buyers}"


class ProductPair(models.Model):
    """Bought together: of the contacts who bought `product`, `together` also bought
    `other`; `lift` is how much more often than chance (together * all buyers /
    (buyers of product * buyers of other)). The best pairs per product, as of the last
    compute."""

    workspace = _workspace_key()
    product = _product_key()
    other = _product_key()
    together = models.IntegerField()
    lift = models.FloatField()
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product", "other"], name="catalog_pair_unique"
            ),
        ]
        indexes = [models.Index(fields=["workspace", "product", "-lift"])]

    def __str__(self) -> str:
        return f"{self.product_id} + {self.other_id}: {self.lift:.2f}"


# Stored recommendations (catalog.services.recommendations writes, catalog.recommendations
# reads): ranked lists of product pks, each list longer than any one request's n so that
# the serve-time filters (stock, category, price band, already bought) still leave n.
KIND_FOR_YOU = "for_you"
KIND_POPULAR = "popular"
KIND_TRENDING = "trending"
KIND_NEW_ARRIVALS = "new_arrivals"
KIND_CO_VIEWED = "co_viewed"


class ContactRecommendation(models.Model):
    """A contact's ranked products of one kind (`for_you`), as of the last compute."""

    workspace = _workspace_key()
    contact = _contact_key()
    kind = models.CharField(max_length=20)
    items = ArrayField(models.BigIntegerField())  # catalog_product ids, best first
    scores = ArrayField(models.FloatField())
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact", "kind"], name="catalog_contact_recs_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} {self.kind}: {len(self.items)}"


class ContactPurchases(models.Model):
    """What a contact bought in the compute's window and when last (epoch seconds,
    parallel to `items`): what serving leaves out, or offers again for a consumable
    bought long enough ago, without reading the contact's events."""

    workspace = _workspace_key()
    contact = _contact_key()
    items = ArrayField(models.BigIntegerField())
    bought_at = ArrayField(models.BigIntegerField())
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact"], name="catalog_contact_purchases_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id}: {len(self.items)} bought"


class ProductRecommendation(models.Model):
    """A product's ranked neighbours of one kind (`co_viewed`)."""

    workspace = _workspace_key()
    product = _product_key()
    kind = models.CharField(max_length=20)
    items = ArrayField(models.BigIntegerField())
    scores = ArrayField(models.FloatField())
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "product", "kind"], name="catalog_product_recs_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_id} {self.kind}: {len(self.items)}"


class WorkspaceRecommendation(models.Model):
    """The workspace's ranked products of one kind for everyone (`popular`, `trending`,
    `new_arrivals`): also the fallback of a contact without a list of its own."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    items = ArrayField(models.BigIntegerField())
    scores = ArrayField(models.FloatField())
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind"], name="catalog_workspace_recs_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {len(self.items)}"


class FeedFormat(models.TextChoices):
    AUTO = "auto", "Tell from the answer"
    CSV = "csv", "CSV (the products import's columns)"
    JSON = "json", "JSON (a list of products, as the API takes them)"


class ProductFeed(models.Model):
    """A workspace's product feed: an https address a worker fetches every
    `every_hours` and upserts through the batch service. One per workspace."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    url = models.CharField(max_length=URL_MAX)
    format = models.CharField(max_length=8, choices=FeedFormat.choices, default=FeedFormat.AUTO)
    every_hours = models.PositiveIntegerField(default=24)
    enabled = models.BooleanField(default=True)
    next_due_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace"], name="catalog_feed_one_per_workspace"),
        ]
        indexes = [
            models.Index(
                fields=["next_due_at"], condition=models.Q(enabled=True), name="catalog_feed_due"
            )
        ]

    def __str__(self) -> str:
        return self.url


class FeedRunStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class ProductFeedRun(models.Model):
    """One fetch of a feed: what came of it, shown on the catalogue's settings page."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    feed = TenantForeignKey(ProductFeed, on_delete=models.CASCADE, related_name="runs")
    url = models.CharField(max_length=URL_MAX)
    status = models.CharField(max_length=10, choices=FeedRunStatus.choices)
    reason = models.CharField(max_length=500, blank=True, default="")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    bytes = models.BigIntegerField(default=0)
    created = models.IntegerField(default=0)
    updated = models.IntegerField(default=0)
    unchanged = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)
    # The first FEED_ERRORS_KEPT refusals: [{"row": n, "reason": "..."}].
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "feed", "-started_at"])]

    def __str__(self) -> str:
        return f"{self.feed_id} {self.started_at:%Y-%m-%d %H:%M} {self.status}"


class MessageProduct(models.Model):
    """What a message showed: one row per product a product, recommendations or cart
    block put in it, with the kind (product, cart, bought_together, popular) and the
    product's address, so a click on that address and a later purchase of the product
    are attributed to the message and the kind."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    message_id = models.BigIntegerField()  # messaging's Message; kept when it is purged
    product = TenantForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=40)
    url = models.CharField(max_length=URL_MAX, blank=True, default="")
    shown_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "message_id", "product", "kind"],
                name="catalog_message_product_unique",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "product", "shown_at"])]

    def __str__(self) -> str:
        return f"{self.message_id}: {self.product_id} ({self.kind})"
