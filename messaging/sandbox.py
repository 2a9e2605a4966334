"""The sandboxed template engine of message templates, and its bounds.

The template language is Django's, run by an engine of its own that:

1. has no loaders, so `{% include %}` / `{% extends %}` cannot read a file;
2. has no `{% load %}`, `{% debug %}` (which prints the context and sys.modules),
   `{% url %}`, `{% csrf_token %}` or `{% autoescape %}` (which would put contact
   data raw into HTML), and no `safe` / `safeseq` / `pprint` filters, so a contact's
   data is always escaped in HTML and nothing prints Python reprs;
3. renders a context of plain dicts, strings and numbers only (never model
   instances), so no attribute or method lookup can reach the ORM or settings;
   Django already refuses variables that start with an underscore.

A template is one string that can make a render arbitrarily large or slow
(`ljust:"5000000"`, `with a=a|add:a` nested twenty times, loops in loops), and the
same render runs in the workers that send for every workspace. So:

- on save, what can be known from the text is refused with the line and the reason:
  literal widths of ljust/rjust/center over MAX_PAD_WIDTH, floatformat precision
  over MAX_FLOAT_DIGITS, loops nested deeper than MAX_FOR_DEPTH, blocks nested
  deeper than MAX_NESTING (and the services render it once with an empty contact);
- every render runs under a `RenderBudget`: loop iterations counted, output counted
  as each piece is produced, every value a filter makes checked for size, and a
  wall-clock deadline checked between nodes. Going over raises RenderLimitExceeded,
  which fails that one message (or preview) with the reason, never the worker.
  Every filter is wrapped: a filter that raises on odd input (`divisibleby:0`)
  renders as empty, like a missing variable.

Syntax errors are refused on save with the line and the reason."""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from django.conf import settings
from django.template import (
    Context,
    Engine,
    Library,
    Node,
    NodeList,
    TemplateSyntaxError,
    defaultfilters,
    defaulttags,
)
from django.template.base import FilterExpression, TextNode, VariableDoesNotExist
from django.template.defaulttags import ForNode

MAX_TEMPLATE_CHARS = 200_000
MAX_PAD_WIDTH = 1_000
MAX_FLOAT_DIGITS = 30
MAX_FOR_DEPTH = 3
MAX_NESTING = 20
MAX_VALUE_CHARS = 100_000  # any one value a filter makes (string, or items of a list)
MAX_OUTPUT_CHARS = 1_000_000  # one rendered field
MAX_LOOP_ITERATIONS = 10_000  # all loops of one message together

SAFE_TAGS = (
    "comment",
    "cycle",
    "filter",
    "firstof",
    "for",
    "if",
    "ifchanged",
    "now",
    "resetcycle",
    "spaceless",
    "templatetag",
    "verbatim",
    "with",
)
SAFE_FILTERS = (
    "add",
    "capfirst",
    "center",
    "cut",
    "date",
    "default",
    "default_if_none",
    "divisibleby",
    "escape",
    "filesizeformat",
    "first",
    "floatformat",
    "join",
    "last",
    "length",
    "linebreaks",
    "linebreaksbr",
    "ljust",
    "lower",
    "make_list",
    "pluralize",
    "rjust",
    "slice",
    "slugify",
    "striptags",
    "time",
    "timesince",
    "title",
    "truncatechars",
    "truncatewords",
    "upper",
    "urlencode",
    "wordcount",
    "yesno",
)
PAD_FILTERS = frozenset({"ljust", "rjust", "center"})


class TemplateError(Exception):
    def __init__(self, field: str, line: int | None, reason: str) -> None:
        self.field, self.line, self.reason = field, line, reason
        where = f"line {line}: " if line else ""
        super().__init__(f"{field}: {where}{reason}")


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


_budget: contextvars.ContextVar[RenderBudget | None] = contextvars.ContextVar(
    "render_budget", default=None
)


def _current() -> RenderBudget:
    budget = _budget.get()
    if budget is None:  # rendered outside `render`: never unbounded
        raise RenderLimitExceeded("rendered without a budget")
    return budget


# -- bounded filters --------------------------------------------------------------------


class _NotANumber(ValueError):
    pass


def _pad_width(arg: Any) -> int:
    try:
        width = int(str(arg).strip())
    except ValueError:
        raise _NotANumber("the width of ljust, rjust and center must be a number") from None
    if not 0 <= width <= MAX_PAD_WIDTH:
        raise RenderLimitExceeded(
            f"the width of ljust, rjust and center is at most {MAX_PAD_WIDTH}"
        )
    return width


