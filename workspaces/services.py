"""Writes for workspaces, memberships and API keys. Each is one transaction."""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone
from django.utils.text import slugify

from config.currencies import ISO_4217
from config.errors import Conflict, InvalidInput
from workspaces import api_key_cache
from workspaces.dates import DateLocale
from workspaces.hooks import WORKSPACE_CREATED_HOOKS
from workspaces.models import (
    ApiKey,
    AuditEntry,
    Membership,
    Role,
    User,
    Workspace,
    available_time_zones,
)

API_KEY_PREFIX = "sc_"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Actor:
    """Who caused a write: a dashboard user, an API key, or the system (rules, imports,
    workers), named by `system`."""

    user: User | None = None
    api_key: ApiKey | None = None
    system: str = ""

    @property
    def label(self) -> str:
        if self.user is not None:
            return f"user:{self.user.pk}"
        if self.api_key is not None:
            return f"api_key:{self.api_key.pk}"
        return f"system:{self.system or 'unknown'}"


SYSTEM = Actor(system="system")


def save_or_conflict(
    obj: Model,
    conflict: str,
    *,
    fields: tuple[str, ...] = ("name",),
    update_fields: list[str] | None = None,
) -> None:
    """Save `obj`; if that breaks a unique constraint, a 409 saying `conflict` with
    `fields` taken. The database says what is taken (a check before the save would race
    a concurrent writer); the savepoint keeps the caller's transaction usable."""
    try:
        with transaction.atomic():
            obj.save(update_fields=update_fields)
    except IntegrityError:
        raise Conflict(conflict, fields={key: ["taken"] for key in fields}) from None


def audit_record(
    *,
    workspace: Workspace,
    action: str,
    actor: Actor,
    object_type: str = "",
    object_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEntry:
    return AuditEntry.objects.create(
        workspace=workspace,
        action=action,
        actor_user=actor.user,
        actor_api_key=actor.api_key,
        object_type=object_type,
        object_id=object_id,
        details={"actor": actor.label, **(details or {})},
    )


@transaction.atomic
def login_lockout_record(*, username: str, ip_address: str, site: str, account_locked: bool) -> int:
    """A log-in was refused for too many failures (django-axes): logged with the
    address for operators. When the account itself is locked (not only the address),
    an audit entry in each of its workspaces, once per cool-off (every refused attempt
    calls this again). The entry names the user by id: the address is personal data
    and stays in the log. Returns how many entries were written."""
    user = User.objects.filter(email=username).first() if username else None
    log.warning(
        "workspaces.login_locked_out site=%s ip=%s user_id=%s account_locked=%s",
        site,
        ip_address,
        user.pk if user else None,
        account_locked,
    )
    if user is None or not account_locked:
        return 0
    since = timezone.now() - settings.AXES_COOLOFF_TIME
    recent = AuditEntry.objects.filter(
        action="user.login_locked_out", object_type="user", object_id=user.pk, created_at__gte=since
    ).values_list("workspace_id", flat=True)
    written = 0
    for membership in Membership.objects.filter(user=user).exclude(workspace_id__in=recent):
        audit_record(
            workspace=membership.workspace,
            action="user.login_locked_out",
            actor=Actor(system="login_throttle"),
            object_type="user",
            object_id=user.pk,
            details={
                "site": site,
                "failure_limit": settings.AXES_FAILURE_LIMIT,
                "cooloff_seconds": int(settings.AXES_COOLOFF_TIME.total_seconds()),
            },
        )
        written += 1
    return written


@transaction.atomic
def workspace_create(*, slug: str, name: str, time_zone: str = "UTC") -> Workspace:
    errors: dict[str, list[str]] = {}
    if slug != slugify(slug) or not slug:
        errors["slug"] = ["use lowercase letters, digits and hyphens"]
    if time_zone not in available_time_zones():
        errors["time_zone"] = [f"'{time_zone}' is not an IANA time zone"]
    if not name.strip():
        errors["name"] = ["must not be blank"]
    if errors:
        raise InvalidInput("The workspace is not valid.", fields=errors)
    if Workspace.objects.filter(slug=slug).exists():
        raise Conflict(f"A workspace with slug '{slug}' exists.", fields={"slug": ["taken"]})
    workspace = Workspace(slug=slug, name=name.strip(), time_zone=time_zone)
    workspace.full_clean()
    workspace.save()
    return workspace


@transaction.atomic
@transaction.atomic
def workspace_provision(
    *,
    slug: str,
    name: str,
    time_zone: str = "UTC",
    owner_email: str | None = None,
    owner_password: str | None = None,
) -> tuple[Workspace, User | None]:
    """A new workspace ready to use, in one transaction: the workspace, what each app
    gives a new one (the `on_workspace_created` hooks: default lifecycle stages, …) and
    its owner. Used by the create_workspace command and the demo."""
    workspace = workspace_create(slug=slug, name=name, time_zone=time_zone)
    for hook in WORKSPACE_CREATED_HOOKS:
        hook(workspace)
    owner = None
    if owner_email:
        owner = user_get_or_create(email=owner_email, password=owner_password)
        membership_set(workspace=workspace, user=owner, role=Role.OWNER)
    return workspace, owner


def user_get_or_create(*, email: str, password: str | None = None, name: str = "") -> User:
    email = email.strip().lower()
    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=password, name=name)
    return user


