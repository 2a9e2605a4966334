"""gunicorn settings, kept for `make bench-ingest`, which measures gunicorn beside
granian (the server production, `make run` and the other benchmarks use:
config/server.py). Any of them can be overridden on the command line or with GUNICORN_CMD_ARGS."""

import gc
import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", f"0.0.0.0:{os.environ.get('PORT', '8000')}")
# Threads overlap the waits on PostgreSQL and Redis; processes use the cores.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
threads = int(os.environ.get("WEB_THREADS", "4"))
keepalive = 30
# The longest request line gunicorn reads (its maximum); the app answers URLs over 8000
# bytes under /api/ with its own 414 in the API error shape (config/middleware.py).
limit_request_line = 8190
timeout = 60
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-")
# Load the app once in the master, then fork: workers share its memory pages.
preload_app = True


def post_fork(server, worker):
    # Objects that exist at fork live until exit; freezing them keeps the garbage
    # collector from scanning them again in every worker (as Instagram does).
    gc.freeze()
