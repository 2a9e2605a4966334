from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

api_v1 = [
    path("", include("workspaces.urls_api")),
    path("", include("contacts.urls_api")),
    path("", include("lifecycle.urls_api")),
    path("", include("analytics.urls_api")),
    path("", include("campaigns.urls_api")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(api_v1)),
    path("", include("campaigns.urls_public")),
    # django-anymail's per-ESP tracking webhooks (campaigns/services/anymail_events.py).
    path("anymail/", include("anymail.urls")),
    path("", include("workspaces.urls")),
    path("w/<slug:slug>/", include("contacts.urls")),
    path("w/<slug:slug>/", include("lifecycle.urls")),
    path("w/<slug:slug>/", include("analytics.urls")),
    path("w/<slug:slug>/", include("campaigns.urls")),
]

# /api/ answers its errors in the API's JSON shape, the dashboard with its pages.
handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
