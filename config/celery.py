"""The Celery app. Tasks live in each app's tasks.py; periodic ones are set up by
`manage.py setup_periodic_tasks` (django-celery-beat, in the database)."""

from __future__ import annotations

import os

from celery import Celery

from config.broker import use_for_redis_urls

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
use_for_redis_urls()

app = Celery("stagecraft")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
