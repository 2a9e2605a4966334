"""The loyalty API's bodies and answers, for the OpenAPI schema: each request field
says what the services accept (they check; these only describe)."""

from __future__ import annotations

from rest_framework import serializers

from config.openapi import NON_BLANK, component_rules, described, text
from loyalty.models import (
    EntryKind,
    LedgerEntry,
    Redemption,
    Reward,
    RewardKind,
    SourceKind,
    Tier,
    TierBasis,
    TierCause,
    TierChange,
)
from loyalty.services.ledger import MAX_POINTS
from loyalty.services.programme import (
    FACTOR_PATTERN,
    MAX_EVENT_RULES,
    MAX_MULTIPLIERS,
    PER_UNIT_PATTERN,
    VALUE_PATTERN,
)
from loyalty.services.rewards import CODE_PATTERN, MAX_CODES_PER_CALL, PREFIX_PATTERN

MULTIPLIER = {
    "type": "object",
    "required": ["name", "factor", "starts_at", "ends_at"],
    "additionalProperties": False,
    "properties": {
        "name": text(100, blank=False),
        "factor": {"type": "string", "pattern": FACTOR_PATTERN},
        "starts_at": {"type": "string", "format": "date-time"},
        "ends_at": {"type": "string", "format": "date-time", "description": "after starts_at"},
    },
}


class ProgrammeSerializer(serializers.Serializer):
    enabled = serializers.BooleanField(required=False)
    enabled_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="When the programme was last switched on: earlier events earn nothing",
    )
    points_per_unit = described(
        {"type": "string", "pattern": PER_UNIT_PATTERN},
        required=False,
        help_text="Points per unit of the workspace's currency of purchase revenue "
        "(floored once per purchase)",
    )
    event_points = described(
        {
            "type": "object",
            "maxProperties": MAX_EVENT_RULES,
            "propertyNames": {"minLength": 1, "maxLength": 200, "pattern": NON_BLANK},
            "additionalProperties": {"type": "integer", "minimum": 1, "maximum": MAX_POINTS},
        },
        required=False,
        help_text="Fixed points for each event of these names",
    )
    multipliers = described(
        {"type": "array", "maxItems": MAX_MULTIPLIERS, "items": MULTIPLIER},
        required=False,
        help_text="Windows multiplying what is earned (the largest open one counts)",
    )
    daily_cap = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=MAX_POINTS,
        help_text="At most this many points earned per contact per day (workspace time zone)",
    )
    birthday_attribute = serializers.RegexField(
        r"^[A-Za-z_][A-Za-z0-9_]{0,63}$",
        required=False,
        help_text="The contact attribute holding a birthday (YYYY-MM-DD): on that day each "
        "year (workspace time zone) the contact gets a `birthday` event, which earns what "
        "event_points gives `birthday`",
    )
    expiry_months = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=120,
        help_text="A balance expires whole after this many months without an earn or a "
        "redemption, at midnight in the contact's time zone (null: never)",
    )
    expiry_reminder_days = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=365,
        help_text="The 'points about to expire' journey trigger fires this many days "
        "before (null: no reminder)",
    )
    tier_grace_days = serializers.IntegerField(
        required=False,
        min_value=0,
        max_value=3650,
        help_text="Days a contact the review finds below its tier keeps it (0: goes down at once)",
    )
    tier_basis = serializers.ChoiceField(
        choices=TierBasis.choices,
        required=False,
        help_text="What reaches a tier: points earned, or spend (purchase revenue net of "
        "refunds, whole units of the workspace's currency), over the window",
    )
    tier_window_days = serializers.IntegerField(
        required=False,
        min_value=1,
        max_value=1095,
        help_text="The tiers' rolling window in days (365: the last 12 months)",
    )
    value_per_point = described(
        {"type": "string", "pattern": VALUE_PATTERN},
        required=False,
        help_text="What one point is worth in the workspace's currency (the liability report)",
    )
    updated_at = serializers.DateTimeField(read_only=True)


class BalanceSerializer(serializers.Serializer):
    contact_id = serializers.IntegerField()
    balance = serializers.IntegerField()
    earned_total = serializers.IntegerField(help_text="Earned from events, net of reversals")
    redeemed_total = serializers.IntegerField()
    updated_at = serializers.DateTimeField(allow_null=True)
    tier = serializers.CharField(allow_null=True, help_text="The contact's tier's name, or null")
    tier_since = serializers.DateTimeField(allow_null=True)
    points_in_window = serializers.IntegerField(
        help_text="What the tiers count over the programme's window, now: points "
        "earned, or whole units spent (see tier_basis)"
    )
    tier_basis = serializers.ChoiceField(choices=TierBasis.choices)


