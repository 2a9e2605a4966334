"""What each survey kind asks: the range of scores, their labels in each locale, the
category of an NPS score, and the page texts a respondent reads, translated."""

from __future__ import annotations

from dataclasses import dataclass

from surveys.models import Category, Survey, SurveyKind

FIXED_RANGES = {
    SurveyKind.NPS: (0, 10),
    SurveyKind.CSAT: (1, 5),
    SurveyKind.CES: (1, 7),
    SurveyKind.REVIEW: (1, 5),
}
# The kinds whose answer is a number on the scale, so an SMS reply "9" can be one (a
# choice's score is a position in a list an SMS does not show).
REPLY_KINDS = (SurveyKind.NPS, SurveyKind.CSAT, SurveyKind.CES, SurveyKind.SCALE)
CUSTOM_SCALE_LIMITS = (0, 10)

# Ends of each scale, and the labels of the short scales, per locale.
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "nps_low": "Not at all likely",
        "nps_high": "Extremely likely",
        "csat_1": "Very unsatisfied",
        "csat_2": "Unsatisfied",
        "csat_3": "Neutral",
        "csat_4": "Satisfied",
        "csat_5": "Very satisfied",
        "ces_low": "Very difficult",
        "ces_high": "Very easy",
        "scale_low": "Low",
        "scale_high": "High",
        "yes": "Yes",
        "no": "No",
        "your_answer": "Your answer",
        "change": "Change your answer",
        "comment_label": "Your comment (optional)",
        "send": "Send",
        "save_answer": "Save my answer",
        "thanks": "Thank you for your answer.",
        "locked": "Your answer has been recorded and can no longer be changed.",
        "confirm": "Please confirm your answer.",
        "comment_saved": "Thank you, your comment was saved.",
        "reply_hint": "Reply {low}-{high} or tap:",
        "stars": "{n} of 5 stars",
        "review_order": "Your order",
        "review_order_id": "Order {id}",
        "review_rating": "Your rating",
        "review_text": "Your review (optional)",
        "review_saved": "Thank you! Your review will appear once it has been checked.",
        "review_send": "Send my reviews",
    },
    "de": {
        "nps_low": "Überhaupt nicht wahrscheinlich",
        "nps_high": "Äußerst wahrscheinlich",
        "csat_1": "Sehr unzufrieden",
        "csat_2": "Unzufrieden",
        "csat_3": "Neutral",
        "csat_4": "Zufrieden",
        "csat_5": "Sehr zufrieden",
        "ces_low": "Sehr schwierig",
        "ces_high": "Sehr einfach",
        "scale_low": "Niedrig",
        "scale_high": "Hoch",
        "yes": "Ja",
        "no": "Nein",
        "your_answer": "Ihre Antwort",
        "change": "Antwort ändern",
        "comment_label": "Ihr Kommentar (optional)",
        "send": "Senden",
        "save_answer": "Antwort speichern",
        "thanks": "Vielen Dank für Ihre Antwort.",
        "locked": "Ihre Antwort wurde gespeichert und kann nicht mehr geändert werden.",
        "confirm": "Bitte bestätigen Sie Ihre Antwort.",
        "comment_saved": "Danke, Ihr Kommentar wurde gespeichert.",
        "reply_hint": "Antworten Sie mit {low}-{high} oder tippen Sie:",
        "stars": "{n} von 5 Sternen",
        "review_order": "Ihre Bestellung",
        "review_order_id": "Bestellung {id}",
        "review_rating": "Ihre Bewertung",
        "review_text": "Ihre Rezension (optional)",
        "review_saved": "Danke! Ihre Rezension erscheint, sobald sie geprüft wurde.",
        "review_send": "Bewertungen senden",
    },
}


def text(survey: Survey, key: str) -> str:
    return TEXTS.get(survey.locale, TEXTS["en"])[key]


def score_range(survey: Survey) -> tuple[int, int]:
    if survey.kind in FIXED_RANGES:
        return FIXED_RANGES[SurveyKind(survey.kind)]
    if survey.kind == SurveyKind.YES_NO:
        return 0, 1
    if survey.kind == SurveyKind.CHOICE:
        return 0, max(len(survey.choices) - 1, 0)
    return survey.scale_min, survey.scale_max


@dataclass(frozen=True)
class Option:
    score: int
    label: str  # what the button shows
    title: str  # what a screen reader or a tooltip says


def options(survey: Survey) -> list[Option]:
    """The answers a respondent can pick, in order, labelled in the survey's locale."""
    low, high = score_range(survey)
    if survey.kind == SurveyKind.CHOICE:
        return [Option(i, str(c), str(c)) for i, c in enumerate(survey.choices)]
    if survey.kind == SurveyKind.YES_NO:
        return [Option(1, text(survey, "yes"), ""), Option(0, text(survey, "no"), "")]
    if survey.kind == SurveyKind.CSAT:
        return [Option(s, str(s), text(survey, f"csat_{s}")) for s in range(low, high + 1)]
    if survey.kind == SurveyKind.REVIEW:
        stars = text(survey, "stars")
        return [Option(s, "\u2605" * s, stars.format(n=s)) for s in range(low, high + 1)]
    prefix = {SurveyKind.NPS: "nps", SurveyKind.CES: "ces"}.get(SurveyKind(survey.kind), "scale")
    ends = {low: text(survey, f"{prefix}_low"), high: text(survey, f"{prefix}_high")}
    return [Option(s, str(s), ends.get(s, str(s))) for s in range(low, high + 1)]


def scale_ends(survey: Survey) -> tuple[str, str]:
    """The words under the two ends of a numeric scale (empty for choices)."""
    if survey.kind in (SurveyKind.CHOICE, SurveyKind.YES_NO):
        return "", ""
    opts = options(survey)
    return opts[0].title, opts[-1].title


def category(survey_kind: str, score: int) -> str:
    """Promoter 9-10, passive 7-8, detractor 0-6 (NPS only)."""
    if survey_kind != SurveyKind.NPS:
        return Category.NONE
    if score >= 9:
        return Category.PROMOTER
    if score >= 7:
        return Category.PASSIVE
    return Category.DETRACTOR


def follow_up_question(survey: Survey, score: int) -> str:
    """The follow-up wording for this score: the low or high variant where given
    (low: the bottom half of the scale, detractors for NPS), else the common one."""
    low, high = score_range(survey)
    if survey.kind == SurveyKind.NPS:
        is_low, is_high = score <= 6, score >= 9
    else:
        middle = (low + high) / 2
        is_low, is_high = score < middle, score > middle
    if is_low and survey.follow_up_low:
        return survey.follow_up_low
    if is_high and survey.follow_up_high:
        return survey.follow_up_high
    return survey.follow_up
