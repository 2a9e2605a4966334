"""Workspace isolation across the whole API.

Walks every route under /api/v1/ as a user of another workspace: every route with an
id answers 404 for our ids (never 403, never data), and list routes never show our
rows. A new route with an id parameter must name how to make one below, or this test
fails, so no route escapes the walk."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from django.urls import URLPattern, URLResolver, get_resolver

from campaigns.broadcasts.services import broadcast_create
from campaigns.journeys.services import journey_create, journey_schedule
from campaigns.models import Broadcast
from contacts.services import import_job_create
from lifecycle.models import WhatIfRun
from lifecycle.services import stages_create_defaults
from loyalty.models import EntryKind, Referral, SourceKind, Tier
from loyalty.services import balance_lock, entry_append, reward_create, tier_create
from messaging.models import Template
from messaging.services import message_enqueue, template_create
from messaging.services.domains import sending_domain_create
from messaging.services.media import media_file_create
from surveys.models import Review
from surveys.services import survey_create
from tests.factories import (
    ContactFactory,
    EventFactory,
    MembershipFactory,
    SegmentFactory,
    SpendFactory,
    UserFactory,
)
from workspaces.models import Invitation, Workspace
from workspaces.services import Actor

pytestmark = pytest.mark.django_db


# How to make an object of ours for each id parameter an API route takes.
def _stage(ws: Workspace) -> int:
    stages = stages_create_defaults(workspace=ws)
    return next(stage.pk for stage in stages if stage.key == "customer")


def _template(ws: Workspace) -> Template:
    template = Template.objects.filter(workspace=ws, name="secret template").first()
    return template or template_create(
        workspace=ws,
        data={"name": "secret template", "channel": "email", "subject": "s", "body": "secret"},
        actor=Actor(system="test"),
    )


def _broadcast(ws: Workspace) -> Broadcast:
    broadcast = Broadcast.objects.filter(workspace=ws, name="secret broadcast").first()
    return broadcast or broadcast_create(
        workspace=ws,
        data={"name": "secret broadcast", "channel": "email", "template_id": _template(ws).pk},
        actor=Actor(system="test"),
    )


def _journey(ws: Workspace) -> int:
    journey = journey_create(
        workspace=ws,
        data={
            "name": "secret journey",
            "trigger": {"kind": "manual"},
            "steps": [
                {"key": "hi", "kind": "send_email", "config": {"template_id": _template(ws).pk}}
            ],
        },
        actor=Actor(system="test"),
    )
    return journey_schedule(journey=journey, actor=Actor(system="test")).pk


def _next_threshold(ws: Workspace) -> int:
    return 1000 * (Tier.objects.filter(workspace=ws).count() + 1)


def _order(ws: Workspace) -> int:
    """An order that earned points: its id is the number returned."""
    contact = ContactFactory.create(workspace=ws)
    with transaction.atomic():
        balance = balance_lock(workspace_id=ws.pk, contact_id=contact.pk)
        entry_append(
            balance=balance,
            kind=EntryKind.EARN,
            points=10,
            idempotency_key=f"secret-order-{contact.pk}",
            source_kind=SourceKind.ORDER,
            order_id=str(contact.pk),
        )
    return contact.pk


OBJECT_MAKERS: dict[str, Callable[[Workspace], int]] = {
    "contact_id": lambda ws: (
        EventFactory.create(contact=ContactFactory.create(workspace=ws)).contact_id
    ),
    "import_id": lambda ws: (
        import_job_create(
            workspace=ws,
            actor=Actor(system="test"),
            upload=SimpleUploadedFile("a.csv", b"email\nsecret@example.com\n"),
        ).pk
    ),
    "segment_id": lambda ws: (
        SegmentFactory.create(
            workspace=ws, name="secret segment", rule={"attr": "plan", "op": "eq", "value": "pro"}
        ).pk
    ),
    "stage_id": _stage,
    "whatif_run_id": lambda ws: (
        WhatIfRun.objects.create(workspace=ws, proposal={"stages": [{"key": "secret"}]}).pk
    ),
    "spend_id": lambda ws: (
        SpendFactory.create(workspace=ws, source="secret", month="2026-01-01", amount=10).pk
    ),
    "template_id": lambda ws: _template(ws).pk,
    "survey_id": lambda ws: (
        survey_create(
            workspace=ws,
            data={"name": "secret survey", "kind": "nps", "question": "Recommend us?"},
            actor=Actor(system="test"),
        ).pk
    ),
    "review_id": lambda ws: (
        Review.objects.create(
            workspace=ws,
            survey=survey_create(
                workspace=ws,
                data={"name": "secret reviews", "kind": "review", "question": "Rate it"},
                actor=Actor(system="test"),
            ),
            send_key="m1",
            item_kind="product",
            item_id="secret-sku",
            rating=5,
            text="secret review",
            status="approved",
        ).pk
    ),
    "broadcast_id": lambda ws: _broadcast(ws).pk,
    "reward_id": lambda ws: (
        reward_create(
            workspace=ws,
            data={
                "name": f"secret reward {uuid.uuid4().hex[:8]}",
                "kind": "discount_code",
                "points_cost": 10,
            },
            actor=Actor(system="test"),
        ).pk
    ),
    "order_id": _order,
    "referral_id": lambda ws: (
        Referral.objects.create(
            workspace=ws,
            referrer=ContactFactory.create(workspace=ws),
            referred=ContactFactory.create(workspace=ws),
            code="SECRETCODE",
            status="flagged",
        ).pk
    ),
    "tier_id": lambda ws: (
        tier_create(
            workspace=ws,
            data={"name": f"secret tier {uuid.uuid4().hex[:8]}", "threshold": _next_threshold(ws)},
            actor=Actor(system="test"),
        ).pk
    ),
    "journey_id": _journey,
    "domain_id": lambda ws: (
        sending_domain_create(
            workspace=ws, domain=f"d{uuid.uuid4().hex[:12]}.example", actor=Actor(system="test")
        ).pk
    ),
    "message_id": lambda ws: (
        message_enqueue(
            contact=ContactFactory.create(workspace=ws, email="secret-msg@example.com"),
            template=_template(ws),
            idempotency_key="secret-key",
        ).message.pk
    ),
    "member_id": lambda ws: (
        MembershipFactory.create(
            workspace=ws, user=UserFactory.create(email=f"secret-member-{ws.pk}@example.com")
        ).pk
    ),
    "media_id": lambda ws: (
        media_file_create(
            workspace=ws,
            actor=Actor(system="test"),
            upload=SimpleUploadedFile("secret.png", b"\x89PNG\r\n\x1a\n" + bytes(32)),
        ).pk
    ),
    "invitation_id": lambda ws: (
        Invitation.objects.create(
            workspace=ws,
            email="secret-invitee@example.com",
            role="viewer",
            token_hash=f"{ws.pk:064d}",
        ).pk
    ),
}
# Path parameters that name no object (every workspace has each), or a key the
# workspace's own systems choose (a product's id: PUT creates it): the outsider reaches
# its own, so these routes are checked by their own modules' outsider tests.
NOT_OBJECTS = {"channel", "product_id"}
# Routes that answer 404 until the workspace has one (the outsider has none).
NOTHING_YET = {"api/v1/analytics/clv/model/"}
METHODS = ("get", "post", "put", "patch", "delete")


def _routes(resolver: URLResolver | None = None, prefix: str = "") -> Iterator[str]:
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        pattern = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from _routes(entry, pattern)
        elif isinstance(entry, URLPattern) and pattern.startswith("api/v1/"):
            yield pattern


def api_routes() -> list[str]:
    return sorted(set(_routes()))


def _fill(route: str, ids: dict[str, int]) -> str:
    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: str(ids[m.group(1)]), route)


def test_every_route_is_walked():
    params = {p for route in api_routes() for p in re.findall(r"<(?:\w+:)?(\w+)>", route)}
    known = set(OBJECT_MAKERS) | NOT_OBJECTS
    assert params <= known, f"teach the walk about {params - known}"
    assert len(api_routes()) >= 8


def test_outsider_gets_404_for_every_foreign_id(owner, outsider_api):
    ids = {name: make(owner.workspace) for name, make in OBJECT_MAKERS.items()}
    for route in api_routes():
        if "<" not in route or any(
            f"<{name}>" in route or f":{name}>" in route for name in NOT_OBJECTS
        ):
            continue
        url = _fill(route, ids)
        # The route is real: its owner does not get 404 (GET, or 405 where GET is absent).
        assert owner.api.get(url).status_code != 404, url
        walked = 0
        for method in METHODS:
            response = getattr(outsider_api, method)(url, {}, format="json")
            if response.status_code == 405:
                continue
            walked += 1
            assert response.status_code == 404, (method, url, response.status_code)
            assert response.json()["error"]["code"] == "not_found"
        assert walked, f"no method of {route} was tried"


def test_outsider_lists_show_none_of_our_rows(owner, outsider_api):
    ContactFactory.create(workspace=owner.workspace, email="secret-contact@example.com")
    for maker in OBJECT_MAKERS.values():
        maker(owner.workspace)
    for route in api_routes():
        if "<" in route:
            continue
        response = outsider_api.get("/" + route)
        if response.status_code == 405:
            continue
        if route in NOTHING_YET:
            assert response.status_code == 404, route
            continue
        assert response.status_code == 200, route
        body = (
            b"".join(response.streaming_content) if response.streaming else response.content
        ).decode()
        assert "secret" not in body, route
        assert owner.workspace.slug not in body or route == "api/v1/workspace/", route
