"""Every write the loyalty app makes goes through these functions."""

from loyalty.services.birthdays import birthdays_record, birthdays_record_due
from loyalty.services.earning import earn_for_refreshed, events_earn
from loyalty.services.expiry import points_expire, points_expire_due
from loyalty.services.ledger import Posted, balance_lock, entry_append
from loyalty.services.orders import order_reverse
from loyalty.services.points import points_adjust
from loyalty.services.programme import programme_get, programme_update
from loyalty.services.redemptions import reward_redeem
from loyalty.services.rewards import (
    code_generate,
    reward_codes_add,
    reward_create,
    reward_delete,
    reward_update,
)
from loyalty.services.tiers import (
    tier_create,
    tier_delete,
    tier_update,
    tiers_evaluate,
)
from loyalty.services.tiers_review import tiers_review, tiers_review_due

__all__ = [
    "Posted",
    "balance_lock",
    "birthdays_record",
    "birthdays_record_due",
    "code_generate",
    "earn_for_refreshed",
    "entry_append",
    "events_earn",
    "order_reverse",
    "points_adjust",
    "points_expire",
    "points_expire_due",
    "programme_get",
    "programme_update",
    "reward_codes_add",
    "reward_create",
    "reward_delete",
    "reward_redeem",
    "reward_update",
    "tier_create",
    "tier_delete",
    "tier_update",
    "tiers_evaluate",
    "tiers_review",
    "tiers_review_due",
]
