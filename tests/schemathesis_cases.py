"""What schemathesis cannot know from the schema, supplied for positive cases only
(see test_openapi_schemathesis.py): ids of objects that exist, and the values a valid
body or query needs."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from contacts.models import Contact
from lifecycle.models import Stage
from loyalty.models import ReferralCode, Reward
from messaging.models import Template
from tests.conftest import Persona

if TYPE_CHECKING:
    from tests.test_openapi_schemathesis import Tenants


class IdMapper:
    """Turns generated ids into ids of real objects (schemathesis cannot know which
    exist): path ids of the caller's workspace and of another one (a 404, documented),
    and ids inside bodies and queries from the caller's own workspace, in positive
    cases only (a reference to another workspace's object is refused with 400, as it
    must be). The choice is a function of the generated value, so cases replay."""

    def __init__(self, tenants: Tenants, caller: Persona, other: Persona) -> None:
        self.own = tenants.ids[caller.workspace.slug]
        self.other = tenants.ids[other.workspace.slug]
        self.workspace = caller.workspace

    @property
    def stage_keys(self) -> list[str]:
        """The caller's stages now (a run may add stages or change their keys)."""
        return list(
            Stage.objects.filter(workspace=self.workspace, is_default=False, archived_at=None)
            .order_by("position")
            .values_list("key", flat=True)
        )

    def path_id(self, name: str, value: int) -> int:
        pool = self.own[name] if value % 4 else self.other[name]
        return pool[value % len(pool)]

    def body_id(self, name: str, value: Any) -> Any:
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or name not in self.own:
            return value
        pool = self.own[name]
        return pool[value % len(pool)]

    def body(self, value: Any) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, child in value.items():
                kind = BODY_ID_FIELDS.get(key)
                if kind and isinstance(child, list):
                    out[key] = [self.body_id(kind, item) for item in child]
                elif kind:
                    out[key] = self.body_id(kind, child)
                else:
                    out[key] = self.body(child)
            return out
        if isinstance(value, list):
            return [self.body(item) for item in value]
        return value


# Fields of request bodies and queries that name an object, and the object kind.
BODY_ID_FIELDS = {
    "template_id": "template_id",
    "contact_id": "contact_id",
    "contact_ids": "contact_id",
    "include_segment_ids": "segment_id",
    "exclude_segment_ids": "segment_id",
    "include_stage_ids": "stage_id",
    "exclude_stage_ids": "stage_id",
    "segment": "segment_id",
    "segment_id": "segment_id",
    "reward_id": "reward_id",
}


def complete_query(path: str, query: dict[str, Any]) -> dict[str, Any]:
    """What a valid query needs that its schema cannot say (positive cases only)."""
    # A cursor is a token the previous page handed out; a made-up one is refused.
    if query.get("cursor"):
        del query["cursor"]
    # A report's period: start on or before end (default today), at most ten years.
    report = "/analytics/" in path or "/results/" in path
    if report and ("start" in query or "end" in query):
        end = _date(query.get("end")) or timezone.now().date()
        start = _date(query.get("start")) or end - dt.timedelta(days=89)
        start, end = min(start, end), max(start, end)
        start = max(start, end - dt.timedelta(days=3650))
        if query.get("granularity") == "day":
            start = max(start, end - dt.timedelta(days=749))  # at most 750 buckets
        if "start" in query:
            query["start"] = start.isoformat()
        if "end" in query or start > timezone.now().date():
            query["end"] = end.isoformat()
    # A price band: its top no lower than its bottom (a 400 naming price_max otherwise).
    try:
        low, high = float(query["price_min"]), float(query["price_max"])
    except (KeyError, TypeError, ValueError):
        pass
    else:
        if high < low:
            query["price_min"], query["price_max"] = query["price_max"], query["price_min"]
    return query


# A rule of the rule language: the schema says "an object, see docs/rules.md"; its
# grammar has a validator and tests of its own (tests/contacts/test_rules*.py).
VALID_RULE = {"attr": "plan", "op": "eq", "value": "pro"}


def _complete_values(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    """Values the schema types but cannot check against data or the clock."""
    now = timezone.now()
    if isinstance(body.get("phone"), str) and body["phone"]:
        body["phone"] = "+14155550123"  # the pattern cannot say which numbers exist
    if isinstance(body.get("sms_from_number"), str) and body["sms_from_number"]:
        body["sms_from_number"] = "+14155550124"
    for key in ("start_at", "pinned_until"):
        if isinstance(body.get(key), str) and body[key]:
            body[key] = (now + dt.timedelta(days=1)).isoformat()
    if isinstance(body.get("occurred_at"), str) and body["occurred_at"] > now.isoformat():
        body["occurred_at"] = now.isoformat()
    if isinstance(body.get("signed_up_at"), str):
        body["signed_up_at"] = "2024-02-29"  # a real date of the past (the pattern: any)
    if path.endswith("/transitions/") and isinstance(body.get("at"), str):
        body["at"] = "2024-02-29T12:00:00Z"
    contact = body.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("id"), int):
        # An event names its contact by id only if it exists (unknown emails create one).
        contact["id"] = mapper.body_id("contact_id", contact["id"])
    if path.endswith("/clv/model/") and isinstance(body.get("as_of"), str):
        body["as_of"] = min(body["as_of"], now.date().isoformat())
    if path.endswith("/start/") and "mapping" in body:
        # The mapping names columns of the uploaded file (the seeded ones: "email").
        body["mapping"], body["match_on"] = {"email": "email"}, "email"


