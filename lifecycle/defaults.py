"""The stages a new workspace starts with, after the customer-lifecycle literature
(awareness → consideration → conversion → retention → loyalty → advocacy, with the
at-risk and lapsed states of churn models), with entry rules that work on the demo
data's events. Evaluated top to bottom; the first match wins, so the more specific
and the more urgent (losing a customer) come first."""

from __future__ import annotations

from typing import Any

# key, name, colour, description, rule (None: the default stage)
DEFAULT_STAGES: list[tuple[str, str, str, str, dict[str, Any] | None]] = [
    (
        "advocate",
        "Advocate",
        "#6f42c1",
        "Advocacy: recommends you. Sent a referral in the last 180 days and bought in the last 90.",
        {
            "all": [
                {"event": "referral_sent", "last": {"within_days": 180}},
                {"event": "purchase", "last": {"within_days": 90}},
            ]
        },
    ),
    (
        "loyal",
        "Loyal",
        "#0d6efd",
        "Loyalty: four or more purchases, the last within 60 days.",
        {
            "all": [
                {"purchases": {"gte": 4}},
                {"event": "purchase", "last": {"within_days": 60}},
            ]
        },
    ),
    (
        "lapsed",
        "Lapsed",
        "#6c757d",
        "Churned: a customer whose last purchase is more than 180 days ago.",
        {"event": "purchase", "last": {"older_than_days": 180}},
    ),
    (
        "at_risk",
        "At risk",
        "#dc3545",
        "Churn risk: a customer whose last purchase is more than 90 days ago.",
        {"event": "purchase", "last": {"older_than_days": 90}},
    ),
    (
        "repeat",
        "Repeat customer",
        "#20c997",
        "Retention: bought at least twice, the last within 90 days.",
        {"purchases": {"gte": 2}},
    ),
    (
        "customer",
        "Customer",
        "#198754",
        "Conversion: made a first purchase.",
        {"purchases": {"gte": 1}},
    ),
    (
        "lead",
        "Lead",
        "#fd7e14",
        "Consideration: started a trial or left a cart in the last 60 days, or came "
        "back five times in the last 30.",
        {
            "any": [
                {"event": "trial_started", "last": {"within_days": 60}},
                {"event": "cart_abandoned", "last": {"within_days": 60}},
                {"event": "page_view", "count": {"gte": 5}, "within_days": 30},
            ]
        },
    ),
    (
        "subscriber",
        "Subscriber",
        "#adb5bd",
        "Awareness: known to you, nothing more yet. Every contact no other stage claims.",
        None,
    ),
]
