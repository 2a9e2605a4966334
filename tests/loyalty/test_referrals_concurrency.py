"""Referrals under concurrency, with real PostgreSQL transactions in threads: the
monthly limit of one referrer holds when its friends convert at once, and one friend
offered by several engine runs at once converts once (the hook is told once)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from contacts.services.events import events_ingest
from loyalty.models import Referral, ReferralStatus
from loyalty.services import referrals_conversion
from loyalty.services.referrals import referral_code_ensure, referral_settings_update
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, purchase

pytestmark = pytest.mark.django_db(transaction=True)


def _race(workers: int, work: Callable[[int], None]) -> None:
    barrier = threading.Barrier(workers)
    failures: list[BaseException] = []

    def run(n: int) -> None:
        try:
            barrier.wait()
            with transaction.atomic():
                work(n)
        except BaseException as exc:  # reported by the assertion below
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def _friends(ws, api, count: int) -> list[Referral]:
    referral_settings_update(
        workspace=ws,
        data={"enabled": True, "referrer_points": 100, "friend_points": 10, "monthly_limit": 1},
        actor=ACTOR,
    )
    ann = ContactFactory.create(workspace=ws)
    code = referral_code_ensure(contact=ann)
    assert code is not None
    for n in range(count):
        body = {"email": f"friend{n}@example.net", "referred_by": code.code}
        assert api.post("/api/v1/contacts/", body, format="json").status_code == 201
    referrals = list(Referral.objects.order_by("id"))
    # The purchases are recorded; the conversion runs below, in the threads.
    result = events_ingest(workspace=ws, items=[purchase(r.referred, "30") for r in referrals])
    assert not result.errors
    return referrals


def test_monthly_limit_holds_when_friends_convert_at_once(ws, api):
    referrals = _friends(ws, api, 4)
    _race(4, lambda n: referrals_conversion.referrals_for_refreshed([referrals[n].referred_id]))
    rows = list(Referral.objects.all())
    assert all(r.status == ReferralStatus.HELD for r in rows)
    assert sum(r.referrer_rewarded for r in rows) == 1
    assert all(r.friend_rewarded for r in rows)


def test_one_friend_offered_at_once_converts_once(ws, api, monkeypatch):
    (referral,) = _friends(ws, api, 1)
    told: list[int] = []
    original = referrals_conversion.referrals_converted_notify

    def notify(converted: list[Referral]) -> None:
        told.extend(r.pk for r in converted)
        original(converted)

    monkeypatch.setattr(referrals_conversion, "referrals_converted_notify", notify)
    _race(4, lambda n: referrals_conversion.referrals_for_refreshed([referral.referred_id]))
    assert told == [referral.pk]
    referral.refresh_from_db()
    assert referral.status == ReferralStatus.HELD and referral.referrer_rewarded