def _complete_stages(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    """Rules, stage keys and the order of stages."""
    if isinstance(body.get("rule"), dict) or (
        path.startswith("/api/v1/stages/") and "rule" in body
    ):
        body["rule"] = VALID_RULE
    if path.endswith("/stages/reorder/") and "order" in body:
        body["order"] = list(mapper.stage_keys)
    if path.endswith(("/stage/", "/transitions/")) and "stage" in body:
        keys = mapper.stage_keys or ["lead"]
        body["stage"] = keys[len(str(body["stage"])) % len(keys)]
    if path.endswith("/settings/reporting/"):
        # Stage keys that exist, two different ones (a schema cannot say which).
        keys = list(mapper.stage_keys) or ["lapsed", "at_risk"]
        if "churned_stage_key" in body:
            body["churned_stage_key"] = keys[0]
        if "at_risk_stage_key" in body:
            body["at_risk_stage_key"] = keys[-1]
    if "/stages/preview/" in path:
        # A proposal names stages that exist (or new keys) with rules the grammar takes.
        keys = mapper.stage_keys or ["lead"]
        if "stage" in body:
            body["stage"] = keys[len(str(body["stage"])) % len(keys)]
            body.pop("name", None)  # only a new stage takes a name
        if "stages" in body:
            default = Stage.objects.get(
                workspace=mapper.workspace, is_default=True, archived_at=None
            )
            body["stages"] = [{"key": k, "rule": VALID_RULE} for k in keys] + [
                {"key": default.key, "rule": None}
            ]
    if path.startswith("/api/v1/stages/{") and "rule" in body:
        stage = Stage.objects.filter(pk=path_ids.get("stage_id", 0)).first()
        if stage is not None and stage.is_default:
            body["rule"] = None  # the default stage has none


BLOCK_DOCUMENT = {"sections": [{"columns": [{"blocks": [{"type": "heading", "text": "Hello"}]}]}]}


def _complete_templates_and_contacts(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    if path.endswith("/send-test/") and "to" in body:
        # An address of the template's channel.
        template = Template.objects.filter(pk=path_ids.get("template_id", 0)).first()
        sms = template is not None and template.channel == "sms"
        body["to"] = "+14155550123" if sms else "test@example.com"
    if path.startswith("/api/v1/templates/{") and method.upper() == "PATCH":
        body.pop("channel", None)  # fixed once created
        if "subject" in body and not str(body["subject"]).strip():
            body["subject"] = "Hello"  # the seeded templates are email ones
    if path.startswith("/api/v1/templates") and method.upper() in ("POST", "PATCH"):
        # The block document's grammar has a validator and tests of its own
        # (tests/messaging/test_blocks.py): a valid one here.
        template = Template.objects.filter(pk=path_ids.get("template_id", 0)).first()
        if (template is not None and template.channel == "sms") or body.get("channel") == "sms":
            # Blocks are for email (a template made by an earlier POST may be an SMS one).
            body.pop("document", None)
            if body.get("editor") == "blocks":
                body["editor"] = "html"
        if "document" in body or body.get("editor") == "blocks":
            body["document"] = BLOCK_DOCUMENT
        if body.get("editor") == "blocks":
            body.pop("body", None)
            body.pop("text_body", None)
    if path.startswith("/api/v1/contacts/{") and method.upper() == "PATCH":
        for key in ("email", "phone", "external_id"):
            if key in body and body[key] in ("", None):
                del body[key]  # a contact keeps at least one identifier


def _complete_broadcasts(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    if path.startswith("/api/v1/campaigns/") and method.upper() in ("POST", "PATCH"):
        # A broadcast's template must be of its channel (the seeded ones are email); an
        # A/B test's variants must agree with each other: left out here.
        if "template_id" in body or method.upper() == "POST":
            body["channel"] = "email"
        else:
            body.pop("channel", None)  # keep the channel of the broadcast's template
        body.pop("variants", None)


def _complete_surveys(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    """What a survey's schema cannot say: a choice question has two choices or more,
    a custom scale's bottom is below its top, a send names an audience, and the
    contact asked exists now (a run may erase contacts)."""
    if not path.startswith("/api/v1/surveys/"):
        return
    if isinstance(body.get("choices"), list):
        body["choices"] = [
            c if str(c).strip() else f"Option {i}" for i, c in enumerate(body["choices"])
        ]
    if body.get("kind") == "choice" and len(body.get("choices") or []) < 2:
        body["choices"] = ["Yes, gladly", "Not now"]
    if body.get("kind") == "scale":
        low, high = body.get("scale_min"), body.get("scale_max")
        if isinstance(low, int) and isinstance(high, int) and low >= high:
            body["scale_min"], body["scale_max"] = 0, 10
    if (
        path.endswith("/send/")
        and not body.get("include_segment_ids")
        and not body.get("include_stage_ids")
    ):
        stage = Stage.objects.filter(workspace=mapper.workspace, archived_at=None).first()
        body["include_stage_ids"] = [stage.pk] if stage else []
    email = body.get("channel", "email") == "email"
    if path.endswith("/send/") and email and not str(body.get("subject") or "").strip():
        body["subject"] = "How did we do?"  # an email needs one; an SMS has none
    if path.endswith("/ask/") and "contact_id" in body:
        contact = Contact.objects.filter(workspace=mapper.workspace).order_by("pk").first()
        if contact is not None:
            body["contact_id"] = contact.pk


def _complete_journeys(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    if not (path.startswith("/api/v1/journeys/") and method.upper() in ("POST", "PATCH")):
        return
    # A journey's trigger, steps, goal and exit rule are a language of their own
    # (docs/campaigns.md), checked by the journey validator and its tests; their
    # combinations (a holdout needs a goal, moving contacts needs steps, leaving the
    # stage needs a stage trigger) too.
    if "trigger" in body:
        body["trigger"] = {"kind": "manual"}
    if "steps" in body:
        template_id = mapper.own["template_id"][0]
        body["steps"] = [
            {"key": "hi", "kind": "send_email", "config": {"template_id": template_id}}
        ]
    for key in ("entry_key", "move_removed_to", "holdout_percent"):
        body.pop(key, None)
    for key in ("goal", "exit_rule"):
        if key in body:
            body[key] = None
    if body.get("exit_on_stage_left"):
        body["exit_on_stage_left"] = False
    if body.get("reentry") == "cooldown":
        body["reentry_days"] = max(1, body.get("reentry_days") or 1)


def _complete_loyalty(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    """A multiplier window ends after it starts; the reward redeemed exists now (a run
    may delete rewards); an expiry reminder comes before the expiry (under 28 days
    fits any period, and a period set alone drops a stored reminder that could be
    longer)."""
    if path.endswith("/redeem/") and "reward_id" in body:
        reward = Reward.objects.filter(workspace=mapper.workspace).order_by("pk").first()
        if reward is not None:
            body["reward_id"] = reward.pk
    if path == "/api/v1/loyalty/programme/":
        if isinstance(body.get("expiry_reminder_days"), int):
            body["expiry_reminder_days"] = min(body["expiry_reminder_days"], 27)
        elif isinstance(body.get("expiry_months"), int) and "expiry_reminder_days" not in body:
            body["expiry_reminder_days"] = None
    if path.startswith("/api/v1/loyalty/") and isinstance(body.get("multipliers"), list):
        now = timezone.now()
        for index, window in enumerate(body["multipliers"]):
            if isinstance(window, dict):
                window["starts_at"] = (now + dt.timedelta(days=index)).isoformat()
                window["ends_at"] = (now + dt.timedelta(days=index + 1)).isoformat()


def _complete_referrals(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> None:
    """The referral settings name stages and rewards that exist now (a run may delete
    rewards); a contact's creation is referred by a code of the workspace, if it has
    one (an unknown code is a 400 naming `referred_by`)."""
    if path == "/api/v1/contacts/" and method.upper() == "POST" and body.get("referred_by"):
        code = ReferralCode.objects.filter(workspace=mapper.workspace).order_by("pk").first()
        body["referred_by"] = code.code if code is not None else None
    if not path.endswith("/referral-settings/"):
        return
    if isinstance(body.get("stage_ids"), list):
        stages = list(Stage.objects.filter(workspace=mapper.workspace).values_list("pk", flat=True))
        body["stage_ids"] = [stages[i % len(stages)] for i, _ in enumerate(body["stage_ids"])]
    reward = Reward.objects.filter(workspace=mapper.workspace).order_by("pk").first()
    for key in ("referrer_reward_id", "friend_reward_id"):
        if isinstance(body.get(key), int):
            body[key] = reward.pk if reward is not None else None


def complete_body(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> dict[str, Any]:
    """What a valid body needs that its schema cannot say (positive cases only): values
    checked against data (a stage key, the stages to order, a template's channel), a
    phone number in use, a rule's grammar, a time that is still to come."""
    for complete in (
        _complete_values,
        _complete_stages,
        _complete_templates_and_contacts,
        _complete_broadcasts,
        _complete_journeys,
        _complete_surveys,
        _complete_loyalty,
        _complete_referrals,
    ):
        complete(method, path, body, mapper, path_ids)
    return body


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None
