"""Every write the catalog app makes goes through these functions."""

from catalog.services.products import ProductResult, product_deactivate, products_upsert
from catalog.services.recommendations import Computed, recommendations_compute

__all__ = [
    "Computed",
    "ProductResult",
    "product_deactivate",
    "products_upsert",
    "recommendations_compute",
]