def _float_digits(arg: Any) -> None:
    digits = str(arg).strip().rstrip("gu").rstrip("gu")
    if digits and digits.lstrip("-").isdigit() and abs(int(digits)) > MAX_FLOAT_DIGITS:
        raise RenderLimitExceeded(f"floatformat shows at most {MAX_FLOAT_DIGITS} decimal places")


def _before(name: str, value: Any, args: tuple[Any, ...]) -> Any:
    """Checks that must run before the filter (it would allocate first); may return a
    replacement value."""
    if name in PAD_FILTERS and args:
        _pad_width(args[0])
    elif name == "floatformat":
        if args:
            _float_digits(args[0])
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


def _bounded(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(func)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        _current().check_time()
        try:
            value = _before(name, value, args)
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


def _autoescape(parser: Any, token: Any) -> Node:
    raise TemplateSyntaxError(
        "autoescape is not available in message templates: contact data is always escaped in HTML"
    )


personalisation_library = Library()
for _name in SAFE_TAGS:
    personalisation_library.tags[_name] = defaulttags.register.tags[_name]
personalisation_library.tags["autoescape"] = _autoescape
for _name in SAFE_FILTERS:
    _original = defaultfilters.register.filters[_name]
    personalisation_library.filters[_name] = _bounded(_name, _original)


# -- bounded nodes ----------------------------------------------------------------------


class _BudgetedList(list[Any]):
    """A loop's values: each item taken is one iteration against the budget."""

    def __iter__(self) -> Iterator[Any]:
        budget = _current()
        for item in super().__iter__():
            budget.charge_iterations(1)
            budget.check_time()
            yield item

    def __reversed__(self) -> Iterator[Any]:
        return iter(_BudgetedList(list(super().__iter__())[::-1]))


class _BudgetedSequence:
    def __init__(self, inner: FilterExpression) -> None:
        self.inner = inner

    def resolve(self, context: Any, ignore_failures: bool = False) -> Any:
        values = self.inner.resolve(context, ignore_failures=ignore_failures)
        if values is None:
            return None
        if not hasattr(values, "__len__"):
            values = list(values)
        return _BudgetedList(values)

    def __str__(self) -> str:
        return str(self.inner)


class _ChargedText(TextNode):
    """Literal text: its length is charged against the render's output bound."""

    def render_annotated(self, context: Any) -> str:
        context.budget.charge_output(len(self.s))
        return self.s


class _Charged:
    """Mixed into every other node that produces text itself rather than by joining
    its children's (variables, cycle, firstof, now): what it produces is charged.
    Containers are not wrapped: their children are, loops count their iterations and
    check the deadline, and filters check it too, so a render cannot run long
    between two checks."""

    def render_annotated(self, context: Any) -> Any:
        output = super().render_annotated(context)  # type: ignore[misc]
        context.budget.charge_output(len(output))
        return output


_CHARGED: dict[type[Node], type[Node]] = {TextNode: _ChargedText}


def _charged_class(cls: type[Node]) -> type[Node]:
    if cls not in _CHARGED:
        _CHARGED[cls] = type(f"Charged{cls.__name__}", (_Charged, cls), {})
    return _CHARGED[cls]


# -- compiling --------------------------------------------------------------------------


class _SandboxEngine(Engine):
    # No django.template.defaulttags / defaultfilters / loader_tags: only the library
    # above is built in.
    default_builtins: ClassVar[list[str]] = []


def _engine(*, autoescape: bool) -> Engine:
    engine = _SandboxEngine(
        dirs=[],
        app_dirs=False,
        loaders=[],
        libraries={},
        builtins=[],
        autoescape=autoescape,
        debug=True,  # makes TemplateSyntaxError carry the line
        string_if_invalid="",
    )
    engine.template_builtins = [personalisation_library]
    return engine


HTML_ENGINE = _engine(autoescape=True)
TEXT_ENGINE = _engine(autoescape=False)


def _line(source: str, node: Node) -> int | None:
    token = getattr(node, "token", None)
    position = getattr(token, "position", None)
    return source.count("\n", 0, position[0]) + 1 if position else None


def _filter_expressions(value: Any, seen: set[int]) -> Iterator[FilterExpression]:
    """Every FilterExpression held by a node's attributes (variables, loop sequences,
    `with` values, `if` conditions, `filter` tags), however deep."""
    if id(value) in seen or isinstance(value, str | int | float | Node | NodeList):
        return
    seen.add(id(value))
    if isinstance(value, FilterExpression):
        yield value
    elif isinstance(value, list | tuple | set):
        for item in value:
            yield from _filter_expressions(item, seen)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _filter_expressions(item, seen)
    elif type(value).__module__.startswith("django.template") and hasattr(value, "__dict__"):
        for item in vars(value).values():
            yield from _filter_expressions(item, seen)


def _check_filters(source: str, node: Node) -> None:
    for expression in _filter_expressions(dict(vars(node)), set()):
        for func, args in expression.filters:
            name = getattr(func, "sandbox_name", "")
            literal = [arg for lookup, arg in args if not lookup]
            try:
                if name in PAD_FILTERS and literal:
                    _pad_width(literal[0])
                elif name == "floatformat" and literal:
                    _float_digits(literal[0])
            except (RenderLimitExceeded, _NotANumber) as exc:
                raise TemplateError("body", _line(source, node), str(exc)) from None
            # A filter argument naming a variable the contact lacks renders as empty,
            # like a missing variable does (Django would raise VariableDoesNotExist).
            expression.filters = [
                (func, [(lookup, _Lenient(arg) if lookup else arg) for lookup, arg in args])
                for func, args in expression.filters
            ]


class _Lenient:
    def __init__(self, variable: Any) -> None:
        self.variable = variable

    def resolve(self, context: Any) -> Any:
        try:
            return self.variable.resolve(context)
        except VariableDoesNotExist:
            return ""

    def __str__(self) -> str:
        return str(self.variable)


def _children(node: Node) -> Iterator[Node]:
    for attr in node.child_nodelists:
        yield from getattr(node, attr, None) or ()


def _bound(source: str, nodelist: NodeList, depth: int = 0, loops: int = 0) -> None:
    """Check the compiled tree (see the module docstring) and make every node
    budgeted."""
    for node in nodelist:
        _check_filters(source, node)
        nested = depth + (1 if any(True for _ in _children(node)) else 0)
        in_loops = loops + (1 if isinstance(node, ForNode) else 0)
        if nested > MAX_NESTING:
            raise TemplateError(
                "body", _line(source, node), f"blocks nest at most {MAX_NESTING} deep"
            )
        if in_loops > MAX_FOR_DEPTH:
            raise TemplateError(
                "body", _line(source, node), f"for loops nest at most {MAX_FOR_DEPTH} deep"
            )
        if isinstance(node, ForNode):
            node.sequence = _BudgetedSequence(node.sequence)  # type: ignore[arg-type,assignment]
        leaf = True
        for attr in node.child_nodelists:
            child = getattr(node, attr, None)
            if child is not None:
                leaf = False
                _bound(source, child, nested, in_loops)
        if leaf:
            node.__class__ = _charged_class(type(node))


def compile_template(source: str, *, field: str, html_mode: bool) -> Any:
    """Compile one template field; raise TemplateError with the line and reason.
    Compiled templates are cached: a send renders the same few thousands of times."""
    try:
        return _compile_cached(source, html_mode)
    except TemplateError as exc:
        raise TemplateError(field, exc.line, exc.reason) from None


@functools.lru_cache(maxsize=512)
def _compile_cached(source: str, html_mode: bool) -> Any:
    field = "body"
    if len(source) > MAX_TEMPLATE_CHARS:
        raise TemplateError(field, None, f"longer than {MAX_TEMPLATE_CHARS} characters")
    engine = HTML_ENGINE if html_mode else TEXT_ENGINE
    try:
        template = engine.from_string(source)
    except TemplateSyntaxError as exc:
        debug = getattr(exc, "template_debug", None) or {}
        reason = str(exc.args[0]) if exc.args else str(exc)
        reason = reason.split(" Did you forget")[0]
        if "Invalid block tag" in reason or "Invalid filter" in reason:
            reason += " (not available in message templates)"
        raise TemplateError(field, debug.get("line"), reason) from None
    except RecursionError:
        raise TemplateError(field, None, f"blocks nest at most {MAX_NESTING} deep") from None
    _bound(source, template.nodelist)
    return template


def render(compiled: Any, context: dict[str, Any], *, html_mode: bool, budget: RenderBudget) -> str:
    """Render a compiled template within `budget` (raises RenderLimitExceeded)."""
    token = _budget.set(budget)  # for filters, which see no context
    budget.output = 0  # the output bound is per field
    template_context = Context(context, autoescape=html_mode)
    template_context.budget = budget  # type: ignore[attr-defined]  # for nodes
    try:
        return str(compiled.render(template_context))
    except RecursionError:
        raise RenderLimitExceeded("the template nests too deeply") from None
    finally:
        _budget.reset(token)


def render_string(
    source: str,
    context: dict[str, Any],
    *,
    html_mode: bool,
    budget: RenderBudget | None = None,
) -> str:
    template = compile_template(source, field="body", html_mode=html_mode)
    return render(template, context, html_mode=html_mode, budget=budget or RenderBudget.start())
