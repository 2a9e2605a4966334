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

import functools
from collections.abc import Iterator
from typing import Any, ClassVar

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
from django.template.base import FilterExpression, VariableDoesNotExist
from django.template.defaulttags import ForNode

from messaging.render_bounds import (
    PAD_FILTERS,
    BudgetedSequence,
    NotANumber,
    RenderBudget,
    RenderLimitExceeded,
    bounded,
    budget_var,
    charged_class,
    float_digits,
    pad_width,
)

MAX_TEMPLATE_CHARS = 200_000
MAX_FOR_DEPTH = 3
MAX_NESTING = 20

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


class TemplateError(Exception):
    def __init__(self, field: str, line: int | None, reason: str) -> None:
        self.field, self.line, self.reason = field, line, reason
        where = f"line {line}: " if line else ""
        super().__init__(f"{field}: {where}{reason}")


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
    personalisation_library.filters[_name] = bounded(_name, _original)


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
                    pad_width(literal[0])
                elif name == "floatformat" and literal:
                    float_digits(literal[0])
            except (RenderLimitExceeded, NotANumber) as exc:
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
            node.sequence = BudgetedSequence(node.sequence)  # type: ignore[arg-type,assignment]
        leaf = True
        for attr in node.child_nodelists:
            child = getattr(node, attr, None)
            if child is not None:
                leaf = False
                _bound(source, child, nested, in_loops)
        if leaf:
            node.__class__ = charged_class(type(node))


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
    token = budget_var.set(budget)  # for filters, which see no context
    budget.output = 0  # the output bound is per field
    template_context = Context(context, autoescape=html_mode)
    template_context.budget = budget  # type: ignore[attr-defined]  # for nodes
    try:
        return str(compiled.render(template_context))
    except RecursionError:
        raise RenderLimitExceeded("the template nests too deeply") from None
    finally:
        budget_var.reset(token)


def render_string(
    source: str,
    context: dict[str, Any],
    *,
    html_mode: bool,
    budget: RenderBudget | None = None,
) -> str:
    template = compile_template(source, field="body", html_mode=html_mode)
    return render(template, context, html_mode=html_mode, budget=budget or RenderBudget.start())
