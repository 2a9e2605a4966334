"""Stagecraft settings, read from the environment (django-environ).

Every variable is listed in README.md ("Configuration"). A bad or missing value that
production needs stops start-up with a message naming the variable.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
from csp.constants import NONE, SELF, UNSAFE_INLINE
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local development (the embedded servers, no DATABASE_URL) defaults to DEBUG on; any
# deployment names its database and so defaults to DEBUG off.
USING_EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
DEBUG = env.bool("DEBUG", default=USING_EMBEDDED_DATABASE)

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
        },
    },
]

# --- Database and broker -------------------------------------------------------------
# Unset: the embedded servers under ./.data (scripts/services.py starts them).
DATABASE_URL = env.str("DATABASE_URL", default="") or embedded.database_url()
DATABASES = {"default": env.db_url_config(DATABASE_URL)}
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

REDIS_URL = env.str("REDIS_URL", default="") or embedded.redis_url()


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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

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
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # The error shape and the status codes every operation can answer (config/openapi.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "config.openapi.add_error_responses",
    ],
}

# --- Celery --------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task unacknowledged for this long is handed to another worker (Redis visibility).
# Work whose task is lost sooner (a killed worker, a broker restart) is picked up again
# from the database by the periodic tasks below, never from broker state alone.
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
# A request that publishes a task (config/queue.py) does it on a connection of its own
# with these socket timeouts and no connection retries, so a hung broker cannot hang
# it. Workers and beat keep the options above: a worker whose ack timed out while
# the broker was frozen stopped consuming.
BROKER_SOCKET_TIMEOUT = env.float("BROKER_SOCKET_TIMEOUT", default=1.0)
# Synced into django-celery-beat's tables when beat starts (DatabaseScheduler); admins
# can change intervals in the admin.
CELERY_BEAT_SCHEDULE: dict[str, dict[str, object]] = {
    "contacts.import_resume_stalled": {
        "task": "contacts.import_resume_stalled",
        "schedule": env.float("IMPORT_RESUME_SECONDS", default=60.0),
    },
    # Contacts whose data changed get their stage within about a second.
    "lifecycle.evaluate_marked": {"task": "lifecycle.evaluate_marked", "schedule": 1.0},
    "lifecycle.dispatch_transitions": {
        "task": "lifecycle.dispatch_transitions",
        "schedule": 2.0,
    },
    # Time-based stage rules: each workspace is swept every LIFECYCLE_SWEEP_SECONDS.
    "lifecycle.sweep_due": {"task": "lifecycle.sweep_due", "schedule": 60.0},
    # Analytics: each workspace's rollups rebuilt from raw data, and its CLV models
    # refitted, every ANALYTICS_REBUILD_SECONDS / ANALYTICS_CLV_REFIT_SECONDS.
    "analytics.nightly_due": {"task": "analytics.nightly_due", "schedule": 300.0},
    # Drift: a sample of each workspace's summaries and rollups against the raw data,
    # every ANALYTICS_DRIFT_CHECK_SECONDS (analytics/services/drift.py).
    "analytics.drift_check_due": {"task": "analytics.drift_check_due", "schedule": 300.0},
    # The default view of every report, computed ahead for workspaces in use.
    "analytics.figures_warm": {"task": "analytics.figures_warm", "schedule": 240.0},
    # Messaging: due outbox rows are claimed every second (messaging/services/dispatch.py).
    "messaging.dispatch_due": {"task": "messaging.dispatch_due", "schedule": 1.0},
    # Broadcasts: scheduled → sending → sent, A/B winners, stalled materialisations.
    "campaigns.broadcasts_advance": {"task": "campaigns.broadcasts_advance", "schedule": 5.0},
    # Journeys: due enrolments advanced (each run drains for up to JOURNEY_PUMP_SECONDS);
    # segment triggers compared every minute, date triggers every 15 minutes.
    "campaigns.journeys_advance": {"task": "campaigns.journeys_advance", "schedule": 1.0},
    "campaigns.journeys_scan": {"task": "campaigns.journeys_scan", "schedule": 60.0},
    "campaigns.journeys_scan_dates": {
        "task": "campaigns.journeys_scan",
        "schedule": 900.0,
        "kwargs": {"dates": True},
    },
}
LIFECYCLE_SWEEP_SECONDS = env.int("LIFECYCLE_SWEEP_SECONDS", default=900)
LIFECYCLE_MARK_BATCH = env.int("LIFECYCLE_MARK_BATCH", default=2000)
# A claim of marks not finished in this long is given back (its worker died).
LIFECYCLE_MARK_LEASE_SECONDS = env.int("LIFECYCLE_MARK_LEASE_SECONDS", default=300)
# The same figures (report and parameters) are computed at most once in this many
# seconds; 0 computes them on every request.
ANALYTICS_CACHE_SECONDS = env.int("ANALYTICS_CACHE_SECONDS", default=300)
ANALYTICS_REBUILD_SECONDS = env.int("ANALYTICS_REBUILD_SECONDS", default=86400)
ANALYTICS_CLV_REFIT_SECONDS = env.int("ANALYTICS_CLV_REFIT_SECONDS", default=86400)
# A sample of each workspace's event summaries and rollups is compared with the raw
# data (and repaired) this often; ANALYTICS_DRIFT_SAMPLE contacts per check.
ANALYTICS_DRIFT_CHECK_SECONDS = env.int("ANALYTICS_DRIFT_CHECK_SECONDS", default=3600)
ANALYTICS_DRIFT_SAMPLE = env.int("ANALYTICS_DRIFT_SAMPLE", default=500)

# --- Journeys (campaigns) ---------------------------------------------------------------
JOURNEY_CLAIM_BATCH = env.int("JOURNEY_CLAIM_BATCH", default=1000)
JOURNEY_PUMP_SECONDS = env.float("JOURNEY_PUMP_SECONDS", default=20.0)
JOURNEY_WEBHOOK_TIMEOUT = env.float("JOURNEY_WEBHOOK_TIMEOUT", default=5.0)
JOURNEY_WEBHOOK_RETRY_SECONDS = env.float("JOURNEY_WEBHOOK_RETRY_SECONDS", default=60.0)

# --- Outgoing HTTP to user-given URLs (config/outbound.py: the SSRF guard) ------------
# Networks such calls may reach although they are not public: none in production;
# loopback when DEBUG (a local receiver). JOURNEY_WEBHOOK_ALLOW_PRIVATE=1 (the older
# switch) allows every address.
OUTBOUND_ALLOWED_NETWORKS = env.list(
    "OUTBOUND_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"] if DEBUG else []
)
if env.bool("JOURNEY_WEBHOOK_ALLOW_PRIVATE", default=False):
    OUTBOUND_ALLOWED_NETWORKS = ["0.0.0.0/0", "::/0"]
for _network in OUTBOUND_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError as exc:
        raise ImproperlyConfigured(f"OUTBOUND_ALLOWED_NETWORKS: {exc}") from exc
# DNS servers ("ip" or "ip:port") that resolve user-given host names; empty: the
# system resolver. Either way a name is resolved once and the checked address is the
# one connected to.
OUTBOUND_DNS_SERVERS = env.list("OUTBOUND_DNS_SERVERS", default=[])
# CA bundle that verifies https receivers (empty: certifi's).
OUTBOUND_CA_BUNDLE = env.str("OUTBOUND_CA_BUNDLE", default="")

# --- Messaging (campaigns) -------------------------------------------------------------
# Wall-clock bound of rendering one message's template (all its fields); a message
# whose render takes longer fails with that reason (messaging/sandbox.py).
TEMPLATE_RENDER_SECONDS = env.float("TEMPLATE_RENDER_SECONDS", default=2.0)
# Providers: email "sandbox" (recorded in the database, shown in the dashboard's outbox),
# "smtp" (Django's EMAIL_BACKEND: SMTP, or any django-anymail ESP) or "http" (a
# Postmark-style JSON batch API at EMAIL_HTTP_URL); SMS "sandbox" or "twilio".
MESSAGING_EMAIL_PROVIDER = env.str("MESSAGING_EMAIL_PROVIDER", default="sandbox")
MESSAGING_SMS_PROVIDER = env.str("MESSAGING_SMS_PROVIDER", default="sandbox")
if MESSAGING_EMAIL_PROVIDER not in {"sandbox", "smtp", "http"}:
    raise ImproperlyConfigured("MESSAGING_EMAIL_PROVIDER must be sandbox, smtp or http.")
if MESSAGING_SMS_PROVIDER not in {"sandbox", "twilio"}:
    raise ImproperlyConfigured("MESSAGING_SMS_PROVIDER must be sandbox or twilio.")
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.smtp.EmailBackend")
# What the "smtp" provider sends with (the test runner swaps EMAIL_BACKEND for locmem).
MESSAGING_EMAIL_BACKEND = EMAIL_BACKEND
EMAIL_HOST = env.str("EMAIL_HOST", default="127.0.0.1")
EMAIL_PORT = env.int("EMAIL_PORT", default=25)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", default=False)
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT", default=30)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Stagecraft <noreply@stagecraft.local>")
EMAIL_HTTP_URL = env.str("EMAIL_HTTP_URL", default="https://api.postmarkapp.com/email/batch")
EMAIL_HTTP_TOKEN = env.str("EMAIL_HTTP_TOKEN", default="")
# The domain in Message-ID headers and the mailto: unsubscribe address.
MESSAGING_MAIL_DOMAIN = env.str("MESSAGING_MAIL_DOMAIN", default="stagecraft.local")
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_BASE_URL = env.str("TWILIO_BASE_URL", default="https://api.twilio.com")
# DKIM signing of email sent by the "smtp" provider: all of domain, selector and key
# (PEM text, or a file) or none. A key that does not load stops start-up here.
DKIM_DOMAIN = env.str("DKIM_DOMAIN", default="")
DKIM_SELECTOR = env.str("DKIM_SELECTOR", default="")
DKIM_PRIVATE_KEY = env.str("DKIM_PRIVATE_KEY", default="", multiline=True)
DKIM_PRIVATE_KEY_FILE = env.str("DKIM_PRIVATE_KEY_FILE", default="")
if DKIM_PRIVATE_KEY_FILE and not DKIM_PRIVATE_KEY:
    try:
        DKIM_PRIVATE_KEY = Path(DKIM_PRIVATE_KEY_FILE).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(f"DKIM_PRIVATE_KEY_FILE cannot be read: {exc}") from exc
if DKIM_DOMAIN or DKIM_SELECTOR or DKIM_PRIVATE_KEY:
    if not (DKIM_DOMAIN and DKIM_SELECTOR and DKIM_PRIVATE_KEY):
        raise ImproperlyConfigured(
            "DKIM_DOMAIN, DKIM_SELECTOR and DKIM_PRIVATE_KEY (or DKIM_PRIVATE_KEY_FILE) "
            "must be set together."
        )
    import dkim.crypto

    try:
        dkim.crypto.parse_pem_private_key(DKIM_PRIVATE_KEY.encode())
    except Exception as exc:  # any failure means the key is unusable
        raise ImproperlyConfigured(
            f"DKIM_PRIVATE_KEY is not a usable RSA private key in PEM form: {exc}"
        ) from exc
# HMAC-SHA256 secret of the email provider's event webhook (X-Stagecraft-Signature).
EMAIL_WEBHOOK_SECRET = env.str("EMAIL_WEBHOOK_SECRET", default="")
if not DEBUG and MESSAGING_EMAIL_PROVIDER != "sandbox" and not EMAIL_WEBHOOK_SECRET:
    raise ImproperlyConfigured("EMAIL_WEBHOOK_SECRET must be set to send real email.")
# django-anymail: its settings as JSON (ESP keys...); its tracking webhooks at
# /anymail/<esp>/tracking/ need HTTP basic auth with ANYMAIL_WEBHOOK_SECRET ("user:pass").
ANYMAIL: dict[str, Any] = env.json("ANYMAIL", default={})
if ANYMAIL_WEBHOOK_SECRET := env.str("ANYMAIL_WEBHOOK_SECRET", default=""):
    ANYMAIL["WEBHOOK_SECRET"] = ANYMAIL_WEBHOOK_SECRET
if not DEBUG and EMAIL_BACKEND.startswith("anymail.") and not ANYMAIL.get("WEBHOOK_SECRET"):
    raise ImproperlyConfigured(
        'ANYMAIL_WEBHOOK_SECRET (or ANYMAIL["WEBHOOK_SECRET"]) must be set with an anymail '
        "email backend."
    )
if not DEBUG and MESSAGING_SMS_PROVIDER == "twilio" and not TWILIO_AUTH_TOKEN:
    raise ImproperlyConfigured("TWILIO_AUTH_TOKEN must be set to send SMS through Twilio.")
# Claiming and sending: rows per claim, ids per worker task, lease of a claimed row.
MESSAGING_CLAIM_BATCH = env.int("MESSAGING_CLAIM_BATCH", default=1000)
MESSAGING_DISPATCH_MAX = env.int("MESSAGING_DISPATCH_MAX", default=20000)
MESSAGING_MAX_IN_FLIGHT = env.int("MESSAGING_MAX_IN_FLIGHT", default=20000)
# Celery's Django fix-up closes the database connection after every task, so each task
# pays a new connection: a chunk of 500 (also the HTTP batch size) spreads that cost.
MESSAGING_TASK_CHUNK = env.int("MESSAGING_TASK_CHUNK", default=500)
MESSAGING_LEASE_SECONDS = env.int("MESSAGING_LEASE_SECONDS", default=300)
# Broadcasts: recipients inserted per transaction; a materialisation whose worker has
# not reported for this long is started again (it skips rows already in the outbox).
CAMPAIGNS_BROADCAST_CHUNK = env.int("CAMPAIGNS_BROADCAST_CHUNK", default=10000)
CAMPAIGNS_MATERIALISE_STALL_SECONDS = env.int("CAMPAIGNS_MATERIALISE_STALL_SECONDS", default=300)
# Quiet hours for SMS in the contact's local time when a workspace has set no policy
# ("HH:MM-HH:MM"; empty: none).
CAMPAIGNS_SMS_QUIET_HOURS = env.str("CAMPAIGNS_SMS_QUIET_HOURS", default="21:00-08:00")
MESSAGING_MAX_ATTEMPTS = env.int("MESSAGING_MAX_ATTEMPTS", default=8)
MESSAGING_RETRY_BASE_SECONDS = env.float("MESSAGING_RETRY_BASE_SECONDS", default=30.0)
MESSAGING_RETRY_MAX_SECONDS = env.float("MESSAGING_RETRY_MAX_SECONDS", default=3600.0)
# Send-rate limits (0 = none): per workspace a minute, per provider a second.
MESSAGING_WORKSPACE_RATE_PER_MINUTE = env.int("MESSAGING_WORKSPACE_RATE_PER_MINUTE", default=60000)
MESSAGING_EMAIL_RATE_PER_SECOND = env.int("MESSAGING_EMAIL_RATE_PER_SECOND", default=0)
MESSAGING_SMS_RATE_PER_SECOND = env.int("MESSAGING_SMS_RATE_PER_SECOND", default=0)
# Fault injection for the crash tests only: the worker SIGKILLs itself at this point of
# the send path once (a marker file next to it records that it did).
MESSAGING_CRASH_AT = env.str("MESSAGING_CRASH_AT", default="")
MESSAGING_CRASH_MARKER = env.str("MESSAGING_CRASH_MARKER", default="")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # axes logs every log-in at INFO; lockouts are logged (WARNING) by axes and by us.
    "loggers": {"django.db.backends": {"level": "INFO"}, "axes": {"level": "WARNING"}},
}
