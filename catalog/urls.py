from django.urls import path

from catalog import views, views_search

app_name = "catalog"

urlpatterns = [
    path("catalogue/", views.product_list, name="products"),
    path("catalogue/unknown/", views.unknown_list, name="unknown"),
    path("catalogue/feed/", views.feed_settings, name="feed"),
    path("catalogue/search/", views_search.product_search, name="search"),
    path("catalogue/p/<str:product_id>/", views.product_detail, name="product"),
]
