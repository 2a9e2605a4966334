"""What every settings module reads first: the project folder, the environment (and a
.env file beside manage.py), whether the embedded servers are in use, DEBUG, and
where Redis is."""

from __future__ import annotations

from pathlib import Path

import environ

from config import embedded

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# Local development (the embedded servers, no DATABASE_URL) defaults to DEBUG on; any
# deployment names its database and so defaults to DEBUG off.
USING_EMBEDDED_DATABASE = not env.str("DATABASE_URL", default="")
DEBUG = env.bool("DEBUG", default=USING_EMBEDDED_DATABASE)

REDIS_URL = env.str("REDIS_URL", default="") or embedded.redis_url()
