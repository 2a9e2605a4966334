"""Engagement in the rule language: received, opened or clicked a message — any, of a
broadcast, of a journey or of a template — within N days. "Not engaged for 90 days" is
its negation:

    {"message": "opened", "within_days": 30}
    {"message": "clicked", "broadcast_id": 12}
    {"not": {"message": "received", "channel": "email", "journey_id": 3, "within_days": 90}}

It lives in campaigns, the first app that knows both the outbox (messaging) and what a
message came from (broadcasts, journey steps). Test sends never count; opens and clicks
by bots and link scanners are not stored on the message, so they do not count either."""

from __future__ import annotations

from typing import Any

from django.db.models import Q

from campaigns.models import Broadcast, Journey, JourneyStep
from contacts.models import Channel
from contacts.rules import ConditionSpec, Context, register_catalog_extra, register_condition
from contacts.rules.due import MICROSECOND, DueContext, days, register_due
from contacts.rules.predicates import contact_in
from messaging.models import Message, Origin, Template

ACTIONS = {"received": "sent_at", "opened": "opened_at", "clicked": "clicked_at"}
ORIGINS = ("broadcast_id", "journey_id", "template_id")
KEYS = frozenset({"message", "channel", "within_days", *ORIGINS})
MAX_DAYS = 3650


def _validate(node: dict[str, Any], here: str, validator: Any) -> None:
    if node["message"] not in ACTIONS:
        validator.error(here, f"use one of {', '.join(ACTIONS)}")
    if "channel" in node and node["channel"] not in Channel.values:
        validator.error(f"{here}.channel", f"use one of {', '.join(Channel.values)}")
    days = node.get("within_days")
    if "within_days" in node and (
        isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= MAX_DAYS
    ):
        validator.error(f"{here}.within_days", f"a whole number of days from 1 to {MAX_DAYS}")
    named = [key for key in ORIGINS if key in node]
    if len(named) > 1:
        validator.error(f"{here}.{named[1]}", f"name at most one of {', '.join(ORIGINS)}")
    for key in named:
        value = node[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            validator.error(f"{here}.{key}", "must be an id (a positive whole number)")


def _compile(node: dict[str, Any], context: Context) -> Q:
    return contact_in(_rows(node, context))


def _due(node: dict[str, Any], context: DueContext) -> None:
    """A message counts until just after its moment + the window: the oldest in the
    window leaves first (a superset of the moments the result can change)."""
    if "within_days" in node:
        rows = _rows(node, context.rule_context()).values_list(
            "contact_id", ACTIONS[node["message"]]
        )
        context.add_shifted(rows, [days(node["within_days"]) + MICROSECOND])


def _rows(node: dict[str, Any], context: Context) -> Any:
    column = ACTIONS[node["message"]]
    rows = Message.objects.filter(
        context.scope.limit(),
        workspace=context.workspace,
        is_test=False,
        contact_id__isnull=False,
        **{f"{column}__isnull": False},
    )
    if context.as_of:  # at a past moment: only what had happened by then
        rows = rows.filter(**{f"{column}__lte": context.now})
    if "within_days" in node:
        rows = rows.filter(**{f"{column}__gte": context.days_ago(node["within_days"])})
    if "channel" in node:
        rows = rows.filter(channel=node["channel"])
    if "template_id" in node:
        rows = rows.filter(template_id=node["template_id"])
    if "broadcast_id" in node:
        rows = rows.filter(origin_kind=Origin.BROADCAST, origin_id=node["broadcast_id"])
    if "journey_id" in node:
        steps = JourneyStep.objects.filter(
            journey_id=node["journey_id"], journey__workspace=context.workspace
        ).values("pk")
        rows = rows.filter(origin_kind=Origin.JOURNEY_STEP, origin_id__in=steps)
    return rows


def describe_engagement(node: dict[str, Any]) -> str:
    what = node["message"]
    channel = {"email": "an email", "sms": "an SMS"}.get(node.get("channel", ""), "a message")
    origin = next(
        (f" of {key.removesuffix('_id')} #{node[key]}" for key in ORIGINS if key in node), ""
    )
    window = f" in the last {node['within_days']} days" if "within_days" in node else " ever"
    return f"{what} {channel}{origin}{window}"


def register_engagement_condition() -> None:
    register_condition(ConditionSpec("message", KEYS, _validate, _compile, describe_engagement))
    register_due("message", _due)
    register_catalog_extra(engagement_catalog)


def engagement_catalog(workspace: Any) -> dict[str, Any]:
    """What an engagement condition can name, for the rule builder."""
    return {
        "engagement": {
            "broadcasts": [
                {"id": pk, "name": name}
                for pk, name in Broadcast.objects.filter(workspace=workspace)
                .order_by("-id")
                .values_list("pk", "name")[:200]
            ],
            "journeys": [
                {"id": pk, "name": name}
                for pk, name in Journey.objects.filter(workspace=workspace)
                .order_by("name")
                .values_list("pk", "name")[:200]
            ],
            "templates": [
                {"id": pk, "name": name}
                for pk, name in Template.objects.filter(workspace=workspace)
                .order_by("name")
                .values_list("pk", "name")[:200]
            ],
        }
    }
