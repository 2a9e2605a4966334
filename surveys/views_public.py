"""The pages a respondent sees, reached from a message or a shared link: no login, the
signed token is the authority. Everything works without JavaScript: the scale is links
(in a message) or radio buttons in a plain form (on the page).

- `answer`: one tap on a score (GET; HEAD records nothing). See
  surveys/services/answers.py for how scanners are told from people.
- `page`: one contact's send: the answer, the follow-up question and the comment box.
- `open_page`: the anonymous page of a survey (shared on a site or in a post).

Each is rate-limited per client address; a token that is not ours is a 400."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from config.errors import DomainError, InvalidInput
from messaging.views_public import is_prefetch
from surveys import scales, tokens
from surveys.models import Channel, Survey, SurveyKind, SurveyResponse
from surveys.services import Outcome, Resolved, Tap, answer_submit, answer_tap, send_resolve
from surveys.views_review_page import review_page
from workspaces.login_throttle import client_ip

ANONYMOUS_COOKIE = "stagecraft_survey_{}"
ANONYMOUS_SALT = "surveys.anonymous"


def _rate_limited(request: HttpRequest) -> bool:
    """A fixed window per client address and minute, counted in the cache."""
    key = f"surveys:rate:{client_ip(request)}"
    cache.add(key, 0, timeout=60)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=60)
        used = 1
    return int(used) > settings.SURVEY_PAGE_RATE_PER_MINUTE


def _problem(request: HttpRequest, status: int, reason: str) -> HttpResponse:
    return render(request, "surveys/problem.html", {"reason": reason}, status=status)


def _guarded(request: HttpRequest) -> HttpResponse | None:
    if _rate_limited(request):
        response = _problem(request, 429, "Too many requests. Please try again in a minute.")
        response["Retry-After"] = "60"
        return response
    return None


def _score(raw: Any) -> int | None:
    if raw in (None, ""):
        return None
    try:
        return int(str(raw))
    except ValueError:
        raise InvalidInput(
            "score: must be a whole number", fields={"score": ["must be a whole number"]}
        ) from None


def _page_context(survey: Survey, response: SurveyResponse | None, **extra: Any) -> dict[str, Any]:
    chosen = extra.pop("chosen", None)
    current = response.score if response is not None and not response.is_bot else None
    shown = chosen if chosen is not None else current
    low, high = scales.scale_ends(survey)
    return {
        "survey": survey,
        "response": response,
        "options": scales.options(survey),
        "low_label": low,
        "high_label": high,
        "shown": shown,
        "answered": current is not None,
        "follow_up": scales.follow_up_question(survey, shown) if shown is not None else "",
        "t": scales.TEXTS.get(survey.locale, scales.TEXTS["en"]),
        "workspace_name": survey.workspace.name,
        **extra,
    }


@never_cache
@require_http_methods(["GET", "HEAD"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    found = tokens.read_answer(token)
    if found is None:
        return _problem(request, 400, "This link is not valid.")
    refused = _guarded(request)
    if refused:
        return refused
    send, score = found
    try:
        resolved = send_resolve(send)
        outcome, response = answer_tap(
            resolved=resolved,
            send_key=send.key,
            score=score,
            channel=_channel(resolved),
            tap=Tap(
                user_agent=request.headers.get("User-Agent", ""),
                prefetch=is_prefetch(request),
                head=request.method == "HEAD",
            ),
        )
    except DomainError as exc:
        return _problem(request, exc.status, exc.message)
    if outcome in (Outcome.CONFIRM, Outcome.DISCARDED):
        # Nothing counted: the page asks for one more tap (a form a scanner won't send).
        context = _page_context(resolved.survey, response, chosen=score, confirm=True)
        return render(request, "surveys/page.html", {**context, "action": tokens.page_path(send)})
    return HttpResponseRedirect(tokens.page_path(send), status=303)


def _channel(resolved: Resolved) -> str:
    if resolved.message is None:
        return Channel.LINK
    return Channel.SMS if resolved.message.channel == "sms" else Channel.EMAIL


# The token is the authority (as for the unsubscribe page): a forged POST would need
# the signed token, and mail clients' in-app browsers often drop cookies.
@csrf_exempt
@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def page(request: HttpRequest, token: str) -> HttpResponse:
    send = tokens.read_page(token)
    if send is None:
        return _problem(request, 400, "This link is not valid.")
    refused = _guarded(request)
    if refused:
        return refused
    try:
        resolved = send_resolve(send)
    except DomainError as exc:
        return _problem(request, exc.status, exc.message)
    survey = resolved.survey
    action = tokens.page_path(send)
    if survey.kind == SurveyKind.REVIEW:
        return review_page(
            request,
            resolved,
            send_key=send.key,
            message_key=resolved.message.idempotency_key if resolved.message else None,
            channel=_channel(resolved),
            action=action,
        )
    if request.method == "POST":
        return _submit(request, resolved, send.key, action)
    response = SurveyResponse.objects.filter(
        workspace_id=survey.workspace_id, survey=survey, send_key=send.key
    ).first()
    context = _page_context(survey, response, saved=request.GET.get("saved") == "1")
    return render(request, "surveys/page.html", {**context, "action": action})


def _submit(request: HttpRequest, resolved: Resolved, send_key: str, action: str) -> HttpResponse:
    survey = resolved.survey
    try:
        score = _score(request.POST.get("score"))
        comment = request.POST.get("comment")
        outcome, response = answer_submit(
            resolved=resolved,
            send_key=send_key,
            score=score,
            comment=comment,
            channel=_channel(resolved),
        )
    except DomainError as exc:
        existing = SurveyResponse.objects.filter(
            workspace_id=survey.workspace_id, survey=survey, send_key=send_key
        ).first()
        context = _page_context(survey, existing, errors=exc.fields or {"score": [exc.message]})
        return render(
            request, "surveys/page.html", {**context, "action": action}, status=exc.status
        )
    if outcome == Outcome.LOCKED:
        context = _page_context(survey, response, locked_now=True)
        return render(request, "surveys/page.html", {**context, "action": action}, status=409)
    return HttpResponseRedirect(f"{action}?saved=1", status=303)


@never_cache
@require_http_methods(["GET", "HEAD", "POST"])
def open_page(request: HttpRequest, token: str) -> HttpResponse:
    """The anonymous page: a visitor is one answer, named by a signed cookie."""
    found = tokens.read_open(token)
    if found is None:
        return _problem(request, 400, "This link is not valid.")
    workspace_id, survey_id = found
    refused = _guarded(request)
    if refused:
        return refused
    surveys = Survey.objects.select_related("workspace").filter(pk=survey_id)
    if workspace_id is not None:  # None: a link made before links carried it
        surveys = surveys.filter(workspace_id=workspace_id)
    survey = surveys.first()
    if survey is None:
        return _problem(request, 404, "This survey is no longer open.")
    cookie = ANONYMOUS_COOKIE.format(survey.pk)
    visitor = request.get_signed_cookie(cookie, default=None, salt=ANONYMOUS_SALT)
    send_key = f"a{visitor}" if visitor else None
    response = (
        SurveyResponse.objects.filter(
            workspace_id=survey.workspace_id, survey=survey, send_key=send_key
        ).first()
        if send_key
        else None
    )
    action = tokens.open_path(survey.pk, workspace_id=survey.workspace_id)
    if survey.kind == SurveyKind.REVIEW:
        visitor = visitor or uuid.uuid4().hex
        result = review_page(
            request,
            Resolved(survey=survey, contact=None, message=None),
            send_key=f"a{visitor}",
            message_key=None,
            channel=Channel.LINK,
            action=action,
            csrf=True,
        )
        return _remember(request, result, cookie, visitor)
    if request.method != "POST":
        context = _page_context(survey, response, saved=request.GET.get("saved") == "1")
        return render(request, "surveys/page.html", {**context, "action": action, "csrf": True})
    visitor = visitor or uuid.uuid4().hex
    resolved = Resolved(survey=survey, contact=None, message=None)
    result = _submit(request, resolved, f"a{visitor}", action)
    return _remember(request, result, cookie, visitor)


def _remember(
    request: HttpRequest, result: HttpResponse, cookie: str, visitor: str
) -> HttpResponse:
    """After an anonymous visitor's answer: the cookie that names them next time."""
    if result.status_code == 303:
        result.set_signed_cookie(
            cookie,
            visitor,
            salt=ANONYMOUS_SALT,
            max_age=365 * 86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return result
