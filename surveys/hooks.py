"""How a survey reaches an audience. Sending to segments and stages is what broadcasts
do, and broadcasts live in campaigns, to the right of surveys in the import order: so
campaigns registers its sender here in its AppConfig.ready(), as every app to the right
acts on an app to its left (docs/architecture.md, Hooks)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from config.errors import Conflict
from workspaces.models import Workspace


@dataclass(frozen=True)
class Sent:
    """What the sender made of it: the broadcast that carries the survey."""

    broadcast_id: int
    status: str


class AudienceSender(Protocol):
    def __call__(
        self,
        *,
        workspace: Workspace,
        name: str,
        channel: str,
        template_id: int,
        include_segment_ids: Sequence[Any],
        include_stage_ids: Sequence[Any],
        actor: Any,
    ) -> Sent: ...


_senders: list[Callable[..., Sent]] = []


def register_audience_sender(sender: Callable[..., Sent]) -> None:
    if sender not in _senders:
        _senders.append(sender)


def audience_send(**kwargs: Any) -> Sent:
    if not _senders:
        raise Conflict("Sending to an audience needs the campaigns app.")
    return _senders[0](**kwargs)


# Functions (response, survey) called for every counted answer or change of score once
# it has stood SCANNER_BURST_SECONDS (services/settle.py, in its transaction):
# campaigns registers the journeys' "survey answered"
# trigger. A hook must be idempotent (a journey keys its entry by the response).
AnswerHook = Callable[[Any, Any], None]
_answered: list[AnswerHook] = []


def on_survey_answered(hook: AnswerHook) -> None:
    if hook not in _answered:
        _answered.append(hook)


def survey_answered_notify(response: Any, survey: Any) -> None:
    for hook in _answered:
        hook(response, survey)


# Answers counted, changed or discarded: analytics keeps its survey rollups with this
# (registered in its AppConfig.ready()), in the transaction that wrote the answers.
AnswersChanged = Callable[[int, int, Sequence[int]], None]
_answer_hooks: list[AnswersChanged] = []


def on_answers_changed(hook: AnswersChanged) -> None:
    if hook not in _answer_hooks:
        _answer_hooks.append(hook)


def answers_changed(*, workspace_id: int, survey_id: int, response_ids: Sequence[int]) -> None:
    """Called with the answers whose score, counting or comment just changed (same
    transaction: a failing hook rolls the answer back)."""
    for hook in _answer_hooks:
        hook(workspace_id, survey_id, response_ids)
