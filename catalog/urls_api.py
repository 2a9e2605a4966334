from django.urls import path

from catalog import api

app_name = "catalog_api"

urlpatterns = [
    path("products/", api.ProductListView.as_view(), name="api-products"),
    path("products/batch/", api.ProductBatchView.as_view(), name="api-products-batch"),
    path(
        "catalog/unknown-products/",
        api.UnknownProductListView.as_view(),
        name="api-unknown-products",
    ),
    path("products/<str:product_id>/", api.ProductDetailView.as_view(), name="api-product"),
]
