"""WSGI entry point. The REST API is stateless, so requests under /api/ are served by a
handler without the dashboard's session, CSRF, login, messages and static-file
middleware (settings.API_MIDDLEWARE); everything else gets settings.MIDDLEWARE."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
dashboard = get_wsgi_application()

from config.api_handler import ApiWSGIHandler  # noqa: E402 - needs settings configured

api = ApiWSGIHandler()


def application(environ, start_response):
    if environ.get("PATH_INFO", "").startswith("/api/"):
        return api(environ, start_response)
    return dashboard(environ, start_response)
