"""Settings → Loyalty, edited in plain fields: tiers (what reaches them, edit, delete
with its members moved down), multiplier windows in the workspace's time zone, and
rewards (edit, delete). Roles and workspaces are respected; values are escaped."""

from __future__ import annotations

from decimal import Decimal

import pytest

from loyalty.models import ContactTier, Programme, Reward, Tier, TierChange
from loyalty.services import reward_create, reward_redeem, tier_create
from tests.factories import ContactFactory
from tests.loyalty.helpers import ACTOR, ingest, programme, purchase

pytestmark = pytest.mark.django_db

PAGE = "/w/acme/settings/loyalty/"
BASE = {"enabled": "on", "points_per_unit": "1"}


def test_tiers_by_spend_over_a_window_set_in_the_form(owner):
    saved = owner.web.post(PAGE, {**BASE, "tier_basis": "spend", "tier_window_days": "180"})
    assert saved.status_code == 302
    programme_row = Programme.objects.get(workspace=owner.workspace)
    assert (programme_row.tier_basis, programme_row.tier_window_days) == ("spend", 180)
    shown = owner.web.get(PAGE).content.decode()
    assert '<option value="spend" selected>' in shown and 'value="180"' in shown
    assert "USD spent in 180 days" in shown
    # An empty window box: the last 12 months.
    owner.web.post(PAGE, {**BASE, "tier_basis": "points", "tier_window_days": ""})
    programme_row.refresh_from_db()
    assert (programme_row.tier_basis, programme_row.tier_window_days) == ("points", 365)
    refused = owner.web.post(PAGE, {**BASE, "tier_basis": "visits", "tier_window_days": "0"})
    text = refused.content.decode()
    assert refused.status_code == 200 and "one of points, spend" in text
    assert "must be between 1 and 1095" in text


def test_multiplier_windows_are_typed_in_the_workspace_time_zone(owner):
    owner.workspace.time_zone = "Europe/Paris"
    owner.workspace.save(update_fields=["time_zone"])
    rows = {
        "window_name": ["Black <b>Friday</b>", "", ""],
        "window_factor": ["3", "", ""],
        "window_starts_at": ["2026-11-27T00:00", "", ""],
        "window_ends_at": ["2026-11-30T00:00", "", ""],
    }
    assert owner.web.post(PAGE, {**BASE, **rows}).status_code == 302
    windows = Programme.objects.get(workspace=owner.workspace).multipliers
    assert windows == [
        {
            "name": "Black <b>Friday</b>",
            "factor": "3.00",
            "starts_at": "2026-11-27T00:00:00+01:00",
            "ends_at": "2026-11-30T00:00:00+01:00",
        }
    ]
    shown = owner.web.get(PAGE).content.decode()
    assert 'value="2026-11-27T00:00"' in shown and "Black &lt;b&gt;Friday&lt;/b&gt;" in shown
    bad = {**rows, "window_factor": ["11", "", ""], "window_ends_at": ["2026-11-26T00:00", "", ""]}
    refused = owner.web.post(PAGE, {**BASE, **bad}).content.decode()
    assert "Window 1, factor: a number from 1 to 10" in refused
    assert "Window 1, ends: must be after starts_at" in refused
    assert 'value="11"' in refused  # the typed row is shown again
    # Emptied rows: no windows; a form without the rows leaves them alone.
    owner.web.post(PAGE, {**BASE, **{key: ["", "", ""] for key in rows}})
    assert Programme.objects.get(workspace=owner.workspace).multipliers == []


def test_a_tier_is_edited_and_a_refusal_is_shown_by_its_field(owner):
    tier = tier_create(
        workspace=owner.workspace, data={"name": "Gold", "threshold": 500}, actor=ACTOR
    )
    tier_create(workspace=owner.workspace, data={"name": "Silver", "threshold": 100}, actor=ACTOR)
    url = f"{PAGE}tiers/{tier.pk}/"
    edited = owner.web.post(
        url,
        {
            "name": "Gold <i>",
            "threshold": "400",
            "benefits": "Free <b>shipping</b>",
            "multiplier": "2",
        },
    )
    assert edited.status_code == 302
    tier.refresh_from_db()
    assert (tier.name, tier.threshold, tier.multiplier) == ("Gold <i>", 400, Decimal("2"))
    shown = owner.web.get(PAGE).content.decode()
    assert "Edit “Gold &lt;i&gt;”" in shown and "Free &lt;b&gt;shipping&lt;/b&gt;" in shown
    refused = owner.web.post(url, {"name": "Gold", "threshold": "100", "multiplier": "1"})
    text = refused.content.decode()
    assert refused.status_code == 200 and "taken" in text
    assert f'data-testid="tier-edit-{tier.pk}" open' in text
    tier.refresh_from_db()
    assert tier.threshold == 400
    bad = owner.web.post(url, {"name": "", "threshold": "lots", "multiplier": "1"}).content.decode()
    assert "must not be blank" in bad and "must be a whole number" in bad and 'value="lots"' in bad


