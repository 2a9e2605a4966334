"""Settings of background work: Celery and beat's schedule, the engine's and the
analytics' intervals, journeys, outgoing HTTP to user-given URLs (the SSRF guard) and
messaging (providers, DKIM, webhooks, claiming, retries, rate limits). Imported by
config/settings.py; every variable is listed in README.md ("Configuration")."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from kombu import Exchange, Queue

from config.environment import DEBUG, REDIS_URL, env

# --- Celery --------------------------------------------------------------------------
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Every worker reads both queues, turn about (config/queue.py: PROMPT_QUEUE).
CELERY_TASK_DEFAULT_QUEUE = "celery"
# Each bound by its own routing key: with Celery's defaults both would take key
# "celery", and every task would land in both queues.
CELERY_TASK_QUEUES = [
    Queue("celery", Exchange("celery", type="direct"), routing_key="celery"),
    Queue("prompt", Exchange("prompt", type="direct"), routing_key="prompt"),
]
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
    # Segment members: builds lost with their task, and segments whose rules drift
    # with time, rebuilt every SEGMENT_MEMBERS_REFRESH_SECONDS.
    "contacts.segment_members_refresh_due": {
        "task": "contacts.segment_members_refresh_due",
        "schedule": 60.0,
    },
    # Exported contact files are kept a day (contacts/services/export_jobs.py).
    "contacts.exports_forget": {"task": "contacts.exports_forget", "schedule": 3600.0},
    # Popularity and bought-together of each workspace with products, nightly.
    "catalog.recommendations_compute_all": {
        "task": "catalog.recommendations_compute_all",
        "schedule": env.float("CATALOG_RECS_EVERY_SECONDS", default=86400.0),
    },
    # Product feeds whose time has come (each feed's own every_hours).
    "catalog.feeds_fetch_due": {"task": "catalog.feeds_fetch_due", "schedule": 300.0},
    # Contacts whose data changed get their stage within about a second. Each run drains
    # for up to 5 s, so under sustained ingest runs would queue up faster than the
    # workers take them, ahead of every other task; one not started within 3 s is
    # dropped (the marks wait in the database for the next).
    "lifecycle.evaluate_marked": {
        "task": "lifecycle.evaluate_marked",
        "schedule": 1.0,
        "options": {"expire_seconds": 3},
    },
    # Survey answers that stood SCANNER_BURST_SECONDS reach events and journeys.
    "surveys.answers_settle": {
        "task": "surveys.answers_settle",
        "schedule": env.float("SURVEY_SETTLE_SECONDS", default=2.0),
    },
    # Loyalty tiers: downgrades (and any upgrade missed) once a day.
    "loyalty.tiers_review_due": {"task": "loyalty.tiers_review_due", "schedule": 86400.0},
    # Loyalty expiry: hourly, since the contacts' midnights fall at every hour.
    "loyalty.points_expire_due": {"task": "loyalty.points_expire_due", "schedule": 3600.0},
    # Birthday events (and their points): hourly, since the workspaces' days start at
    # every hour.
    "loyalty.birthdays_record_due": {"task": "loyalty.birthdays_record_due", "schedule": 3600.0},
    # Referral rewards whose refund hold has ended are paid within the hour.
    "loyalty.referrals_release_due": {
        "task": "loyalty.referrals_release_due",
        "schedule": 3600.0,
    },
    "lifecycle.dispatch_transitions": {
        "task": "lifecycle.dispatch_transitions",
        "schedule": 2.0,
        "options": {"expire_seconds": 4},
    },
    # Time-based stage rules: the contacts whose due moment has come (a boundary such
    # as "last purchase + 90 days" passed) are evaluated every LIFECYCLE_DUE_SECONDS.
    "lifecycle.evaluate_due": {
        "task": "lifecycle.evaluate_due",
        "schedule": env.float("LIFECYCLE_DUE_SECONDS", default=15.0),
    },
    # The safety net: each workspace is swept whole every LIFECYCLE_SWEEP_SECONDS; it
    # logs what it moved (lifecycle.safety_sweep_moved), which should be nothing.
    "lifecycle.sweep_due": {"task": "lifecycle.sweep_due", "schedule": 60.0},
    # Analytics: each workspace's rollups rebuilt from raw data, and its CLV models
    # refitted, every ANALYTICS_REBUILD_SECONDS / ANALYTICS_CLV_REFIT_SECONDS.
    "analytics.nightly_due": {"task": "analytics.nightly_due", "schedule": 300.0},
    # Drift: a sample of each workspace's summaries and rollups against the raw data,
    # every ANALYTICS_DRIFT_CHECK_SECONDS (analytics/services/drift.py).
    "analytics.drift_check_due": {"task": "analytics.drift_check_due", "schedule": 300.0},
    # Survey messages sent on the last two local days, for response rates
    # (analytics/rollups/surveys.py).
    "analytics.survey_sends_refresh": {
        "task": "analytics.survey_sends_refresh",
        "schedule": 60.0,
    },
    # The loyalty ledger's last two local days (analytics/rollups/loyalty.py).
    "analytics.loyalty_rollups_refresh": {
        "task": "analytics.loyalty_rollups_refresh",
        "schedule": 60.0,
    },
    # The CLV report's sums, for workspaces whose data changed (analytics/rollups/clv_summary.py).
    "analytics.clv_summaries_refresh": {
        "task": "analytics.clv_summaries_refresh",
        "schedule": 60.0,
    },
    # The default view of every report, computed ahead for workspaces in use.
    "analytics.figures_warm": {"task": "analytics.figures_warm", "schedule": 240.0},
    # Messaging: due outbox rows are claimed every second (messaging/services/dispatch.py).
    "messaging.dispatch_due": {"task": "messaging.dispatch_due", "schedule": 1.0},
    # Unverified sending domains are looked up again every few minutes for a week.
    "messaging.sending_domains_check_due": {
        "task": "messaging.sending_domains_check_due",
        "schedule": 300.0,
    },
    # Broadcasts: scheduled → sending → sent, A/B winners, stalled materialisations.
    "campaigns.broadcasts_advance": {"task": "campaigns.broadcasts_advance", "schedule": 5.0},
    # Journeys: due enrolments advanced (each run drains for up to JOURNEY_PUMP_SECONDS);
    # date triggers, and the segment triggers' safety scan of everyone, every 15 minutes
    # (segment joiners come from changes and due moments:
    # campaigns/journeys/segment_trigger.py).
    "campaigns.journeys_advance": {"task": "campaigns.journeys_advance", "schedule": 1.0},
    # Browse abandonment: the view sessions whose hours have passed, every 5 minutes.
    "campaigns.browse_scan": {"task": "campaigns.browse_scan", "schedule": 300.0},
    "campaigns.journeys_scan_dates": {
        "task": "campaigns.journeys_scan",
        "schedule": 900.0,
        "kwargs": {"dates": True},
    },
}
# Stored segment members of rules that drift with time (within_days, days in stage...)
# are re-evaluated this often: their staleness bound, plus a minute and one build.
SEGMENT_MEMBERS_REFRESH_SECONDS = env.int("SEGMENT_MEMBERS_REFRESH_SECONDS", default=300)
SEGMENT_MEMBERS_CHUNK = env.int("SEGMENT_MEMBERS_CHUNK", default=100_000)
# The safety sweep's interval (due moments move contacts in time: docs/rules.md).
LIFECYCLE_SWEEP_SECONDS = env.int("LIFECYCLE_SWEEP_SECONDS", default=24 * 3600)
# Due contacts evaluated per statement; and how soon a time-based condition of a later
# app that registered no due moments makes every contact due again.
LIFECYCLE_DUE_BATCH = env.int("LIFECYCLE_DUE_BATCH", default=20_000)
LIFECYCLE_DUE_FALLBACK_SECONDS = env.int("LIFECYCLE_DUE_FALLBACK_SECONDS", default=900)
# A due contact whose moment passed longer ago than this (the due runs stopped for a
# while) is replayed, so its moves are dated at their boundaries; one on time moves at
# the run, within LIFECYCLE_DUE_SECONDS of its boundary.
LIFECYCLE_DUE_LATE_SECONDS = env.int("LIFECYCLE_DUE_LATE_SECONDS", default=300)
# A sweep chunk (50,000 contacts) holding at least this many due contacts at once is
# evaluated by id range rather than by id list (0: never).
LIFECYCLE_DUE_DENSE_CHUNK = env.int("LIFECYCLE_DUE_DENSE_CHUNK", default=2500)
# Such chunks evaluated at once by a due run, each on its own database connection.
LIFECYCLE_DUE_PARALLEL = env.int("LIFECYCLE_DUE_PARALLEL", default=2)
# Contacts per engine batch: urgent news waits for the batch a worker is on, so the
# rest comes in short batches (bench-latency at 5,000 events a second, p95 from a
# first purchase to its stage: 2.0 s with 500, 1.4 s with 250, 0.9 and 1.6 s with
# 125; with 60 the per-batch cost outran the urgent news, 20 s). Urgent news itself
# is taken up to LIFECYCLE_MARK_URGENT_BATCH at once (with 500: 1.45 s): a burst goes
# in bigger, cheaper batches instead of piling up behind short ones.
LIFECYCLE_MARK_BATCH = env.int("LIFECYCLE_MARK_BATCH", default=125)
LIFECYCLE_MARK_URGENT_BATCH = env.int("LIFECYCLE_MARK_URGENT_BATCH", default=500)
# Stage moves dated more than this long ago (history brought in, a late event) are
# recorded and counted, but trigger no journey and no message: a history import never
# mails anyone about last year.
LIFECYCLE_ACT_ON_MOVES_WITHIN_SECONDS = env.int(
    "LIFECYCLE_ACT_ON_MOVES_WITHIN_SECONDS", default=24 * 3600
)
# The rule what-if reads a big workspace in this many id ranges at once, one database
# connection each (lifecycle/whatif.py); 1 reads it in one statement.
LIFECYCLE_WHATIF_THREADS = env.int("LIFECYCLE_WHATIF_THREADS", default=2)
# A claim of marks not finished in this long is given back (its worker died).
LIFECYCLE_MARK_LEASE_SECONDS = env.int("LIFECYCLE_MARK_LEASE_SECONDS", default=300)
# The engine claims urgent news first (a change that can move a contact's stage now or
# that a live journey waits for); once the oldest pending news has waited this long,
# urgent news gets at most half of each batch, so the rest keeps moving.
LIFECYCLE_MARK_MAX_WAIT_SECONDS = env.int("LIFECYCLE_MARK_MAX_WAIT_SECONDS", default=120)
# What makes ingested news urgent (the stage rules, live journeys, the loyalty
# programme) is read at most once in this many seconds per process and workspace: an
# edit reaches the engine's order of work within it (never what it computes).
MARK_URGENCY_CACHE_SECONDS = env.int("MARK_URGENCY_CACHE_SECONDS", default=15)
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
# Product feeds (catalog/services/feed.py): https only (http too when DEBUG, for a
# local file server), bounded in size and time over all redirects.
CATALOG_FEED_SCHEMES = ["https", "http"] if DEBUG else ["https"]
CATALOG_FEED_MAX_BYTES = env.int("CATALOG_FEED_MAX_BYTES", default=20 * 1024 * 1024)
CATALOG_FEED_TIMEOUT_SECONDS = env.float("CATALOG_FEED_TIMEOUT_SECONDS", default=120.0)

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
# Sending domains (messaging/domains.py): the DNS server ("host:port" or "host") that
# verification asks, empty for the system's resolver; and the include a domain's SPF
# record must name for our servers to be allowed to send for it.
DNS_RESOLVER = env.str("DNS_RESOLVER", default="")
if DNS_RESOLVER:
    _dns_host, _, _dns_port = DNS_RESOLVER.partition(":")
    try:
        ipaddress.ip_address(_dns_host)
        int(_dns_port or 53)
    except ValueError as exc:
        raise ImproperlyConfigured(f"DNS_RESOLVER must be 'ip' or 'ip:port': {exc}") from exc
SPF_INCLUDE = env.str("SPF_INCLUDE", default=f"spf.{MESSAGING_MAIL_DOMAIN}")
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
# One workspace's share of that: the broker hands tasks out in order, so this bounds how
# long another workspace's message waits behind a big broadcast (at ~2,000 sends a
# second, 4,000 is two seconds).
MESSAGING_WORKSPACE_MAX_IN_FLIGHT = env.int("MESSAGING_WORKSPACE_MAX_IN_FLIGHT", default=4000)
# A workspace with at most this many leased and claimed goes on the prompt queue.
MESSAGING_PROMPT_BACKLOG = env.int("MESSAGING_PROMPT_BACKLOG", default=500)
# Celery's Django fix-up closes the database connection after every task, so each task
# pays a new connection: a chunk of 500 (also the HTTP batch size) spreads that cost.
MESSAGING_TASK_CHUNK = env.int("MESSAGING_TASK_CHUNK", default=500)
MESSAGING_LEASE_SECONDS = env.int("MESSAGING_LEASE_SECONDS", default=300)
# Broadcasts: recipients inserted per transaction; a materialisation whose worker has
# not reported for this long is started again (it skips rows already in the outbox).
CAMPAIGNS_BROADCAST_CHUNK = env.int("CAMPAIGNS_BROADCAST_CHUNK", default=10000)
# Chunks of a broadcast's recipients inserted into the outbox at once, each on its own
# database connection (campaigns/broadcasts/delivery.py).
CAMPAIGNS_BROADCAST_PARALLEL = env.int("CAMPAIGNS_BROADCAST_PARALLEL", default=2)
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
# Surveys: how long after the first answer a tap on another score still changes it
# (then the answer is locked), and the hosted survey pages' limit per client address.
SURVEY_CHANGE_HOURS = env.int("SURVEY_CHANGE_HOURS", default=24)
SURVEY_PAGE_RATE_PER_MINUTE = env.int("SURVEY_PAGE_RATE_PER_MINUTE", default=60)
# The review widget's data (surveys/views_widget.py): requests per client address a minute.
REVIEW_WIDGET_RATE_PER_MINUTE = env.int("REVIEW_WIDGET_RATE_PER_MINUTE", default=120)
if SURVEY_CHANGE_HOURS < 0 or SURVEY_PAGE_RATE_PER_MINUTE < 1 or REVIEW_WIDGET_RATE_PER_MINUTE < 1:
    raise ImproperlyConfigured(
        "SURVEY_CHANGE_HOURS must be 0 or more, SURVEY_PAGE_RATE_PER_MINUTE and "
        "REVIEW_WIDGET_RATE_PER_MINUTE 1 or more."
    )

# Recommendations (catalog/services/recommendations.py): the purchases they are
# computed from, how many contacts must have bought two products for them to count as
# bought together, and how many pairs are kept per product.
CATALOG_RECS_WINDOW_DAYS = env.int("CATALOG_RECS_WINDOW_DAYS", default=365)
CATALOG_RECS_MIN_TOGETHER = env.int("CATALOG_RECS_MIN_TOGETHER", default=2)
CATALOG_RECS_PAIRS_PER_PRODUCT = env.int("CATALOG_RECS_PAIRS_PER_PRODUCT", default=50)
# Stored lists per contact and product (longer than the API's largest n, 50, so the
# serve-time filters still leave n); trending's window and baseline; new arrivals' age.
CATALOG_RECS_STORED = env.int("CATALOG_RECS_STORED", default=60)
CATALOG_RECS_TRENDING_DAYS = env.int("CATALOG_RECS_TRENDING_DAYS", default=7)
CATALOG_RECS_TRENDING_BASELINE_WEEKS = env.int("CATALOG_RECS_TRENDING_BASELINE_WEEKS", default=8)
CATALOG_RECS_NEW_DAYS = env.int("CATALOG_RECS_NEW_DAYS", default=30)
