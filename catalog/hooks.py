"""What the catalogue tells apps to its right (campaigns) when a product changes in a
way a contact may want to hear about: back in stock (out of stock before, in stock and
active now) or a price drop (a lower price than before, same currency). Campaigns
registers its journey triggers here in its AppConfig.ready(), since the catalogue may
not import campaigns (docs/architecture.md, Hooks).

Listeners are called after the upsert's transaction commits, once per upsert call,
with every change it made; `changed_at` is the upsert's time, so a trigger keyed by
(product, changed_at) lets a contact in once per change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction

BACK_IN_STOCK = "back_in_stock"
PRICE_DROP = "price_drop"


@dataclass(frozen=True)
class ProductChange:
    workspace_id: int
    product_pk: int
    product_id: str
    kind: str  # back_in_stock | price_drop
    changed_at: dt.datetime
    old_price: Decimal | None = None
    new_price: Decimal | None = None

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.product_pk}:{self.changed_at.isoformat()}"


Listener = Callable[[list[ProductChange]], None]
_listeners: list[Listener] = []


def on_products_changed(listener: Listener) -> None:
    if listener not in _listeners:
        _listeners.append(listener)


def products_changed_notify(changes: list[ProductChange]) -> None:
    """Call the listeners once the surrounding transaction has committed (at once
    outside one)."""
    if not changes:
        return

    def call_all() -> None:
        for listener in list(_listeners):
            listener(changes)

    transaction.on_commit(call_all)
