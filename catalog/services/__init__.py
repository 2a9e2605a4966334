"""Every write the catalog app makes goes through these functions."""

from catalog.services.feed import (
    feed_fetch_now,
    feed_run,
    feed_save,
    feed_url_error,
    feeds_claim_due,
)
from catalog.services.products import ProductResult, product_deactivate, products_upsert
from catalog.services.recommendations import Computed, recommendations_compute

__all__ = [
    "Computed",
    "ProductResult",
    "feed_fetch_now",
    "feed_run",
    "feed_save",
    "feed_url_error",
    "feeds_claim_due",
    "product_deactivate",
    "products_upsert",
    "recommendations_compute",
]
