"""The OpenAPI schema (/api/schema/) describes the API exactly: schemathesis runs every
operation of the live app against it and must find nothing.

The app is served over real HTTP by config.wsgi.application (the same split of /api/
and dashboard as in production) from a thread of this process; schemathesis's engine
(what `schemathesis run` uses) generates requests from the schema in all its phases
(examples, coverage: boundary and invalid values, fuzzing) and runs every check:
no 5xx, every status code and content type documented, every response valid against
its schema, invalid requests refused with 4xx, valid ones accepted.

Both tenants' keys are used (a run as the `owner` persona, one as the `outsider`), and
path ids are drawn from real objects of both workspaces, so each operation meets its
caller's objects and another workspace's (which must be 404, as documented).
Destructive operations (DELETE, cancel) run in a third run, with a throwaway
workspace's key on that workspace's objects.

What a schema cannot say is supplied for positive cases only (`complete_body`,
`complete_query`): ids of objects that exist, a phone number in use, a cursor handed out
by an earlier page, a report period that ends after it starts, and the grammars of the
rule and journey languages, which have validators and tests of their own. Nothing is
taken out of the checks.

SCHEMATHESIS_EXAMPLES (default 4) bounds the examples per operation and phase: about
14,000 requests in 90-120 s on 2 cores. Generation is deterministic unless
SCHEMATHESIS_RANDOM=1. SCHEMATHESIS_REPORT=path writes the findings.
"""

from __future__ import annotations

import collections
import datetime as dt
import os
import threading
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
import schemathesis
from django.db import IntegrityError, connections, transaction
from django.utils import timezone
from schemathesis.engine import events, from_schema

from config.errors import DomainError
from config.wsgi import application
from lifecycle.models import Stage
from messaging.models import Template
from tests.conftest import Persona, _persona
from tests.test_isolation import OBJECT_MAKERS

pytestmark = pytest.mark.django_db(transaction=True)

EXAMPLES = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "4"))
# Each maker is called this many times per workspace, so that a destructive operation
# finds a live object for more than its first example.
OBJECTS_PER_KIND = 3
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "negative_data_rejection",
    "positive_data_acceptance",
    "missing_required_header",
    "unsupported_method",
    "ignored_auth",
]


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def live_api() -> Iterator[str]:
    """config.wsgi.application on 127.0.0.1, one request at a time (one DB connection)."""

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        try:
            return application(environ, start_response)
        finally:
            # wsgiref answers from this one thread: a failed statement must not leave
            # its connection unusable for the next request.
            connections["default"].close_if_unusable_or_obsolete()

    server = make_server("127.0.0.1", 0, app, server_class=WSGIServer, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _is_destructive(method: str, path: str) -> bool:
    return method.upper() == "DELETE" or path.rstrip("/").endswith("/cancel")


@dataclass
class Tenants:
    owner: Persona
    outsider: Persona
    throwaway: Persona
    ids: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def seed(self) -> None:
        for persona in (self.owner, self.outsider, self.throwaway):
            pools = self.ids.setdefault(persona.workspace.slug, {})
            for name, make in OBJECT_MAKERS.items():
                made: set[int] = set()
                for _ in range(OBJECTS_PER_KIND):
                    try:
                        with transaction.atomic():
                            obj = make(persona.workspace)
                    except (IntegrityError, DomainError):  # one per workspace
                        continue
                    made.add(int(getattr(obj, "pk", obj)))
                assert made, name
                pools[name] = sorted(made)


@pytest.fixture
def tenants(owner: Persona, outsider: Persona) -> Tenants:
    result = Tenants(owner, outsider, _persona("throwaway", "dana@throwaway.test"))
    result.seed()
    return result


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
}


def complete_query(path: str, query: dict[str, Any]) -> dict[str, Any]:
    """What a valid query needs that its schema cannot say (positive cases only)."""
    # A cursor is a token the previous page handed out; a made-up one is refused.
    if query.get("cursor"):
        del query["cursor"]
    # A report's period: start on or before end (default today), at most ten years.
    if "/analytics/" in path and ("start" in query or "end" in query):
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
    return query


# A rule of the rule language: the schema says "an object, see docs/rules.md"; its
# grammar has a validator and tests of its own (tests/contacts/test_rules*.py).
VALID_RULE = {"attr": "plan", "op": "eq", "value": "pro"}


