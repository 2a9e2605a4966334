"""Points where later apps act on contacts' writes, inside the same transaction
(explicit registries, not Django signals; imports keep flowing one way)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contacts.models import Contact

# Called with the contact just before it is erased (its rows still exist), so that
# derived data elsewhere (rollups) can take its contribution out.
ErasureHook = Callable[["Contact"], None]
ERASURE_HOOKS: list[ErasureHook] = []


def on_contact_erased(hook: ErasureHook) -> ErasureHook:
    if hook not in ERASURE_HOOKS:
        ERASURE_HOOKS.append(hook)
    return hook
