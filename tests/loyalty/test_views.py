"""Settings → Loyalty: the programme form and the reward catalogue, with plain fields;
roles and workspaces are respected; every value shown is escaped."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import Programme, Reward, RewardCode

pytestmark = pytest.mark.django_db

PAGE = "/w/acme/settings/loyalty/"


def test_the_owner_sets_up_the_programme(owner):
    page = owner.web.get(PAGE)
    assert page.status_code == 200 and b"Loyalty programme" in page.content
    saved = owner.web.post(
        PAGE,
        {
            "enabled": "on",
            "points_per_unit": "2.5",
            "daily_cap": "500",
            "event_name": ["review", "", "survey_answered"],
            "event_points": ["50", "", "20"],
        },
    )
    assert saved.status_code == 302
    programme = Programme.objects.get(workspace=owner.workspace)
    assert programme.enabled and programme.enabled_at is not None
    assert programme.points_per_unit == Decimal("2.5") and programme.daily_cap == 500
    assert programme.event_points == {"review": 50, "survey_answered": 20}
    shown = owner.web.get(PAGE).content.decode()
    assert 'value="review"' in shown and 'value="2.50"' in shown


def test_a_bad_value_is_shown_next_to_the_form_and_nothing_is_saved(owner):
    page = owner.web.post(
        PAGE,
        {
            "enabled": "on",
            "points_per_unit": "lots",
            "event_name": ["review"],
            "event_points": ["0"],
        },
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "a number from 0 to 10000" in body and "must be between 1 and" in body
    assert 'value="lots"' in body
    assert not Programme.objects.filter(workspace=owner.workspace, enabled=True).exists()


def test_rewards_codes_and_switching_off(owner):
    added = owner.web.post(
        f"{PAGE}rewards/",
        {"name": "<b>10% off</b>", "kind": "discount_code", "points_cost": "500", "stock": ""},
    )
    assert added.status_code == 302
    reward = Reward.objects.get()
    assert reward.stock is None and reward.points_cost == 500
    owner.web.post(f"{PAGE}rewards/{reward.pk}/codes/", {"generate": "5", "codes": ""})
    owner.web.post(f"{PAGE}rewards/{reward.pk}/codes/", {"codes": "SHOP-1\nSHOP-2\n\n"})
    assert RewardCode.objects.filter(reward=reward).count() == 7
    owner.web.post(f"{PAGE}rewards/{reward.pk}/switch/")
    reward.refresh_from_db()
    assert not reward.active
    body = owner.web.get(PAGE).content.decode()
    assert "&lt;b&gt;10% off&lt;/b&gt;" in body and "<b>10% off</b>" not in body
    refused = owner.web.post(f"{PAGE}rewards/", {"name": "", "kind": "custom", "points_cost": "0"})
    assert refused.status_code == 200 and "must not be blank" in refused.content.decode()


def test_a_viewer_reads_but_cannot_change_and_an_outsider_sees_nothing(owner, teammate, outsider):
    assert teammate.web.get(PAGE).status_code == 200
    assert teammate.web.post(PAGE, {"enabled": "on", "points_per_unit": "1"}).status_code == 403
    assert teammate.web.post(f"{PAGE}rewards/", {"name": "x"}).status_code == 403
    assert outsider.web.get(PAGE).status_code == 404
    assert not Programme.objects.exists() and not Reward.objects.exists()