def complete_body(
    method: str, path: str, body: dict[str, Any], mapper: IdMapper, path_ids: dict[str, Any]
) -> dict[str, Any]:
    """What a valid body needs that its schema cannot say (positive cases only): values
    checked against data (a stage key, the stages to order, a template's channel), a
    phone number in use, a rule's grammar, a time that is still to come."""
    now = timezone.now()
    if isinstance(body.get("phone"), str) and body["phone"]:
        body["phone"] = "+14155550123"  # the pattern cannot say which numbers exist
    if isinstance(body.get("rule"), dict) or (
        path.startswith("/api/v1/stages/") and "rule" in body
    ):
        body["rule"] = VALID_RULE
    if path.endswith("/stages/reorder/") and "order" in body:
        body["order"] = list(mapper.stage_keys)
    if path.endswith("/stage/") and "stage" in body:
        keys = mapper.stage_keys or ["lead"]
        body["stage"] = keys[len(str(body["stage"])) % len(keys)]
    if path.endswith("/send-test/") and "to" in body:
        # An address of the template's channel.
        template = Template.objects.filter(pk=path_ids.get("template_id", 0)).first()
        sms = template is not None and template.channel == "sms"
        body["to"] = "+14155550123" if sms else "test@example.com"
    if path.startswith("/api/v1/stages/{") and "rule" in body:
        stage = Stage.objects.filter(pk=path_ids.get("stage_id", 0)).first()
        if stage is not None and stage.is_default:
            body["rule"] = None  # the default stage has none
    if path.endswith("/start/") and "mapping" in body:
        # The mapping names columns of the uploaded file (the seeded ones: "email").
        body["mapping"], body["match_on"] = {"email": "email"}, "email"
    if path.startswith("/api/v1/templates/{") and method.upper() == "PATCH":
        body.pop("channel", None)  # fixed once created
        if "subject" in body and not str(body["subject"]).strip():
            body["subject"] = "Hello"  # the seeded templates are email ones
    for key in ("start_at", "pinned_until"):
        if isinstance(body.get(key), str) and body[key]:
            body[key] = (now + dt.timedelta(days=1)).isoformat()
    if isinstance(body.get("occurred_at"), str) and body["occurred_at"] > now.isoformat():
        body["occurred_at"] = now.isoformat()
    contact = body.get("contact")
    if isinstance(contact, dict) and isinstance(contact.get("id"), int):
        # An event names its contact by id only if it exists (unknown emails create one).
        contact["id"] = mapper.body_id("contact_id", contact["id"])
    if path.endswith("/clv/model/") and isinstance(body.get("as_of"), str):
        body["as_of"] = min(body["as_of"], now.date().isoformat())
    if path.startswith("/api/v1/contacts/{") and method.upper() == "PATCH":
        for key in ("email", "phone", "external_id"):
            if key in body and body[key] in ("", None):
                del body[key]  # a contact keeps at least one identifier
    if path.startswith("/api/v1/campaigns/") and method.upper() in ("POST", "PATCH"):
        # A broadcast's template must be of its channel (the seeded ones are email); an
        # A/B test's variants must agree with each other: left out here.
        if "template_id" in body or method.upper() == "POST":
            body["channel"] = "email"
        else:
            body.pop("channel", None)  # keep the channel of the broadcast's template
        body.pop("variants", None)
    if path.startswith("/api/v1/journeys/") and method.upper() in ("POST", "PATCH"):
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
    return body


def _date(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(value)) if value else None
    except ValueError:
        return None


def _install_hooks(mapper: IdMapper) -> list[Any]:
    @schemathesis.hook
    def map_case(context: Any, case: Any) -> Any:
        if case.path_parameters:
            case.path_parameters = {
                name: mapper.path_id(name, value)
                if name in OBJECT_MAKERS and isinstance(value, int) and not isinstance(value, bool)
                else value
                for name, value in case.path_parameters.items()
            }
        meta = case.meta
        if meta is None or not meta.generation.mode.is_positive:
            return case
        if isinstance(case.body, dict | list):
            case.body = mapper.body(case.body)
        if isinstance(case.body, dict):
            path_ids = dict(case.path_parameters or {})
            case.body = complete_body(case.method, case.operation.path, case.body, mapper, path_ids)
        if case.query:
            case.query = complete_query(case.operation.path, mapper.body(dict(case.query)))
        return case

    return [map_case]


@dataclass
class Finding:
    operation: str
    check: str
    title: str
    request: str
    status: int | None
    body: bytes
    detail: str = ""