class EntrySerializer(serializers.ModelSerializer):
    kind = serializers.ChoiceField(choices=EntryKind.choices)
    source_kind = serializers.ChoiceField(choices=SourceKind.choices)
    details = serializers.DictField(help_text="How the points were worked out")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "kind",
            "points",
            "balance_after",
            "reason",
            "source_kind",
            "source_id",
            "event_id",
            "order_id",
            "occurred_at",
            "created_at",
            "details",
        ]


class AdjustSerializer(serializers.Serializer):
    points = described(
        {"type": "integer", "minimum": -MAX_POINTS, "maximum": MAX_POINTS, "not": {"enum": [0]}},
        help_text="Added (positive) or taken (negative); never below a balance of 0",
    )
    reason = described(text(500, blank=False))
    idempotency_key = described(text(150, blank=False), help_text="The same key adjusts once")


class RedeemSerializer(serializers.Serializer):
    reward_id = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    idempotency_key = described(text(150, blank=False), help_text="The same key redeems once")


class RedemptionSerializer(serializers.ModelSerializer):
    contact_id = serializers.IntegerField()
    reward_id = serializers.IntegerField()
    reward_name = serializers.CharField(source="reward.name")
    entry_id = serializers.IntegerField()
    balance = serializers.IntegerField(source="entry.balance_after", help_text="After this")

    class Meta:
        model = Redemption
        fields = [
            "id",
            "contact_id",
            "reward_id",
            "reward_name",
            "points",
            "code",
            "idempotency_key",
            "entry_id",
            "balance",
            "created_at",
        ]


class RewardSerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    kind = serializers.ChoiceField(choices=RewardKind.choices)
    description = described(text(1000), required=False)
    points_cost = serializers.IntegerField(min_value=1, max_value=MAX_POINTS)
    stock = serializers.IntegerField(
        min_value=0,
        max_value=MAX_POINTS,
        allow_null=True,
        required=False,
        help_text="Redemptions left (null: unlimited)",
    )
    per_contact_limit = serializers.IntegerField(
        min_value=1, max_value=MAX_POINTS, allow_null=True, required=False
    )
    active = serializers.BooleanField(required=False)
    codes_available = serializers.IntegerField(read_only=True)
    redeemed = serializers.IntegerField(read_only=True)

    class Meta:
        model = Reward
        fields = [
            "id",
            "name",
            "kind",
            "description",
            "points_cost",
            "stock",
            "per_contact_limit",
            "active",
            "codes_available",
            "redeemed",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "codes_available", "redeemed", "created_at", "updated_at"]


class RewardCodesSerializer(serializers.Serializer):
    codes = serializers.ListField(
        child=described({"type": "string", "pattern": CODE_PATTERN}),
        min_length=1,
        max_length=MAX_CODES_PER_CALL,
        required=False,
        help_text="Codes to upload (visible ASCII, no spaces)",
    )
    generate = serializers.IntegerField(
        min_value=1, max_value=MAX_CODES_PER_CALL, required=False, help_text="How many to make"
    )
    prefix = described(
        {"type": "string", "pattern": PREFIX_PATTERN},
        required=False,
        help_text="Put before generated codes",
    )


component_rules["RewardCodesRequest"] = {
    "oneOf": [
        {"required": ["codes"], "not": {"required": ["generate"]}},
        {"required": ["generate"], "not": {"required": ["codes"]}},
    ]
}


class CodesAddedSerializer(serializers.Serializer):
    added = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="Codes the workspace had already")


class ReverseSerializer(serializers.Serializer):
    reason = described(text(500), required=False)


class ReversedSerializer(serializers.Serializer):
    order_id = serializers.CharField()
    points = serializers.IntegerField(help_text="Taken back (negative or 0)")
    entries = EntrySerializer(many=True)


class TierSerializer(serializers.ModelSerializer):
    name = described(text(200, blank=False))
    threshold = serializers.IntegerField(
        min_value=0,
        max_value=MAX_POINTS,
        help_text="Points earned (net of refunds) in the last 12 months to reach it",
    )
    benefits = described(text(1000), required=False, help_text="What members get, as text")
    multiplier = described(
        {"type": "string", "pattern": FACTOR_PATTERN},
        required=False,
        help_text='Multiplies what members earn, 1 to 10 ("1.5"; with a campaign window, both)',
    )
    members = serializers.IntegerField(source="member_count", read_only=True)

    class Meta:
        model = Tier
        fields = [
            "id",
            "name",
            "threshold",
            "benefits",
            "multiplier",
            "members",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "members", "created_at", "updated_at"]


class TierChangeSerializer(serializers.ModelSerializer):
    cause = serializers.ChoiceField(choices=TierCause.choices)

    class Meta:
        model = TierChange
        fields = [
            "id",
            "from_tier_id",
            "to_tier_id",
            "from_name",
            "to_name",
            "cause",
            "points_in_window",
            "at",
        ]
