"""A reward's code given in a message: the template names `reward_<id>_code`, and the
render of a message takes one code of that discount code reward's pool for the
message's contact, keyed `message:<message id>:<reward id>`, so a message rendered
again (a retried send) shows the same code and no message ever takes two.

A code given this way is a gift, not a redemption: no points are spent and the
reward's stock (which counts redemptions) is not counted down; the code leaves the pool
(`issued_at`, `contact`, `message_key`)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from config.errors import Conflict
from loyalty.models import Reward, RewardCode, RewardKind


def _given(workspace_id: int, key: str) -> str | None:
    return (
        RewardCode.objects.filter(workspace_id=workspace_id, message_key=key)
        .values_list("code", flat=True)
        .first()
    )


@transaction.atomic
def message_code_assign(
    *, workspace_id: int, contact_id: int, reward_id: int, message_id: int
) -> str:
    """The code of `reward_id` for this message, taken from the pool the first time.
    Raises Conflict when the reward is not a discount code reward of the workspace or
    its pool is empty (the message fails with that reason rather than go out without
    its code)."""
    key = f"message:{message_id}:{reward_id}"
    found = _given(workspace_id, key)
    if found is not None:
        return found
    # The reward's row is the pool's lock, as for redemptions: one taker at a time.
    reward = (
        Reward.objects.select_for_update().filter(workspace_id=workspace_id, pk=reward_id).first()
    )
    if reward is None or reward.kind != RewardKind.DISCOUNT_CODE:
        raise Conflict(f"reward {reward_id} is not a discount code reward of this workspace")
    found = _given(workspace_id, key)  # given by a render that held the lock before us
    if found is not None:
        return found
    code = (
        RewardCode.objects.filter(workspace_id=workspace_id, reward=reward, issued_at__isnull=True)
        .order_by("id")
        .first()
    )
    if code is None:
        raise Conflict(f"reward “{reward.name}” has no codes left")
    taken = RewardCode.objects.filter(pk=code.pk, issued_at__isnull=True).update(
        issued_at=timezone.now(), contact_id=contact_id, message_key=key
    )
    assert taken == 1, "the reward's lock makes this render the code's only taker"
    return code.code