@transaction.atomic
def membership_set(*, workspace: Workspace, user: User, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput("Unknown role.", fields={"role": [f"one of {', '.join(Role.values)}"]})
    membership, created = Membership.objects.get_or_create(
        workspace=workspace, user=user, defaults={"role": role}
    )
    if not created and membership.role != role:
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@transaction.atomic
def api_key_create(
    *, workspace: Workspace, name: str, actor: Actor, rate_limit_per_minute: int | None = None
) -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never stored or shown again."""
    name = name.strip()
    if not name:
        raise InvalidInput("Name the key.", fields={"name": ["must not be blank"]})
    secret = API_KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(
        workspace=workspace,
        name=name[:100],
        prefix=secret[:11],
        key_hash=_hash_secret(secret),
        created_by=actor.user,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    key.full_clean()
    try:
        key.save()
    except IntegrityError:  # pragma: no cover - 256 random bits do not collide
        raise Conflict("Try again.") from None
    audit_record(
        workspace=workspace,
        action="api_key.created",
        actor=actor,
        object_type="api_key",
        object_id=key.pk,
        details={"name": key.name},
    )
    return key, secret


@transaction.atomic
def api_key_revoke(*, api_key: ApiKey, actor: Actor) -> ApiKey:
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now()
    )
    api_key_cache.revocation_publish(api_key.key_hash)
    if updated:
        audit_record(
            workspace=api_key.workspace,
            action="api_key.revoked",
            actor=actor,
            object_type="api_key",
            object_id=api_key.pk,
        )
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_authenticate(secret: str) -> ApiKey | None:
    """The active key with this secret, or None. Keys are cached per process for a few
    seconds and a revocation empties every process's cache at once
    (workspaces/api_key_cache.py). Records the last use at most once a minute, so a
    busy integration does not write a row on every request."""
    if not secret.startswith(API_KEY_PREFIX):
        return None
    key_hash = _hash_secret(secret)
    key = api_key_cache.cached(key_hash)
    if key is None:
        generation = api_key_cache.generation()
        key = (
            ApiKey.objects.select_related("workspace")
            .filter(key_hash=key_hash, revoked_at__isnull=True)
            .first()
        )
        if key is None:
            api_key_cache.forget(key_hash)
            return None
        api_key_cache.remember(key_hash, key, generation)
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key


EVENT_NAME = re.compile(r"[A-Za-z0-9_.:\-]{1,200}")


def _settings_errors(changes: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    if "name" in changes and not str(changes["name"]).strip():
        errors["name"] = ["must not be blank"]
    if "time_zone" in changes and changes["time_zone"] not in available_time_zones():
        errors["time_zone"] = [f"'{changes['time_zone']}' is not an IANA time zone"]
    if "currency" in changes and not (
        isinstance(changes["currency"], str) and changes["currency"].upper() in ISO_4217
    ):
        errors["currency"] = ["must be a three-letter ISO 4217 code, e.g. EUR"]
    if "date_locale" in changes and changes["date_locale"] not in DateLocale.values:
        errors["date_locale"] = [f"must be one of {', '.join(DateLocale.values)}"]
    names = changes.get("purchase_event_names")
    if names is not None and (
        not isinstance(names, list)
        or not names
        or len(names) > 20
        or not all(isinstance(n, str) and EVENT_NAME.fullmatch(n) for n in names)
    ):
        errors["purchase_event_names"] = [
            "one to twenty event names (letters, digits, _ . : -), e.g. purchase"
        ]
    return errors


@transaction.atomic
def workspace_settings_update(
    *,
    workspace: Workspace,
    actor: Actor,
    name: str | None = None,
    time_zone: str | None = None,
    currency: str | None = None,
    date_locale: str | None = None,
    purchase_event_names: list[str] | None = None,
) -> Workspace:
    """Change the workspace's general settings; only what is given changes."""
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            # PostgreSQL text cannot hold NUL: it is dropped, as search does.
            "name": name.replace("\x00", "").strip() if isinstance(name, str) else name,
            "time_zone": time_zone,
            "currency": currency.upper() if isinstance(currency, str) else currency,
            "date_locale": date_locale,
            "purchase_event_names": (
                list(dict.fromkeys(purchase_event_names))
                if isinstance(purchase_event_names, list)
                and all(isinstance(n, str) for n in purchase_event_names)
                else purchase_event_names
            ),
        }.items()
        if value is not None
    }
    errors = _settings_errors(changes)
    if errors:
        raise InvalidInput("The settings are not valid.", fields=errors)
    changed = [key for key, value in changes.items() if getattr(workspace, key) != value]
    if not changed:
        return workspace
    for key in changed:
        setattr(workspace, key, changes[key])
    workspace.full_clean()
    workspace.save(update_fields=changed)
    audit_record(
        workspace=workspace,
        action="workspace.settings_changed",
        actor=actor,
        object_type="workspace",
        object_id=workspace.pk,
        details={"fields": changed},
    )
    return workspace


@transaction.atomic
def membership_date_locale_set(*, membership: Membership, date_locale: str, actor: Actor) -> None:
    """A member's own date format in the workspace ("" for the workspace's)."""
    if date_locale not in ("", *DateLocale.values):
        raise InvalidInput(
            "The date format is not valid.",
            fields={"date_locale": [f"one of {', '.join(DateLocale.values)}, or empty"]},
        )
    if (
        Membership.objects.filter(pk=membership.pk)
        .exclude(date_locale=date_locale)
        .update(date_locale=date_locale)
    ):
        audit_record(
            workspace=membership.workspace,
            action="membership.date_locale_changed",
            actor=actor,
            object_type="membership",
            object_id=membership.pk,
            details={"date_locale": date_locale},
        )
    membership.date_locale = date_locale
