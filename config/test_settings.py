"""Settings for the test suite: the same stack (PostgreSQL, Redis), faster hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production-" + "t" * 20)

from config.settings import *  # noqa: F403
from config.settings import CACHE_OPTIONS, REDIS_URL, _redis_cache_location, redis_url_with_db

DEBUG = False
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0
# Tests change data and read the figures at once; the cache has tests of its own.
ANALYTICS_CACHE_SECONDS = 0
# Tests edit stage rules and journeys and ingest at once.
MARK_URGENCY_CACHE_SECONDS = 0
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = True

# Tests use Redis databases of their own so that they never consume a running app's
# queue, and the cache (flushed before every test) apart from the broker: a flush must
# not take the broker's queue bindings and messages with it.
# Several checkouts testing at once on one Redis give each its own pair of databases
# (STAGECRAFT_TEST_REDIS_DB=N takes N for the broker and N+1 for the cache).
# pytest-xdist's workers (gw0, gw1, …; `make test` runs two) each take the next pair, and
# the Celery processes a test starts inherit the worker's name and so its pair.
_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
_TEST_REDIS_DB = int(os.environ.get("STAGECRAFT_TEST_REDIS_DB", "9")) + 2 * int(_XDIST_WORKER[2:])
TEST_REDIS_URL = redis_url_with_db(REDIS_URL, _TEST_REDIS_DB)
CELERY_BROKER_URL = TEST_REDIS_URL
CACHES = {
    "default": {
        "BACKEND": "config.cache.FailOpenRedisCache",
        "LOCATION": _redis_cache_location(redis_url_with_db(REDIS_URL, _TEST_REDIS_DB + 1)),
        "KEY_PREFIX": "stagecraft-test",
        "OPTIONS": CACHE_OPTIONS,
    }
}

# SMS quiet hours by default would make SMS tests depend on the time of day; tests of
# quiet hours set a policy (or this setting) themselves.
CAMPAIGNS_SMS_QUIET_HOURS = ""
# Journey webhook steps call stub servers on 127.0.0.1 (and only there: the SSRF
# tests count on the rest of 127.0.0.0/8 being refused).
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
JOURNEY_WEBHOOK_RETRY_SECONDS = 1.0

# Citus mode (docs/scaling.md): with CITUS_URL set, the suite runs against the cluster's
# coordinator, in the database CITUS_URL names (kept between runs: the cluster's
# extension and workers are set up there), and tests/conftest.py distributes the tables
# after migrating. Without it the Citus tests skip.
CITUS_URL = os.environ.get("CITUS_URL", "")
if CITUS_URL:
    DATABASES["default"] = {  # noqa: F405
        **DATABASES["default"],  # noqa: F405
        **env.db_url_config(CITUS_URL),  # noqa: F405
        "ENGINE": "config.postgres",  # as settings.py: tenant keys carry the workspace
    }
    DATABASES["default"]["TEST"] = {"NAME": DATABASES["default"]["NAME"]}  # noqa: F405
    DATABASE_CITUS = True
