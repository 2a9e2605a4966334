"""The referral programme: its settings, each contact's code, the landing page's
visits and the referrals (who brought whom, and what became of it). docs/loyalty.md
"Referrals" says how a referral moves from pending to paid."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from loyalty.models.rewards import Reward
from workspaces.models import Workspace


def no_stages() -> list[int]:
    return []


def no_flags() -> list[dict[str, str]]:
    return []


class ReferralSettings(models.Model):
    """One per workspace. Contacts in `stage_ids` (none: every contact) get a code; a
    referral converts on the friend's first `qualifying_event` (blank: any of the
    workspace's purchase event names) with a revenue of at least `min_amount`, within
    `within_days` of the friend's signup (none: any time); both sides' rewards (points,
    or a reward of the catalogue) are paid `hold_days` after the conversion unless the
    order was refunded meanwhile; a referrer is rewarded for at most `monthly_limit`
    conversions a month (none: no limit)."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="+")
    enabled = models.BooleanField(default=False)
    stage_ids = models.JSONField(default=no_stages, blank=True)
    qualifying_event = models.CharField(max_length=200, blank=True, default="")
    min_amount = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    within_days = models.PositiveIntegerField(null=True, blank=True)
    referrer_points = models.PositiveIntegerField(default=0)
    referrer_reward = TenantForeignKey(
        Reward, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    friend_points = models.PositiveIntegerField(default=0)
    friend_reward = TenantForeignKey(
        Reward, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    hold_days = models.PositiveIntegerField(default=14)
    monthly_limit = models.PositiveIntegerField(null=True, blank=True)
    # Where the landing page sends the friend: the business's own signup form, which
    # passes the `ref` token it is given on to `referred_by`.
    signup_url = models.URLField(max_length=500, blank=True, default="")
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"referral settings of workspace {self.workspace_id}"


class ReferralCode(models.Model):
    """A contact's code, shared as /r/<workspace id>/<code>. Unique per workspace (as
    every unique constraint); generated so that it is also unique across workspaces,
    since links shared before they named the workspace are still looked up by the
    code alone (services/referrals.py)."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=32)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "code"], name="referral_code_unique"),
            models.UniqueConstraint(
                fields=["workspace", "contact"], name="referral_code_contact_unique"
            ),
        ]
        indexes = [models.Index(fields=["code"], name="referral_code_lookup")]

    def __str__(self) -> str:
        return self.code


class ReferralVisit(models.Model):
    """A visit of a landing page: the IP is kept only as a keyed hash."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    code = TenantForeignKey(ReferralCode, on_delete=models.CASCADE, related_name="visits")
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    user_agent = models.CharField(max_length=300, blank=True, default="")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["workspace", "ip_hash", "at"], name="referral_visit_ip")]

    def __str__(self) -> str:
        return f"visit of {self.code_id} at {self.at}"


class ReferralStatus(models.TextChoices):
    PENDING = "pending", "Waiting for a qualifying purchase"
    FLAGGED = "flagged", "Waiting for review"
    HELD = "held", "Converted, rewards held"
    PAID = "paid", "Rewards paid"
    CONVERTED = "converted", "Converted, nothing to pay"
    REJECTED = "rejected", "Rejected"
    REVERSED = "reversed", "Refunded during the hold"


class Referral(models.Model):
    """A friend (`referred`) brought by a referrer's code at signup. `flags` are the
    fraud guards' reasons ({"reason", "detail"}); a flagged referral pays nothing
    until a person approves it. `converted_at` is set once (a conditional update);
    `hold_until` is when the rewards may be paid."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    referrer = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    referred = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    code = models.CharField(max_length=32)
    visit = TenantForeignKey(
        ReferralVisit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=ReferralStatus.choices, default=ReferralStatus.PENDING
    )
    flags = models.JSONField(default=no_flags, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    converted_at = models.DateTimeField(null=True, blank=True)
    conversion_event_id = models.BigIntegerField(null=True, blank=True)
    order_id = models.CharField(max_length=200, blank=True, default="")
    hold_until = models.DateTimeField(null=True, blank=True)
    referrer_rewarded = models.BooleanField(default=False)
    friend_rewarded = models.BooleanField(default=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.CharField(max_length=200, blank=True, default="")
    reversed_at = models.DateTimeField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            # A contact is referred once, at its signup.
            models.UniqueConstraint(fields=["workspace", "referred"], name="referral_once"),
            models.CheckConstraint(
                condition=~Q(referrer=models.F("referred")), name="referral_not_self"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "referrer", "created_at"], name="referral_referrer"),
            models.Index(fields=["workspace", "status", "-id"], name="referral_status"),
            models.Index(
                fields=["hold_until"],
                name="referral_hold_due",
                condition=Q(status="held"),
            ),
        ]

    def __str__(self) -> str:
        return f"referral {self.referrer_id} → {self.referred_id} ({self.status})"
