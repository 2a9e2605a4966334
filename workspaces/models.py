"""Tenants (workspaces), the people in them and the API keys integrations use."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any, ClassVar

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from workspaces.dates import DateLocale


def validate_time_zone(value: str) -> None:
    if value not in available_time_zones():
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. Europe/Paris).")


_TIME_ZONES: frozenset[str] = frozenset()


def available_time_zones() -> frozenset[str]:
    global _TIME_ZONES
    if not _TIME_ZONES:
        _TIME_ZONES = frozenset(zoneinfo.available_timezones())
    return _TIME_ZONES


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **extra: Any) -> User:
        if not email:
            raise ValueError("A user needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **extra: Any) -> User:
        extra.setdefault("is_staff", True)
        extra.setdefault("is_superuser", True)
        return self.create_user(email, password, **extra)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in to the dashboard; signs in with an email address."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False, help_text="May log in to the admin.")
    date_joined = models.DateTimeField(default=timezone.now)

    objects: ClassVar[UserManager] = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []

    def __str__(self) -> str:
        return self.email


def default_purchase_event_names() -> list[str]:
    return ["purchase"]


class Workspace(models.Model):
    """A business using Stagecraft. Every row it owns carries its id."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text="Used for contacts without their own time zone and for reporting days.",
    )
    currency = models.CharField(
        max_length=3, default="USD", help_text="ISO 4217; events without a currency use it."
    )
    date_locale = models.CharField(
        max_length=8,
        choices=DateLocale.choices,
        default=DateLocale.EN_GB,
        help_text="How the dashboard writes dates and times.",
    )
    purchase_event_names = ArrayField(
        models.CharField(max_length=200),
        default=default_purchase_event_names,
        help_text="Events with these names that carry revenue are purchases.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MARKETER = "marketer", "Marketer"
    VIEWER = "viewer", "Viewer"


ROLE_RANK = {Role.VIEWER: 0, Role.MARKETER: 1, Role.ADMIN: 2, Role.OWNER: 3}


class Membership(models.Model):
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)
    # This member's own date format in this workspace; blank: the workspace's.
    date_locale = models.CharField(max_length=8, choices=DateLocale.choices, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "workspace"], name="membership_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.workspace} ({self.role})"

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(minimum)]

    @property
    def can_write(self) -> bool:
        return self.has_role(Role.MARKETER)

    @property
    def can_admin(self) -> bool:
        return self.has_role(Role.ADMIN)


class ApiKey(models.Model):
    """A workspace's credential for integrations. Only the SHA-256 of the secret is
    kept: secrets are 256-bit random tokens, so a fast hash is enough and lets us
    look a key up by its hash on every request."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, help_text="The first characters, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty: the installation's default."
    )

    class Meta:
        verbose_name = "API key"
        indexes = [models.Index(fields=["workspace", "created_at"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class AuditEntry(models.Model):
    """Who or what did a consequential thing in a workspace (after Zulip's
    RealmAuditLog). Holds ids and short facts, never personal data."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    action = models.CharField(max_length=64)
    actor_user = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.BigIntegerField(null=True, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=["workspace", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.object_type}:{self.object_id}"


def default_invitation_expiry() -> dt.datetime:
    return timezone.now() + INVITATION_LIFETIME


INVITATION_LIFETIME = dt.timedelta(days=7)


class Invitation(models.Model):
    """An invitation to join a workspace with a role, sent by email as a link. Only the
    SHA-256 of the link's token is kept (like API keys); a link works once, until it
    expires or is revoked."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.MARKETER)
    token_hash = models.CharField(max_length=64)
    invited_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(default=default_invitation_expiry)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["workspace", "-created_at"])]
        constraints = [
            # One open invitation per address and workspace: a new one replaces it.
            models.UniqueConstraint(
                fields=["workspace", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_one_open_per_email",
            ),
            # Unique with the workspace (issue 20); the hash first: a link names no
            # workspace, it is looked up by the hash alone.
            models.UniqueConstraint(
                fields=["token_hash", "workspace"], name="invitation_token_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.workspace_id} as {self.role}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
