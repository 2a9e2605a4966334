from django.urls import path

from catalog import api, api_recommendations

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
    path(
        "products/<str:product_id>/similar/",
        api_recommendations.ProductSimilarView.as_view(),
        name="api-product-similar",
    ),
    path(
        "contacts/<int:contact_id>/recommendations/",
        api_recommendations.ContactRecommendationsView.as_view(),
        name="api-contact-recommendations",
    ),
]
