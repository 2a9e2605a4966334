"""Writes to surveys: create, edit, delete. Every field of the API's and the
dashboard's body is checked at once and refused with the field and the reason."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils import timezone

from config.errors import field_errors
from surveys.models import Locale, Survey, SurveyKind
from surveys.scales import CUSTOM_SCALE_LIMITS
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

TEXTS = {
    "name": (200, True),
    "question": (500, True),
    "follow_up": (500, False),
    "follow_up_low": (500, False),
    "follow_up_high": (500, False),
    "thank_you": (500, False),
}
FIELDS = (*TEXTS, "kind", "scale_min", "scale_max", "choices", "locale", "transactional")
MAX_CHOICES = 10
MAX_CHOICE_CHARS = 100

Errors = dict[str, list[str]]


def _text(value: Any, field: str, errors: Errors) -> str | None:
    limit, required = TEXTS[field]
    if not isinstance(value, str) or "\x00" in value:
        errors[field] = ["must be text"]
        return None
    value = value.strip()
    if required and not value:
        errors[field] = ["must not be blank"]
    elif len(value) > limit:
        errors[field] = [f"at most {limit} characters"]
    return value


def _whole(value: Any, field: str, errors: Errors) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | str):
        errors[field] = ["must be a whole number"]
        return None
    try:
        number = int(value)
    except ValueError:
        errors[field] = ["must be a whole number"]
        return None
    low, high = CUSTOM_SCALE_LIMITS
    if not low <= number <= high:
        errors[field] = [f"must be between {low} and {high}"]
        return None
    return number


def _choices(value: Any, errors: Errors) -> list[str] | None:
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        errors["choices"] = ["must be a list of texts"]
        return None
    blank = [i for i, c in enumerate(value) if not c.strip()]
    if blank:
        errors[f"choices[{blank[0]}]"] = ["is empty"]
        return None
    cleaned = [c.strip() for c in value]
    if len(cleaned) > MAX_CHOICES:
        errors["choices"] = [f"at most {MAX_CHOICES} choices"]
    elif any(len(c) > MAX_CHOICE_CHARS or "\x00" in c for c in cleaned):
        errors["choices"] = [f"each choice at most {MAX_CHOICE_CHARS} characters"]
    return cleaned


def _apply(survey: Survey, data: dict[str, Any]) -> None:
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise field_errors({key: ["unknown field"] for key in unknown})
    errors: Errors = {}
    for field in TEXTS:
        if field in data:
            value = _text(data[field], field, errors)
            if value is not None:
                setattr(survey, field, value)
    for field, allowed in (("kind", SurveyKind.values), ("locale", Locale.values)):
        if field in data:
            if data[field] not in allowed:
                errors[field] = [f"one of {', '.join(allowed)}"]
            else:
                setattr(survey, field, data[field])
    if "transactional" in data:
        if not isinstance(data["transactional"], bool):
            errors["transactional"] = ["must be true or false"]
        else:
            survey.transactional = data["transactional"]
    _apply_scale(survey, data, errors)
    if "choices" in data:
        choices = _choices(data["choices"], errors)
        if choices is not None:
            survey.choices = choices
    _check_whole(survey, errors)
    if errors:
        raise field_errors(errors)


def _apply_scale(survey: Survey, data: dict[str, Any], errors: Errors) -> None:
    for field in ("scale_min", "scale_max"):
        if field in data:
            number = _whole(data[field], field, errors)
            if number is not None:
                setattr(survey, field, number)


def _check_whole(survey: Survey, errors: Errors) -> None:
    """What only the survey as a whole can say."""
    if not survey.kind:
        errors.setdefault("kind", ["is required"])
    if survey.kind == SurveyKind.SCALE and survey.scale_min >= survey.scale_max:
        errors.setdefault("scale_max", ["must be greater than scale_min"])
    if survey.kind == SurveyKind.CHOICE and len(survey.choices) < 2:
        errors.setdefault("choices", ["a choice question needs at least two choices"])
    for field in ("name", "question"):
        if not getattr(survey, field):
            errors.setdefault(field, ["is required"])


@transaction.atomic
def survey_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Survey:
    survey = Survey(workspace=workspace, kind="", name="", question="")
    _apply(survey, data)
    save_or_conflict(survey, "A survey with this name exists.")
    audit_record(
        workspace=workspace,
        action="survey.created",
        actor=actor,
        object_type="survey",
        object_id=survey.pk,
    )
    return survey


@transaction.atomic
def survey_update(*, survey: Survey, data: dict[str, Any], actor: Actor) -> Survey:
    """Edit a survey. Its kind stays what it was once answered: the answers' scores
    would mean something else."""
    if "kind" in data and data["kind"] != survey.kind and survey.responses.exists():
        raise field_errors({"kind": ["cannot change once the survey has answers"]})
    _apply(survey, data)
    survey.updated_at = timezone.now()
    fields = [f for f in FIELDS if f in data] + ["updated_at"]
    save_or_conflict(survey, "A survey with this name exists.", update_fields=fields)
    audit_record(
        workspace=survey.workspace,
        action="survey.updated",
        actor=actor,
        object_type="survey",
        object_id=survey.pk,
        details={"fields": sorted(data)},
    )
    return survey


@transaction.atomic
def survey_delete(*, survey: Survey, actor: Actor) -> None:
    audit_record(
        workspace=survey.workspace,
        action="survey.deleted",
        actor=actor,
        object_type="survey",
        object_id=survey.pk,
        details={"name": survey.name},
    )
    survey.delete()
