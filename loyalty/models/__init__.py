"""The loyalty programme of a workspace: its earning rules, each contact's points
ledger (append-only) and balance, and the rewards points buy, with their codes.

The ledger is the record: every change of a balance is one LedgerEntry, written in the
transaction that updates the contact's PointsBalance (docs/loyalty.md)."""

from loyalty.models.ledger import EntryKind, LedgerEntry, PointsBalance, SourceKind
from loyalty.models.programme import Programme, TierBasis, no_event_points, no_multipliers
from loyalty.models.referrals import (
    Referral,
    ReferralCode,
    ReferralSettings,
    ReferralStatus,
    ReferralVisit,
)
from loyalty.models.rewards import Redemption, Reward, RewardCode, RewardKind
from loyalty.models.tiers import ContactTier, Tier, TierCause, TierChange

__all__ = [
    "ContactTier",
    "EntryKind",
    "LedgerEntry",
    "PointsBalance",
    "Programme",
    "Redemption",
    "Referral",
    "ReferralCode",
    "ReferralSettings",
    "ReferralStatus",
    "ReferralVisit",
    "Reward",
    "RewardCode",
    "RewardKind",
    "SourceKind",
    "Tier",
    "TierBasis",
    "TierCause",
    "TierChange",
    "no_event_points",
    "no_multipliers",
]
