"""The member page: one contact's membership, reached by its signed link (no login;
the token is the authority, loyalty/tokens.py). Mobile-first, no JavaScript: the
balance, the tier and the way to the next, the history (paginated), the rewards with a
redeem button each (a POST with CSRF whose idempotency key was drawn when the page was
shown, so a double tap or a resent form redeems once) and the codes already got.

A bad token is a 404 page; requests are rate-limited per client address."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from config.errors import DomainError
from contacts.models import Contact
from loyalty import selectors, tokens
from loyalty.models import Programme, Redemption
from loyalty.selectors_member import rewards_on_offer, standing_for
from loyalty.selectors_referrals import referral_link_for
from loyalty.services import reward_redeem
from loyalty.services.expiry import expiry_day
from workspaces.login_throttle import client_ip
from workspaces.services import Actor

HISTORY_PAGE = 20
RATE_PER_MINUTE = 120


def _rate_limited(request: HttpRequest) -> bool:
    """A fixed window per client address and minute, counted in the cache."""
    key = f"loyalty:member:rate:{client_ip(request)}"
    cache.add(key, 0, timeout=60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        used = 1
    limit = getattr(settings, "LOYALTY_MEMBER_RATE_PER_MINUTE", RATE_PER_MINUTE)
    return int(used) > limit


def _problem(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    return render(request, "loyalty/member_problem.html", {"reason": reason}, status=status)


def _contact(token: str) -> Contact | None:
    found = tokens.read_member(token)
    if found is None:
        return None
    workspace_id, contact_id = found
    return (
        Contact.objects.filter(workspace_id=workspace_id, pk=contact_id)
        .select_related("workspace")
        .first()
    )


def _page(
    request: HttpRequest, contact: Contact, token: str, *, status: int = 200, **extra: Any
) -> HttpResponse:
    standing = standing_for(contact=contact)
    programme = Programme.objects.filter(workspace_id=contact.workspace_id).first()
    expires_on = (
        expiry_day(
            programme=programme,
            last_activity=standing.last_activity_at,
            zone_name=contact.time_zone or contact.workspace.time_zone,
        )
        if standing.balance
        else None
    )
    history = Paginator(
        selectors.entries_for_contact(contact=contact).order_by("-id"), HISTORY_PAGE
    ).get_page(request.GET.get("page"))
    got = (
        Redemption.objects.filter(workspace_id=contact.workspace_id, contact=contact)
        .select_related("reward")
        .order_by("-id")[:20]
    )
    rewards = [
        {"reward": r, "affordable": r.points_cost <= standing.balance, "key": uuid.uuid4().hex}
        for r in rewards_on_offer(contact=contact)
    ]
    return render(
        request,
        "loyalty/member.html",
        {
            "contact": contact,
            "workspace_name": contact.workspace.name,
            "standing": standing,
            "history": history,
            "redemptions": got,
            "rewards": rewards,
            "action": tokens.member_path(workspace_id=contact.workspace_id, contact_id=contact.pk)
            + "redeem/",
            "token": token,
            # A date: the template's date filter would move a datetime to UTC.
            "expires_at": expires_on,
            "referral_link": referral_link_for(contact=contact),
            **extra,
        },
        status=status,
    )


@never_cache
@require_http_methods(["GET", "HEAD"])
def member_page(request: HttpRequest, token: str) -> HttpResponse:
    if _rate_limited(request):
        return _problem(request, 429, "Too many requests. Please try again in a minute.")
    contact = _contact(token)
    if contact is None:
        return _problem(request, 404, "This link is not valid.")
    redeemed = request.GET.get("redeemed", "")
    just = None
    if redeemed.isdigit():
        just = Redemption.objects.filter(
            workspace_id=contact.workspace_id, contact=contact, pk=int(redeemed)
        ).first()
    return _page(request, contact, token, just=just)


@never_cache
@require_http_methods(["POST"])
def member_redeem(request: HttpRequest, token: str) -> HttpResponse:
    if _rate_limited(request):
        return _problem(request, 429, "Too many requests. Please try again in a minute.")
    contact = _contact(token)
    if contact is None:
        return _problem(request, 404, "This link is not valid.")
    raw = request.POST.get("reward_id", "")
    # The form's key (drawn when the page was shown) makes a double tap one redemption;
    # it is the contact's own (prefixed with its id), so no key crosses contacts.
    key = request.POST.get("idempotency_key", "").strip()[:64] or uuid.uuid4().hex
    data = {
        "reward_id": int(raw) if raw.isdigit() and len(raw) < 19 else raw,
        "idempotency_key": f"member:{contact.pk}:{key}",
    }
    try:
        redemption, _ = reward_redeem(
            contact=contact, data=data, actor=Actor(system="loyalty.member_page")
        )
    except DomainError as exc:
        reasons = [r for rs in (exc.fields or {}).values() for r in rs] or [str(exc)]
        return _page(request, contact, token, status=exc.status, error="; ".join(reasons))
    path = tokens.member_path(workspace_id=contact.workspace_id, contact_id=contact.pk)
    return HttpResponseRedirect(f"{path}?redeemed={redemption.pk}", status=303)
