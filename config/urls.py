from collections.abc import Callable
from functools import wraps
from typing import Any

from anymail import urls as anymail_urls
from anymail.utils import get_anymail_setting
from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import URLPattern, include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

api_v1 = [
    path("", include("workspaces.urls_api")),
    path("", include("contacts.urls_api")),
    path("", include("lifecycle.urls_api")),
    path("", include("analytics.urls_api")),
    path("", include("messaging.urls_api")),
    path("", include("campaigns.urls_api")),
    path("", include("catalog.urls_api")),
    path("", include("surveys.urls_api")),
    path("", include("loyalty.urls_api")),
    path("", include("loyalty.urls_api_referrals")),
]


def _anymail_secret_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """anymail accepts a webhook without credentials (with a warning) when no
    WEBHOOK_SECRET is set, and a message id is all it takes to mark a message bounced
    and suppress its contact. So without a secret the webhooks are not there (404);
    with one, anymail checks it (HTTP basic auth) on every request. Read per request,
    like anymail's own views do."""

    @wraps(view)  # keeps anymail's csrf_exempt
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not get_anymail_setting("webhook_secret", default=None):
            raise Http404("No email provider webhooks are configured.")
        return view(request, *args, **kwargs)

    return guarded


def favicon(request: HttpRequest) -> HttpResponse:
    """Pages without an icon link (the admin's) make browsers ask for /favicon.ico."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


anymail_webhooks = [
    URLPattern(p.pattern, _anymail_secret_required(p.callback), p.default_args, p.name)
    for p in anymail_urls.urlpatterns
    if isinstance(p, URLPattern)
]

urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # Swagger UI from drf-spectacular-sidecar; its start-up script is a request of its
    # own (?script), since the CSP refuses inline script.
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include(api_v1)),
    path("", include("messaging.urls_public")),
    path("", include("surveys.urls_public")),
    path("", include("loyalty.urls_public")),
    # django-anymail's per-ESP tracking webhooks (messaging/services/anymail_events.py),
    # only with ANYMAIL_WEBHOOK_SECRET set.
    path("anymail/", include((anymail_webhooks, anymail_urls.app_name))),
    path("", include("workspaces.urls")),
    path("w/<slug:slug>/", include("contacts.urls")),
    path("w/<slug:slug>/", include("lifecycle.urls")),
    path("w/<slug:slug>/", include("analytics.urls")),
    path("w/<slug:slug>/", include("messaging.urls")),
    path("w/<slug:slug>/", include("campaigns.urls")),
    path("w/<slug:slug>/", include("surveys.urls")),
    path("w/<slug:slug>/", include("loyalty.urls")),
    path("w/<slug:slug>/", include("loyalty.urls_referrals")),
]

# /api/ answers its errors in the API's JSON shape, the dashboard with its pages.
handler400 = "config.api.handler400"
handler403 = "config.api.handler403"
handler404 = "config.api.handler404"
handler500 = "config.api.handler500"
