"""Dashboard pages of the referral programme (Settings → Referrals: the settings for
admins; the review queue of flagged referrals for marketers) and the public landing
page a shared link opens (/r/<workspace id>/<code>/), which records the visit and hands the friend
on to the business's signup form with a signed token: no cookie is set."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError
from lifecycle.models import Stage
from loyalty import selectors
from loyalty import selectors_referrals as referral_selectors
from loyalty.models import ReferralSettings, ReferralStatus
from loyalty.services.referrals import (
    code_lookup,
    referral_settings_get,
    referral_settings_update,
    referral_token,
    referral_visit_record,
)
from loyalty.services.referrals_payout import referral_review
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.login_throttle import client_ip
from workspaces.models import Role

PANEL_FRIENDS = 10
VISITS_PER_MINUTE = 30  # per address: beyond it the page shows, the visit is not kept
# Link previewers fetch a shared link before (or without) any person: not a visit.
PREVIEWERS = (
    "bot",
    "crawler",
    "spider",
    "facebookexternalhit",
    "whatsapp",
    "slack",
    "telegram",
    "discord",
    "skype",
    "preview",
)
NUMBERS = ("referrer_points", "friend_points", "hold_days", "within_days", "monthly_limit")
OPTIONAL = ("within_days", "monthly_limit", "referrer_reward_id", "friend_reward_id")


def _number(raw: str) -> Any:
    raw = raw.strip()
    return int(raw) if raw.isdigit() else raw


def _settings_data(post: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "enabled": post.get("enabled") == "on",
        "stage_ids": [_number(v) for v in post.getlist("stage_ids")],
        "qualifying_event": post.get("qualifying_event", ""),
        "min_amount": post.get("min_amount", "").strip() or "0",
        "signup_url": post.get("signup_url", ""),
    }
    for key in (*NUMBERS, "referrer_reward_id", "friend_reward_id"):
        raw = post.get(key, "").strip()
        data[key] = None if key in OPTIONAL and not raw else _number(raw)
    return data


def _form(row: ReferralSettings) -> dict[str, Any]:
    return {
        "enabled": row.enabled,
        "stage_ids": [str(pk) for pk in row.stage_ids],
        "qualifying_event": row.qualifying_event,
        "min_amount": str(row.min_amount),
        "within_days": "" if row.within_days is None else row.within_days,
        "referrer_points": row.referrer_points,
        "referrer_reward_id": str(row.referrer_reward_id or ""),
        "friend_points": row.friend_points,
        "friend_reward_id": str(row.friend_reward_id or ""),
        "hold_days": row.hold_days,
        "monthly_limit": "" if row.monthly_limit is None else row.monthly_limit,
        "signup_url": row.signup_url,
    }


@workspace_view(write_methods_role=Role.ADMIN)
def referral_settings(request: WorkspaceRequest) -> HttpResponse:
    row = referral_settings_get(workspace=request.workspace)
    form, errors = _form(row), {}
    if request.method == "POST":
        data = _settings_data(request.POST)
        try:
            referral_settings_update(workspace=request.workspace, data=data, actor=request.actor)
        except DomainError as exc:
            errors = exc.fields or {"enabled": [exc.message]}
            form = {**{k: request.POST.get(k, "") for k in form}, "enabled": data["enabled"]}
            form["stage_ids"] = request.POST.getlist("stage_ids")
        else:
            messages.success(request, "Referral programme saved.")
            return redirect("loyalty_referrals:settings", slug=request.workspace.slug)
    stages = Stage.objects.filter(workspace=request.workspace, archived_at__isnull=True).order_by(
        "position"
    )
    return render(
        request,
        "loyalty/referral_settings.html",
        {
            "form": form,
            "errors": errors,
            "stages": stages,
            "rewards": selectors.rewards_for_workspace(workspace=request.workspace),
            "flagged": referral_selectors.referrals_for_workspace(
                workspace=request.workspace, status=ReferralStatus.FLAGGED
            ).count(),
        },
    )


@workspace_view()
def referral_review_list(request: WorkspaceRequest) -> HttpResponse:
    status = request.GET.get("status", ReferralStatus.FLAGGED)
    if status not in ReferralStatus.values:
        status = ReferralStatus.FLAGGED
    rows = referral_selectors.referrals_for_workspace(
        workspace=request.workspace, status=status
    ).order_by("-id")[:200]
    return render(
        request,
        "loyalty/referral_review.html",
        {"referrals": rows, "status": status, "statuses": ReferralStatus.choices},
    )


@require_POST
@workspace_view()
def referral_decide(request: WorkspaceRequest, referral_id: int, decision: str) -> HttpResponse:
    referral = referral_selectors.referral_get(workspace=request.workspace, referral_id=referral_id)
    if referral is None or decision not in ("approve", "reject"):
        raise Http404("No such referral.")
    try:
        referral_review(referral=referral, approve=decision == "approve", actor=request.actor)
    except DomainError as exc:
        messages.error(request, exc.message)
    else:
        verb = "approved" if decision == "approve" else "rejected"
        messages.success(request, f"Referral of {referral.referred} {verb}.")
    return redirect("loyalty_referrals:review", slug=request.workspace.slug)


def _visit_counted(request: HttpRequest) -> bool:
    """A fixed window per address and minute: a script hammering a link is not
    recorded as hundreds of visits (nor fills the table)."""
    key = f"loyalty:referral-visit:{client_ip(request)}"
    cache.add(key, 0, timeout=60)
    try:
        used = cache.incr(key)
    except ValueError:
        cache.set(key, 1, timeout=60)
        used = 1
    return int(used) <= VISITS_PER_MINUTE


def _with_ref(url: str, token: str) -> str:
    parts = urlsplit(url)
    query = f"{parts.query}&" if parts.query else ""
    return urlunsplit(parts._replace(query=query + urlencode({"ref": token})))


@require_GET
def referral_landing(
    request: HttpRequest, code: str, workspace_id: int | None = None
) -> HttpResponse:
    found = code_lookup(code, workspace_id=workspace_id)
    row = referral_settings_get(workspace=found.workspace) if found else None
    if found is None or row is None or not row.enabled:
        return render(request, "loyalty/referral_landing.html", {"missing": True}, status=404)
    token = ""
    agent = request.headers.get("User-Agent", "")
    if not any(word in agent.lower() for word in PREVIEWERS) and _visit_counted(request):
        visit = referral_visit_record(code=found, ip=client_ip(request), user_agent=agent)
        token = referral_token(visit=visit)
    signup = _with_ref(row.signup_url, token or found.code) if row.signup_url else ""
    return render(
        request,
        "loyalty/referral_landing.html",
        {
            "workspace_name": found.workspace.name,
            "referrer_name": found.contact.first_name or "",
            "code": found.code,
            "signup": signup,
        },
    )


@workspace_view()
def contact_referrals_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    """The contact page's Referrals panel: the contact's link (made on first look if it
    is eligible), its counts, who referred it, and its latest friends."""
    contact = selectors.contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    friends = referral_selectors.referrals_for_workspace(
        workspace=request.workspace, referrer_id=contact.pk
    ).order_by("-id")[:PANEL_FRIENDS]
    referred_by = (
        referral_selectors.referrals_for_workspace(workspace=request.workspace)
        .filter(referred=contact)
        .first()
    )
    return render(
        request,
        "loyalty/referral_contact_panel.html",
        {
            "contact": contact,
            "link": referral_selectors.referral_link_for(contact=contact),
            "counts": referral_selectors.referral_counts(contact=contact),
            "friends": friends,
            "referred_by": referred_by,
        },
    )
