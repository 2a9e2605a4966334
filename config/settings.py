"""Stagecraft settings, read from the environment (django-environ).

Every variable is listed in README.md ("Configuration"). A bad or missing value that
production needs stops start-up with a message naming the variable.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import embedded
from config.environment import BASE_DIR, DEBUG, REDIS_URL, env

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "dev-only-insecure-key-" + "x" * 40

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# The address users reach the app at; used in links inside emails and API responses.
BASE_URL = env.str("BASE_URL", default="http://127.0.0.1:8000").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "axes",
    "workspaces",
    "contacts",
    "lifecycle",
    "messaging",
    "catalog",
    "surveys",
    "loyalty",
    "campaigns",
    "anymail",
    "analytics",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.ApiGuardMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The REST API (config/wsgi.py routes /api/ to it) keeps what a stateless API needs;
# the CSP header too, for the HTML of /api/docs/.
API_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "config.middleware.ApiGuardMiddleware",
    "django.middleware.common.CommonMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "workspaces.context_processors.workspace",
            ],
            # The dashboard's filters (`when`, `money`, ...) on every page, unloaded.
            "builtins": ["workspaces.templatetags.stagecraft"],
        },
    },
]

# --- Database and broker -------------------------------------------------------------
# Unset: the embedded servers under ./.data (scripts/services.py starts them).
DATABASE_URL = env.str("DATABASE_URL", default="") or embedded.database_url()
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
# Django's PostgreSQL backend, told that tenant tables are keyed with their workspace
# (config/postgres/base.py).
DATABASES["default"]["ENGINE"] = "config.postgres"
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DATABASES["default"].setdefault("OPTIONS", {})
# Hot statements sent with server-side binding (config/db.py) are prepared after a few
# runs; Django's own queries bind on the client and are unaffected. Set
# DB_PREPARE_THRESHOLD to an empty value behind PgBouncer in transaction mode.
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = (
    env.int("DB_PREPARE_THRESHOLD", default=5)
    if env.str("DB_PREPARE_THRESHOLD", default="5")
    else None
)
# JIT compilation costs 50-200 ms on the dashboard's aggregate queries and wins
# nothing at their size. DB_OPTIONS="" leaves the server's settings alone (PgBouncer
# needs `ignore_startup_parameters = options` to pass startup options through).
if db_options := env.str("DB_OPTIONS", default="-c jit=off"):
    DATABASES["default"]["OPTIONS"]["options"] = db_options
# django-environ leaves a Unix socket folder (?host=/path) in OPTIONS; HOST is its place.
if "host" in DATABASES["default"]["OPTIONS"]:
    DATABASES["default"]["HOST"] = DATABASES["default"]["OPTIONS"].pop("host")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# The database is a Citus cluster (docs/scaling.md): queries that Citus runs only inside
# one shard (a recursive skip scan) take their distributed form (config/db.py).
DATABASE_CITUS = env.bool("DATABASE_CITUS", default=False)


def redis_url_with_db(url: str, db: int) -> str:
    """The same Redis server, another logical database."""
    parts = urlsplit(url)
    if parts.scheme == "redis+socket":
        return f"redis+socket://{parts.path}?virtual_host={db}"
    return urlunsplit(parts._replace(path=f"/{db}"))


def _redis_cache_location(url: str) -> str:
    """redis-py's form of a broker URL (Celery spells a Unix socket redis+socket://)."""
    if url.startswith("redis+socket://"):
        return "unix://" + url.removeprefix("redis+socket://").replace("virtual_host=", "db=")
    return url


# Redis on the request path (rate limit, cache) fails open (config/redis.py): each
# command waits at most REDIS_SOCKET_TIMEOUT seconds, and after a failure a process
# leaves Redis alone for REDIS_RETRY_SECONDS.
REDIS_SOCKET_TIMEOUT = env.float("REDIS_SOCKET_TIMEOUT", default=0.25)
REDIS_RETRY_SECONDS = env.float("REDIS_RETRY_SECONDS", default=10.0)
CACHE_OPTIONS: dict[str, Any] = {
    "socket_timeout": REDIS_SOCKET_TIMEOUT,
    "socket_connect_timeout": REDIS_SOCKET_TIMEOUT,
    "retry": Retry(NoBackoff(), 0),  # fail open at once (config/redis.py)
}
CACHES = {
    "default": {
        "BACKEND": "config.cache.FailOpenRedisCache",
        "LOCATION": _redis_cache_location(REDIS_URL),
        "KEY_PREFIX": "stagecraft",
        "OPTIONS": CACHE_OPTIONS,
    }
}

AUTH_USER_MODEL = "workspaces.User"
# django-axes first: it refuses a locked-out account or address before any password is
# hashed, and counts the failures of the backends after it.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "workspaces:login"
LOGIN_REDIRECT_URL = "workspaces:home"
LOGOUT_REDIRECT_URL = "workspaces:login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if not DEBUG
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG
# Uploaded CSV files for import jobs; shared by web and workers (a volume in compose).
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(BASE_DIR / ".data" / "media")))
MEDIA_URL = "/media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=10 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
IMPORT_MAX_FILE_BYTES = env.int("IMPORT_MAX_FILE_BYTES", default=200 * 1024 * 1024)
# A queued or running import without progress for this long is enqueued again (its
# task was never published, lost with the broker, or its worker died).
IMPORT_STALL_SECONDS = env.float("IMPORT_STALL_SECONDS", default=120.0)
# A contacts export of more rows than this is written by a worker while the page shows
# its progress; a smaller one streams straight from the request.
CONTACTS_EXPORT_INLINE_MAX = env.int("CONTACTS_EXPORT_INLINE_MAX", default=5000)

