"""Steps that act: set or remove a contact attribute, move the contact to a stage
(manual cause, optionally pinned), call a webhook (signed, with an Idempotency-Key,
retried with backoff, through the SSRF guard), or leave the journey."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import random
import re
from typing import Any

from django.conf import settings
from django.db import connection

from campaigns.journeys.runs import Batch, Run, move_all, resume_due
from campaigns.journeys.steps.base import Checker, Names, StepType
from campaigns.models import EnrolmentStatus, JourneyStep, StepKind
from config import outbound
from contacts.models import Contact
from contacts.services.marks import contacts_mark_changed
from lifecycle.models import Stage
from lifecycle.services.moves import contact_stage_set
from workspaces.services import Actor

logger = logging.getLogger(__name__)

WEBHOOK_ATTEMPTS = 5
# The receiver's answer is read only for its status; a longer one fails the call.
WEBHOOK_MAX_ANSWER_BYTES = 64 * 1024


class UpdateAttribute(StepType):
    kind = StepKind.UPDATE_ATTRIBUTE

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        attribute = config.get("attribute")
        if not isinstance(attribute, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,64}", attribute):
            c.add(f"{path}.attribute", "must be an attribute name (letters, digits, _)")
        if "value" not in config:
            c.add(f"{path}.value", "is required (null removes the attribute)")

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        if config.get("value") is None:
            return [f"remove {config.get('attribute')}"]
        return [f"set {config.get('attribute')} = {config.get('value')!r}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _update_attribute(batch, step, runs)


class MoveStage(StepType):
    kind = StepKind.MOVE_STAGE

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        c.stage(f"{path}.stage_id", config.get("stage_id"))
        if config.get("pin_days") is not None:
            c.positive_int(f"{path}.pin_days", config.get("pin_days"), high=3650)

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        pin = config.get("pin_days")
        return [f"to {names.of('stages', config.get('stage_id'))}"] + (
            [f"kept there for {pin} days"] if pin else []
        )

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _move_stage(batch, step, runs)


class Webhook(StepType):
    kind = StepKind.WEBHOOK

    def validate(self, c: Checker, path: str, config: dict[str, Any]) -> None:
        error = webhook_url_error(config.get("url"))
        if error:
            c.add(f"{path}.url", error)

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return [f"POST {config.get('url')}"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        _webhook(batch, step, runs)


class Exit(StepType):
    kind = StepKind.EXIT

    def successors(self, config: dict[str, Any]) -> list[str | None]:
        return []

    def describe(self, config: dict[str, Any], names: Names) -> list[str]:
        return ["leave the journey"]

    def run(self, batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
        for run in runs:
            batch.finish(run, EnrolmentStatus.EXITED, "exit step")


def webhook_url_error(url: Any) -> str:
    """Why this URL may not be called, or "": not http(s), or a host that is not a
    public address (config/outbound.py). The step checks again when it calls, and
    connects to the address it checked."""
    return outbound.url_error(url)


def _update_attribute(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    attribute, value = step.config["attribute"], step.config.get("value")
    ids = sorted({r.contact_id for r in runs})
    with connection.cursor() as cursor:
        if value is None:
            cursor.execute(
                "UPDATE contacts_contact SET attributes = attributes - %s, updated_at = %s "
                "WHERE id = ANY(%s)",
                [attribute, batch.now, ids],
            )
        else:
            cursor.execute(
                "UPDATE contacts_contact SET attributes = jsonb_set(attributes, %s, %s::jsonb), "
                "updated_at = %s WHERE id = ANY(%s)",
                [[attribute], json.dumps(value), batch.now, ids],
            )
    contacts_mark_changed(contact_ids=ids)
    move_all(batch, step, runs)


def _move_stage(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    stage = Stage.objects.get(pk=step.config["stage_id"])
    pin_days = step.config.get("pin_days")
    actor = Actor(system=f"journey:{batch.journey.pk}")
    contacts = Contact.objects.select_related("workspace").in_bulk({r.contact_id for r in runs})
    for run in runs:
        if stage.archived_at is None:
            contact_stage_set(
                contact=contacts[run.contact_id],
                stage=stage,
                actor=actor,
                reason=f"journey {batch.journey.name!r}, step {step.key!r}",
                pinned_until=batch.now + dt.timedelta(days=pin_days) if pin_days else None,
            )
    move_all(batch, step, runs)


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _webhook(batch: Batch, step: JourneyStep, runs: list[Run]) -> None:
    runs = resume_due(batch, step, runs)
    contacts = {
        c["id"]: c
        for c in Contact.objects.filter(pk__in={r.contact_id for r in runs}).values(
            "id", "email", "phone", "external_id", "first_name", "last_name", "attributes"
        )
    }
    secret = str(step.config.get("secret", ""))
    for run in runs:
        body = json.dumps(
            {
                "journey": {"id": batch.journey.pk, "name": batch.journey.name},
                "step": step.key,
                "enrolment_id": run.id,
                "contact": contacts.get(run.contact_id),
                "sent_at": batch.now.isoformat(),
            },
            default=str,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": f"journey:{run.id}:{step.pk}",
            "User-Agent": "Stagecraft-Journeys/1",
        }
        if secret:
            headers["X-Stagecraft-Signature"] = webhook_signature(secret, body)
        # The guard resolves the host once, refuses any address that is not public
        # (DNS may have changed since the journey was saved) and connects to the
        # address it checked, so a rebinding DNS server cannot send it elsewhere.
        try:
            response = outbound.request(
                "POST",
                step.config["url"],
                body=body,
                headers=headers,
                timeout=settings.JOURNEY_WEBHOOK_TIMEOUT,
                max_bytes=WEBHOOK_MAX_ANSWER_BYTES,
            )
            ok, error = 200 <= response.status < 300, f"HTTP {response.status}"
        except (outbound.OutboundRefused, outbound.OutboundFailed) as exc:
            ok, error = False, exc.reason
        if ok:
            batch.move(run, step.config.get("next"))
            continue
        run.attempts += 1
        logger.warning(
            "campaigns.journey_webhook_failed journey=%s step=%s enrolment=%s attempt=%s error=%s",
            batch.journey.pk,
            step.key,
            run.id,
            run.attempts,
            error,
        )
        if run.attempts >= WEBHOOK_ATTEMPTS:
            batch.move(run, step.config.get("next"))  # given up: the journey goes on
        else:
            delay = settings.JOURNEY_WEBHOOK_RETRY_SECONDS * 2 ** (run.attempts - 1)
            batch.park(run, batch.now + dt.timedelta(seconds=random.uniform(delay / 2, delay)))
