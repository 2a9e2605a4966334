"""A WSGI handler for the REST API with its own, shorter middleware list."""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


class ApiWSGIHandler(WSGIHandler):
    """Django's handler, built from settings.API_MIDDLEWARE instead of MIDDLEWARE.
    BaseHandler.load_middleware reads settings.MIDDLEWARE, so it is pointed at the API
    list while this handler is built (once, at start-up) and restored after."""

    def load_middleware(self, is_async: bool = False) -> None:
        full = settings.MIDDLEWARE
        try:
            settings.MIDDLEWARE = settings.API_MIDDLEWARE
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = full
