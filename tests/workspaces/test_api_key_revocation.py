"""A revoked API key stops working in every process at once, not after the few
seconds other processes keep keys cached (workspaces/api_key_cache.py): a revocation
is published through Redis, and a process that cannot hear it does not use its cache."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from config.redis import get_redis
from tests.processes import ROOT, child_env
from workspaces import api_key_cache
from workspaces.models import ApiKey
from workspaces.services import api_key_authenticate

pytestmark = pytest.mark.django_db(transaction=True)

REVOKER = """
import sys
import django
django.setup()
from workspaces.models import ApiKey
from workspaces.services import SYSTEM, api_key_revoke
key = ApiKey.objects.get(pk=int(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
api_key_revoke(api_key=key, actor=SYSTEM)
print("revoked", flush=True)
"""


def _until(condition, seconds: float) -> float:
    start = time.monotonic()
    while not condition():
        assert time.monotonic() - start < seconds, "timed out"
        time.sleep(0.005)
    return time.monotonic() - start


def test_a_key_revoked_in_another_process_stops_working_here_at_once(owner):
    _until(lambda: api_key_cache.generation() is not None, 5)  # the listener subscribed
    revoker = subprocess.Popen(
        [sys.executable, "-c", REVOKER, str(owner.key.pk)],
        cwd=ROOT,
        env=child_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert revoker.stdout is not None and revoker.stdin is not None
        assert revoker.stdout.readline().strip() == "ready"
        # Here the key is read once, then served from this process's cache.
        assert api_key_authenticate(owner.secret) is not None
        with CaptureQueriesContext(connection) as queries:
            assert api_key_authenticate(owner.secret) is not None
        assert len(queries) == 0
        revoker.stdin.write("go\n")
        revoker.stdin.flush()
        assert revoker.stdout.readline().strip() == "revoked"
        # Well inside KEY_CACHE_SECONDS (5 s): the cache here heard of it.
        waited = _until(lambda: api_key_authenticate(owner.secret) is None, 0.5)
        assert waited < 0.5
    finally:
        revoker.wait(30)
    assert revoker.returncode == 0


def test_while_the_listener_is_cut_off_every_lookup_reads_the_database(owner):
    _until(lambda: api_key_cache.generation() is not None, 5)
    assert api_key_authenticate(owner.secret) is not None  # cached
    # Redis drops the subscription (a restart, a network cut): the cache is not used
    # until the listener has subscribed again, and it starts empty then.
    get_redis().execute_command("CLIENT", "KILL", "TYPE", "pubsub")
    _until(lambda: api_key_cache.generation() is None, 2)
    with CaptureQueriesContext(connection) as queries:
        assert api_key_authenticate(owner.secret) is not None
    assert len(queries) >= 1
    # A revocation nobody heard of (its message published while the listener was
    # away) is still seen.
    ApiKey.objects.filter(pk=owner.key.pk).update(revoked_at=timezone.now())
    assert api_key_authenticate(owner.secret) is None
    _until(lambda: api_key_cache.generation() is not None, 5)
    assert api_key_authenticate(owner.secret) is None