def test_deleting_a_tier_moves_its_members_to_the_tier_below(owner):
    ws = owner.workspace
    tier_create(workspace=ws, data={"name": "Silver", "threshold": 100}, actor=ACTOR)
    gold = tier_create(workspace=ws, data={"name": "Gold", "threshold": 500}, actor=ACTOR)
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "600"))
    page = owner.web.get(PAGE).content.decode()
    assert "moves its 1 member at once to “Silver”, the tier below" in page
    done = owner.web.post(f"{PAGE}tiers/{gold.pk}/delete/", follow=True)
    assert "1 member moved to the tier below" in done.content.decode()
    assert not Tier.objects.filter(pk=gold.pk).exists()
    row = ContactTier.objects.select_related("tier").get(contact=contact)
    assert row.tier is not None and row.tier.name == "Silver"
    assert TierChange.objects.filter(contact=contact, cause="removed").count() == 1


def test_a_reward_is_edited_and_deleted_unless_redeemed(owner):
    ws = owner.workspace
    reward = reward_create(
        workspace=ws, data={"name": "Tote", "kind": "free_item", "points_cost": 50}, actor=ACTOR
    )
    url = f"{PAGE}rewards/{reward.pk}/"
    edited = owner.web.post(
        url,
        {
            "name": "Tote <bag>",
            "kind": "free_item",
            "description": "Canvas",
            "points_cost": "80",
            "stock": "10",
            "per_contact_limit": "",
        },
    )
    assert edited.status_code == 302
    reward.refresh_from_db()
    assert (reward.name, reward.points_cost, reward.stock, reward.per_contact_limit) == (
        "Tote <bag>",
        80,
        10,
        None,
    )
    refused = owner.web.post(
        url, {"name": "Tote", "kind": "gift", "points_cost": "0"}
    ).content.decode()
    assert f'data-testid="reward-edit-{reward.pk}" open' in refused and "must be" in refused
    # Redeemed: it stays (switch it off instead).
    programme(ws)
    contact = ContactFactory.create(workspace=ws)
    ingest(ws, purchase(contact, "100"))
    reward_redeem(
        contact=contact, data={"reward_id": reward.pk, "idempotency_key": "k"}, actor=ACTOR
    )
    kept = owner.web.post(f"{url}delete/", follow=True).content.decode()
    assert "switch it off instead" in kept and Reward.objects.filter(pk=reward.pk).exists()
    spare = reward_create(
        workspace=ws, data={"name": "Mug", "kind": "custom", "points_cost": 5}, actor=ACTOR
    )
    assert owner.web.post(f"{PAGE}rewards/{spare.pk}/delete/").status_code == 302
    assert not Reward.objects.filter(pk=spare.pk).exists()


def test_viewers_cannot_edit_and_outsiders_get_404s(owner, teammate, outsider):
    ws = owner.workspace
    tier = tier_create(workspace=ws, data={"name": "Gold", "threshold": 500}, actor=ACTOR)
    reward = reward_create(
        workspace=ws, data={"name": "Tote", "kind": "free_item", "points_cost": 50}, actor=ACTOR
    )
    page = teammate.web.get(PAGE).content.decode()
    assert f"tier-edit-{tier.pk}" not in page and f"reward-edit-{reward.pk}" not in page
    for url in (
        f"{PAGE}tiers/{tier.pk}/",
        f"{PAGE}tiers/{tier.pk}/delete/",
        f"{PAGE}rewards/{reward.pk}/",
        f"{PAGE}rewards/{reward.pk}/delete/",
    ):
        assert teammate.web.post(url, {"name": "x", "threshold": "1"}).status_code == 403
        assert outsider.web.post(url.replace("acme", "globex"), {"name": "x"}).status_code == 404
    assert (
        Tier.objects.get(pk=tier.pk).name == "Gold" and Reward.objects.filter(pk=reward.pk).exists()
    )
