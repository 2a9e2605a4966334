"""The bounds every message render runs under (see sandbox.py): a `RenderBudget` per
message, filters that check what they make, and nodes that count loop iterations and
output as they go. Going over raises RenderLimitExceeded, which fails that one message
(or preview) with the reason, never the worker."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.template import Node
from django.template.base import FilterExpression, TextNode

MAX_PAD_WIDTH = 1_000
MAX_FLOAT_DIGITS = 30
MAX_VALUE_CHARS = 100_000  # any one value a filter makes (string, or items of a list)
MAX_OUTPUT_CHARS = 1_000_000  # one rendered field
MAX_LOOP_ITERATIONS = 10_000  # all loops of one message together
PAD_FILTERS = frozenset({"ljust", "rjust", "center"})


class RenderLimitExceeded(Exception):
    """A render went over its budget; `reason` says which bound."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# -- the budget -------------------------------------------------------------------------


@dataclass
class RenderBudget:
    """What one message's render may spend: all its fields share the loop iterations
    and the deadline; each field has MAX_OUTPUT_CHARS of output."""

    deadline: float
    seconds: float
    iterations: int = 0
    output: int = 0

    @classmethod
    def start(cls, seconds: float | None = None) -> RenderBudget:
        seconds = settings.TEMPLATE_RENDER_SECONDS if seconds is None else seconds
        return cls(deadline=time.monotonic() + seconds, seconds=seconds)

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimitExceeded(f"rendering took longer than {self.seconds:g} s")

    def charge_iterations(self, count: int) -> None:
        self.iterations += count
        if self.iterations > MAX_LOOP_ITERATIONS:
            raise RenderLimitExceeded(f"loops ran more than {MAX_LOOP_ITERATIONS:,} times")

    def charge_output(self, size: int) -> None:
        self.output += size
        if self.output > MAX_OUTPUT_CHARS:
            raise RenderLimitExceeded(f"the output passed {MAX_OUTPUT_CHARS:,} characters")


budget_var: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar(
    "render_budget", default=None
)


def current_budget() -> RenderBudget:
    budget = budget_var.get()
    if budget is None:  # rendered outside `render`: never unbounded
        raise RenderLimitExceeded("rendered without a budget")
    return budget


# -- bounded filters --------------------------------------------------------------------


class NotANumber(ValueError):
    pass


def pad_width(arg: Any) -> int:
    try:
        width = int(str(arg).strip())
    except ValueError:
        raise NotANumber("the width of ljust, rjust and center must be a number") from None
    if not 0 <= width <= MAX_PAD_WIDTH:
        raise RenderLimitExceeded(
            f"the width of ljust, rjust and center is at most {MAX_PAD_WIDTH}"
        )
    return width


def float_digits(arg: Any) -> None:
    digits = str(arg).strip().rstrip("gu").rstrip("gu")
    if digits and digits.lstrip("-").isdigit() and abs(int(digits)) > MAX_FLOAT_DIGITS:
        raise RenderLimitExceeded(f"floatformat shows at most {MAX_FLOAT_DIGITS} decimal places")


def before_filter(name: str, value: Any, args: tuple[Any, ...]) -> Any:
    """Checks that must run before the filter (it would allocate first); may return a
    replacement value."""
    if name in PAD_FILTERS and args:
        pad_width(args[0])
    elif name == "floatformat":
        if args:
            float_digits(args[0])
        try:  # a number like 1e999999999 would be written out digit by digit
            number = Decimal(str(value))
            if number.is_finite() and abs(number.adjusted()) > 100:
                return ""
        except (InvalidOperation, ValueError):
            pass
    elif name == "join" and isinstance(value, list | tuple) and args:
        size = sum(len(str(item)) for item in value) + len(str(args[0])) * len(value)
        if size > MAX_VALUE_CHARS:
            raise RenderLimitExceeded(f"a value grew past {MAX_VALUE_CHARS:,} characters")
    elif name == "add" and args:
        for item in (value, args[0]):
            if isinstance(item, str | list | tuple) and len(item) > MAX_VALUE_CHARS:
                raise RenderLimitExceeded(f"a value grew past {MAX_VALUE_CHARS:,} characters")
    return value


def bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        current_budget().check_time()
        try:
            value = before_filter(name, value, args)
            if value == "" and name == "floatformat":
                return ""
            result = func(value, *args, **kwargs)
        except RenderLimitExceeded:
            raise
        except Exception:  # a filter that chokes on odd input renders as empty
            return ""
        if isinstance(result, str | list | tuple) and len(result) > MAX_VALUE_CHARS:
            raise RenderLimitExceeded(f"a value grew past {MAX_VALUE_CHARS:,} characters")
        return result

    bounded.sandbox_name = name  # type: ignore[attr-defined]
    return bounded


# -- bounded nodes ----------------------------------------------------------------------


class BudgetedList(list[Any]):
    """A loop's values: each item taken is one iteration against the budget."""

    def __iter__(self) -> Iterator[Any]:
        budget = current_budget()
        for item in super().__iter__():
            budget.charge_iterations(1)
            budget.check_time()
            yield item

    def __reversed__(self) -> Iterator[Any]:
        return iter(BudgetedList(list(super().__iter__())[::-1]))


class BudgetedSequence:
    def __init__(self, inner: FilterExpression) -> None:
        self.inner = inner

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        values = self.inner.resolve(context, ignore_failures=ignore_failures)
        if values is None:
            return None
        if not hasattr(values, "__len__"):
            values = list(values)
        return BudgetedList(values)

    def __str__(self) -> str:
        return str(self.inner)


class ChargedText(TextNode):
    """Literal text: its length is charged against the render's output bound."""

    def render_annotated(self, context: Any) -> str:
        context.budget.charge_output(len(self.s))
        return self.s


class Charged:
    """Mixed into every other node that produces text itself rather than by joining
    its children's (variables, cycle, firstof, now): what it produces is charged.
    Containers are not wrapped: their children are, loops count their iterations and
    check the deadline, and filters check it too, so a render cannot run long
    between two checks."""

    def render_annotated(self, context: Any) -> Any:
        output = super().render_annotated(context)  # type: ignore[misc]
        context.budget.charge_output(len(output))
        return output


CHARGED: dict[type[Node], type[Node]] = {TextNode: ChargedText}


def charged_class(cls: type[Node]) -> type[Node]:
    if cls not in CHARGED:
        CHARGED[cls] = type(f"Charged{cls.__name__}", (Charged, cls), {})
    return CHARGED[cls]
