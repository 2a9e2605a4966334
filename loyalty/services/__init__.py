"""Every write the loyalty app makes goes through these functions."""

from loyalty.services.ledger import Posted, balance_lock, entry_append
from loyalty.services.points import points_adjust

__all__ = ["Posted", "balance_lock", "entry_append", "points_adjust"]
