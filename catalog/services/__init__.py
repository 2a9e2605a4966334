"""Every write the catalog app makes goes through these functions."""

from catalog.services.products import ProductResult, product_deactivate, products_upsert

__all__ = ["ProductResult", "product_deactivate", "products_upsert"]