# --- Security: on by default whenever DEBUG is off ------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("SESSION_COOKIE_SECURE", default=not DEBUG)
CSRF_COOKIE_SECURE = env.bool("CSRF_COOKIE_SECURE", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
# Joining the browsers' HSTS preload list is for the domain's owner to decide (it is hard
# to leave); with it off, Django's reminder about it is silenced.
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp) on every response, the API's included: scripts
# only from this origin, never inline (no <script> blocks, no on*= attributes) and
# never eval, so a value that slipped past escaping still cannot run. Inline styles
# are allowed: ECharts' tooltips and Swagger UI set style attributes, and a style
# cannot run script. Images may come from any https: host because email previews
# (sandboxed srcdoc iframes, which inherit this policy) show the email's own images.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", "https:"],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}

# Login throttling (django-axes, counted in PostgreSQL): LOGIN_FAILURE_LIMIT wrong
# passwords for one account (from anywhere), or from one address (for any accounts),
# lock that account or address for LOGIN_COOLOFF_MINUTES; during the lock even the
# right password is refused. The dashboard's and the admin's login pages both count.
AXES_HANDLER = "axes.handlers.database.AxesDatabaseHandler"
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=10)
AXES_COOLOFF_TIME = dt.timedelta(minutes=env.float("LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
# A lock runs its cool-off from the moment it starts (the page says when it ends);
# attempts during it are refused without being counted.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_RESET_ON_SUCCESS = True
# Both login forms post the email as "username" (axes would default to the user model's
# USERNAME_FIELD, "email", and then see no name at all).
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "workspaces.login_throttle.login_username"
AXES_CLIENT_IP_CALLABLE = "workspaces.login_throttle.client_ip"
AXES_LOCKOUT_CALLABLE = "workspaces.login_throttle.lockout_response"
AXES_VERBOSE = False
# axes would also keep a row (address, browser) for every log-in, forever; the
# lockouts are in the audit log and the failures in AccessAttempt for the cool-off.
AXES_DISABLE_ACCESS_LOG = True
# How many proxies in front of the app append to X-Forwarded-For (a TLS proxy: 1). With
# 0 the address is the connection's: a client can write anything into the header.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# --- REST API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["workspaces.api_auth.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["workspaces.api_auth.HasWorkspace"],
    "DEFAULT_THROTTLE_CLASSES": ["workspaces.api_auth.ApiKeyRateThrottle"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    # JSON only (config/parsers.py); the CSV upload declares multipart itself.
    "DEFAULT_PARSER_CLASSES": ["config.parsers.StrictJSONParser"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "config.api.exception_handler",
    "UNAUTHENTICATED_USER": None,
    # The API takes JSON (multipart only for the CSV upload): so does its test client.
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# Requests per minute per API key unless the key sets its own limit.
API_KEY_RATE_LIMIT_PER_MINUTE = env.int("API_KEY_RATE_LIMIT_PER_MINUTE", default=6000)
API_BATCH_MAX_ITEMS = 1000

SPECTACULAR_SETTINGS = {
    "TITLE": "Stagecraft API",
    "DESCRIPTION": (
        "Contacts, events, lifecycle stages, segments, campaigns and analytics. "
        "Authenticate with `Authorization: Bearer <api key>`; errors are "
        '`{"error": {"code", "message", "fields"}}`.'
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    # Two choice sets of a field named "role": every role (members as they are) and the
    # roles an API key may grant (not owner).
    "ENUM_NAME_OVERRIDES": {
        "RoleEnum": "workspaces.models.Role",
        "GrantableRoleEnum": "workspaces.api_settings.API_ROLES",
        "ImportKindEnum": "contacts.serializers.IMPORT_KIND_CHOICES",
        "AnswerChannelEnum": "surveys.models.Channel",
        "ChannelEnum": "contacts.models.Channel",
        "BatchItemStatusEnum": "contacts.serializers.BATCH_ITEM_STATUSES",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {"ApiKey": {"type": "http", "scheme": "bearer"}},
    },
    "SECURITY": [{"ApiKey": []}],
    # Swagger UI from the drf-spectacular-sidecar package, served with our static
    # files: no CDN, a pinned version, and a page the CSP allows.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # No validator badge: it would send the schema's address to swagger.io.
    # Tags start folded: Swagger UI stops drawing after about 130 open operations, and
    # a list of tags is quicker to read than every operation at once.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None, "docExpansion": "none"},
    # The error shape and the status codes every operation can answer (config/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes logs every log-in at INFO; lockouts are logged (WARNING) by axes and by us.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}

# Background work (Celery and beat), journeys, outgoing HTTP and messaging.
from config.settings_work import *  # noqa: E402, F403
