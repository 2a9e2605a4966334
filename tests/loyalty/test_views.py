"""Settings → Loyalty: the programme form and the reward catalogue, with plain fields;
roles and workspaces are respected; every value shown is escaped."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import Programme, Reward, RewardCode, Tier

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
            "event_name": ["review", "", "survey_answered", "birthday"],
            "event_points": ["50", "", "20", "100"],
            "birthday_attribute": "born_on",
        },
    )
    assert saved.status_code == 302
    programme = Programme.objects.get(workspace=owner.workspace)
    assert programme.birthday_attribute == "born_on"
    assert programme.enabled and programme.enabled_at is not None
    assert programme.points_per_unit == Decimal("2.5") and programme.daily_cap == 500
    assert programme.event_points == {"review": 50, "survey_answered": 20, "birthday": 100}
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
            "birthday_attribute": "date of birth",
        },
    )
    assert page.status_code == 200
    body = page.content.decode()
    assert "a number from 0 to 10000" in body and "must be between 1 and" in body
    assert 'value="lots"' in body and 'value="date of birth"' in body
    assert "an attribute name: letters, digits and _" in body
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


def test_expiry_grace_and_tiers_are_set_in_plain_fields(owner, teammate):
    saved = owner.web.post(
        PAGE,
        {
            "enabled": "on",
            "points_per_unit": "1",
            "expiry_months": "12",
            "expiry_reminder_days": "14",
            "tier_grace_days": "30",
        },
    )
    assert saved.status_code == 302
    programme = Programme.objects.get(workspace=owner.workspace)
    assert (programme.expiry_months, programme.expiry_reminder_days) == (12, 14)
    assert programme.tier_grace_days == 30
    shown = owner.web.get(PAGE).content.decode()
    assert 'name="expiry_months" min="1" max="120" value="12"' in shown
    # Emptied: never expire, no reminder, no grace.
    owner.web.post(PAGE, {"enabled": "on", "points_per_unit": "1"})
    programme.refresh_from_db()
    assert (programme.expiry_months, programme.expiry_reminder_days) == (None, None)
    assert programme.tier_grace_days == 0
    bad = owner.web.post(
        PAGE, {"enabled": "on", "points_per_unit": "1", "expiry_months": "0"}
    ).content.decode()
    assert "must be between 1 and 120" in bad and 'value="0"' in bad

    tiers = PAGE + "tiers/"
    added = owner.web.post(
        tiers,
        {"name": "Gold <i>", "threshold": "500", "benefits": "Free shipping", "multiplier": "1.5"},
    )
    assert added.status_code == 302
    tier = Tier.objects.get(workspace=owner.workspace)
    assert tier.multiplier == Decimal("1.5") and tier.benefits == "Free shipping"
    shown = owner.web.get(PAGE).content.decode()
    assert "Gold &lt;i&gt;" in shown and "Free shipping" in shown
    refused = owner.web.post(tiers, {"name": "Gold <i>", "threshold": "x", "multiplier": "20"})
    text = refused.content.decode()
    assert refused.status_code == 200 and "must be a whole number" in text and "1 to 10" in text
    assert teammate.web.post(tiers, {"name": "T", "threshold": "1"}).status_code in (403, 404)
