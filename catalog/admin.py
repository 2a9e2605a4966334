"""Admin for the catalogue, scoped to the staff user's workspaces. Products change
only through the services (API, CSV import), so they are read-only here."""

from __future__ import annotations

from django.contrib import admin

from catalog.models import Product, UnknownProduct
from workspaces.admin import ReadOnlyAdmin


@admin.register(Product)
class ProductAdmin(ReadOnlyAdmin):
    list_display = ["product_id", "title", "workspace", "price", "currency", "in_stock", "active"]
    list_filter = ["active", "in_stock"]
    search_fields = ["product_id__startswith", "title__icontains"]


@admin.register(UnknownProduct)
class UnknownProductAdmin(ReadOnlyAdmin):
    list_display = ["product_id", "workspace", "occurrences", "last_event", "last_seen_at"]