def run_schemathesis(
    base_url: str, caller: Persona, other: Persona, tenants: Tenants, *, destructive: bool
) -> tuple[list[Finding], int]:
    """One schemathesis run as `caller`: the destructive operations only, or all others."""
    schema: Any = schemathesis.openapi.from_url(f"{base_url}/api/schema/")

    def matches(ctx: Any) -> bool:
        return _is_destructive(ctx.operation.method, ctx.operation.path)

    schema = schema.include(func=matches) if destructive else schema.exclude(func=matches)
    schema.config.update(
        base_url=base_url,
        workers=1,
        continue_on_failure=True,
        headers={"Authorization": f"Bearer {caller.secret}"},
    )
    schema.config.generation.update(
        modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
        max_examples=EXAMPLES,
        # Text the API takes is text PostgreSQL can store: no NUL, no lone surrogates
        # (config/parsers.py refuses both with a 400, which tests/test_api_input.py checks).
        allow_x00=False,
        codec="utf-8",
        # The suite runs the same cases every time (a red run is a change, never luck);
        # SCHEMATHESIS_RANDOM=1 explores new ones, as the by-hand runs do.
        deterministic=not os.environ.get("SCHEMATHESIS_RANDOM"),
    )
    schema.config.phases.update(phases=["examples", "coverage", "fuzzing"])
    schema.config.checks.update(included_check_names=CHECKS)
    registered = _install_hooks(IdMapper(tenants, caller, other))
    findings: list[Finding] = []
    calls = 0
    try:
        for event in from_schema(schema).execute():
            if isinstance(event, events.FatalError):
                raise event.exception
            if isinstance(event, events.NonFatalError):
                findings.append(
                    Finding(
                        event.label, "error", str(event.value), _traceback(event.value), None, b""
                    )
                )
            if not isinstance(event, events.ScenarioFinished):
                continue
            recorder = event.recorder
            calls += len(recorder.interactions)
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.failure_info is None:
                        continue
                    if _mislabelled(check.name, check.failure_info.failure.message):
                        continue
                    interaction = recorder.interactions.get(case_id)
                    response = interaction.response if interaction else None
                    findings.append(
                        Finding(
                            operation=recorder.label,
                            check=check.name,
                            title=check.failure_info.failure.title,
                            request=check.failure_info.code_sample,
                            status=response.status_code if response else None,
                            body=(response.content or b"")[:300] if response else b"",
                            detail=check.failure_info.failure.message[:600],
                        )
                    )
    finally:
        for hook in registered:
            schemathesis.hooks.unregister(hook)
    return findings, calls


def _mislabelled(check: str, message: str) -> bool:
    """A case schemathesis itself describes as "Positive test case" yet checks as negative.
    Seen (about 1 in 14,000 requests) only on the multipart CSV upload, whose negated
    form fields can reach the server as a valid upload: the finding is about the
    generator, not the API. Only this exact pairing is set aside."""
    return check == "negative_data_rejection" and message.endswith(
        "Invalid component: positive test case"
    )


def _traceback(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))[-1500:]


def _report(findings: list[Finding]) -> str:
    grouped: dict[tuple[str, str, str], list[Finding]] = collections.defaultdict(list)
    for finding in findings:
        grouped[(finding.operation, finding.check, finding.title)].append(finding)
    lines = []
    for (operation, check, title), group in sorted(grouped.items()):
        first = group[0]
        lines.append(f"{operation} {check}: {title} (x{len(group)})")
        lines.append(f"    {first.request[:1500]}")
        lines.append(f"    -> {first.status} {first.body[:300]!r}")
        if first.detail:
            lines.append("    " + first.detail.replace("\n", "\n    "))
    return "\n".join(lines)


def test_schemathesis_finds_nothing(live_api: str, tenants: Tenants) -> None:
    runs = [
        (tenants.owner, tenants.outsider, False),
        (tenants.outsider, tenants.owner, False),
        (tenants.throwaway, tenants.owner, True),
    ]
    findings: list[Finding] = []
    calls = 0
    for caller, other, destructive in runs:
        found, made = run_schemathesis(live_api, caller, other, tenants, destructive=destructive)
        findings += found
        calls += made
    report = _report(findings)
    out = os.environ.get("SCHEMATHESIS_REPORT")
    if out:
        with open(out, "w") as handle:
            handle.write(f"calls {calls} findings {len(findings)}\n{report}\n")
    assert calls > 1000, f"only {calls} requests were made"
    assert not findings, f"{len(findings)} findings in {calls} requests:\n{report}"
