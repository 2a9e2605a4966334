"""The "survey answered" trigger: which answers let a contact in.

    {"kind": "survey_answered", "survey_id": 12 | null, "category": "detractor",
     "score_min": 0, "score_max": 6}

`survey_id` null (or absent) is any survey of the workspace. `category` and the score
bounds are optional and all that are given must hold. The categories are the ones the
reports use: promoter 9-10, passive 7-8 and detractor 0-6 of an NPS survey (a category
matches only answers to surveys of its kind), satisfied 4-5 and unsatisfied 1-3 of a
CSAT survey (CSAT is the share of 4-5, so "unsatisfied" is everyone else).

The entry is keyed by the response (`survey:<response id>`): an answer changed within
the change window is the same response, so it never enters a journey twice; a changed
answer that now matches a journey the first did not enters that one."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from campaigns.journeys.steps.base import Checker, Names
from surveys.models import Survey, SurveyKind
from surveys.scales import score_range


@dataclass(frozen=True)
class AnswerCategory:
    kind: str
    low: int
    high: int
    label: str


CATEGORIES = {
    "promoter": AnswerCategory(SurveyKind.NPS, 9, 10, "Promoters (NPS 9-10)"),
    "passive": AnswerCategory(SurveyKind.NPS, 7, 8, "Passives (NPS 7-8)"),
    "detractor": AnswerCategory(SurveyKind.NPS, 0, 6, "Detractors (NPS 0-6)"),
    "satisfied": AnswerCategory(SurveyKind.CSAT, 4, 5, "Satisfied (CSAT 4-5)"),
    "unsatisfied": AnswerCategory(SurveyKind.CSAT, 1, 3, "Unsatisfied (CSAT 1-3)"),
}
ANY_SCALE = (0, 10)


def answer_matches(trigger: dict[str, Any], *, survey_id: int, kind: str, score: int) -> bool:
    if trigger.get("survey_id") not in (None, survey_id):
        return False
    found = CATEGORIES.get(trigger.get("category") or "")
    if found is not None and not (found.kind == kind and found.low <= score <= found.high):
        return False
    low, high = trigger.get("score_min"), trigger.get("score_max")
    return (low is None or score >= low) and (high is None or score <= high)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def survey_trigger_check(c: Checker, trigger: dict[str, Any]) -> None:
    survey_id = trigger.get("survey_id")
    survey = None
    if survey_id is not None:
        survey = Survey.objects.filter(
            workspace=c.workspace, pk=survey_id if _whole(survey_id) else -1
        ).first()
        if survey is None:
            c.add("trigger.survey_id", "no such survey in this workspace")
            return
    category = trigger.get("category")
    if category not in (None, "", *CATEGORIES):
        c.add("trigger.category", f"must be one of {', '.join(CATEGORIES)}, or empty")
    elif category and survey is not None and CATEGORIES[category].kind != survey.kind:
        c.add(
            "trigger.category",
            f"a {category} is an answer to a {CATEGORIES[category].kind} "
            "survey; this survey is not one",
        )
    low, high = score_range(survey) if survey is not None else ANY_SCALE
    bounds: list[int] = []
    for key in ("score_min", "score_max"):
        value = trigger.get(key)
        if value is not None and (not _whole(value) or not low <= value <= high):
            c.add(f"trigger.{key}", f"must be a whole number from {low} to {high}, or empty")
        elif isinstance(value, int):
            bounds.append(value)
    if len(bounds) == 2 and bounds[0] > bounds[1]:
        c.add("trigger.score_max", "must not be below the lowest score")


def survey_trigger_words(trigger: dict[str, Any], names: Names) -> str:
    survey_id = trigger.get("survey_id")
    which = "any survey" if survey_id is None else f"survey {names.of('surveys', survey_id)}"
    parts = []
    found = CATEGORIES.get(trigger.get("category") or "")
    if found is not None:
        parts.append(f"as one of the {found.label[0].lower()}{found.label[1:]}")
    low, high = trigger.get("score_min"), trigger.get("score_max")
    if low is not None and high is not None:
        parts.append(f"with a score from {low} to {high}")
    elif low is not None:
        parts.append(f"with a score of {low} or more")
    elif high is not None:
        parts.append(f"with a score of {high} or less")
    return " ".join([f"Answers {which}", *parts])
