"""A valid block document (messaging/blocks/schema.py) → MJML → HTML with mrml, and
its plain-text part.

The output is a message template (messaging/sandbox.py), so two things are escaped
in every value a marketer typed: HTML (`<`, `&`, quotes) and the template language's
braces (`{` becomes `&#123;` in HTML and `{% templatetag openbrace %}` in text), so
typed text can never become a placeholder or a tag. Placeholders come only from the
personalisation block and the inline `{{field|fallback}}` tags of headings and texts,
built here from a field name the schema checked against PERSONALISATION_FIELDS and a
fallback limited to characters that need no escaping (a tag naming anything else
stays text). The sandbox escapes the contact's value when it renders the message.

mrml (the Rust port of MJML 4) rather than the `mjml` npm package: both give the
same responsive, client-safe tables, but rendering runs at save time in the Python
web and worker processes, which have no Node."""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mrml

from messaging.blocks.kinds import EXTRA_BLOCK_KINDS
from messaging.blocks.schema import MARKUP_LINK, PERSONAL_TAG, PERSONALISATION_FIELDS

FONT = "Helvetica, Arial, sans-serif"
HEADING_SIZES = {1: "28px", 2: "22px", 3: "18px"}


@dataclass(frozen=True)
class RenderedDocument:
    html: str
    text: str


def _html(value: Any) -> str:
    """Escaped for HTML text or a quoted attribute, braces included."""
    return html.escape(str(value), quote=True).replace("{", "&#123;").replace("}", "&#125;")


def _plain(value: Any) -> str:
    """Escaped for the plain-text template (no HTML escaping: it is not HTML)."""
    return re.sub(
        r"[{}]",
        lambda m: (
            "{% templatetag openbrace %}" if m.group(0) == "{" else "{% templatetag closebrace %}"
        ),
        str(value),
    )


def _inline(text: str) -> str:
    """The text markup of one paragraph → HTML: escape everything first, then turn
    the (escaped) markers into tags, so only <strong>, <em> and <a> can appear."""
    parts: list[str] = []
    last = 0
    for match in MARKUP_LINK.finditer(text):
        parts.append(_emphasis(_html(text[last : match.start()])))
        label = _emphasis(_html(match.group(1)))
        parts.append(f'<a href="{_html(match.group(2))}" style="color:inherit">{label}</a>')
        last = match.end()
    parts.append(_emphasis(_html(text[last:])))
    return "".join(parts)


def _emphasis(escaped: str) -> str:
    escaped = re.sub(r"\*\*([^*\n]+)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"\*([^*\n]+)\*", r"<em>\1</em>", escaped)


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def _markup_text(text: str) -> str:
    """The markup as plain text: [label](url) → label (url), emphasis markers dropped."""
    text = MARKUP_LINK.sub(lambda m: f"{m.group(1)} ({m.group(2)})", text)
    return re.sub(r"\*{1,2}([^*\n]+)\*{1,2}", r"\1", text)


def _placeholder(block: dict[str, Any]) -> str:
    fallback = block.get("fallback", "")
    field = block["field"]
    return f'{{{{ {field}|default:"{fallback}" }}}}' if fallback else f"{{{{ {field} }}}}"


def _with_tags(text: str, escape: Callable[[str], str]) -> str:
    """`escape(text)` with its personal tags turned into placeholders: each tag is
    swapped for a marker that escaping and the markup leave alone, and the marker for
    the placeholder after."""
    tags: list[str] = []

    def mark(match: re.Match[str]) -> str:
        if match.group(1) not in PERSONALISATION_FIELDS:
            return match.group(0)
        tags.append(
            _placeholder({"field": match.group(1), "fallback": (match.group(2) or "").strip()})
        )
        return f"\x00{len(tags) - 1}\x00"

    marked = PERSONAL_TAG.sub(mark, text.replace("\x00", ""))
    return re.sub("\x00(\\d+)\x00", lambda m: tags[int(m.group(1))], escape(marked))


def _align(block: dict[str, Any]) -> str:
    return f' align="{block["align"]}"' if block.get("align") else ""


def _heading(block: dict[str, Any]) -> str:
    size = HEADING_SIZES[block.get("level", 1)]
    return (
        f'<mj-text font-size="{size}" font-weight="bold" line-height="1.3"{_align(block)}>'
        f"{_with_tags(block['text'], _html)}</mj-text>"
    )


def _text(block: dict[str, Any]) -> str:
    body = "".join(
        f'<p style="margin:0 0 12px">{_with_tags(p, _inline).replace(chr(10), "<br>")}</p>'
        for p in _paragraphs(block["text"])
    )
    return f'<mj-text font-size="15px" line-height="1.5"{_align(block)}>{body}</mj-text>'


def _image(block: dict[str, Any]) -> str:
    attrs = f'src="{_html(block["src"])}" alt="{_html(block.get("alt", ""))}"'
    if block.get("href"):
        attrs += f' href="{_html(block["href"])}"'
    if block.get("width"):
        attrs += f' width="{int(block["width"])}px"'
    return f"<mj-image {attrs}></mj-image>"


def _button(block: dict[str, Any]) -> str:
    return (
        f'<mj-button href="{_html(block["url"])}" '
        f'background-color="{block.get("background", "#1f6feb")}" '
        f'color="{block.get("color", "#ffffff")}" font-size="15px"{_align(block)}>'
        f"{_html(block['label'])}</mj-button>"
    )


def _divider(block: dict[str, Any]) -> str:
    colour = block.get("color", "#dddddd")
    return f'<mj-divider border-width="1px" border-color="{colour}"></mj-divider>'


def _spacer(block: dict[str, Any]) -> str:
    return f'<mj-spacer height="{int(block.get("height", 24))}px"></mj-spacer>'


def _social(block: dict[str, Any]) -> str:
    elements = "".join(
        f'<mj-social-element name="{link["network"]}" href="{_html(link["url"])}">'
        "</mj-social-element>"
        for link in block["links"]
    )
    return f'<mj-social mode="horizontal" icon-size="24px"{_align(block)}>{elements}</mj-social>'


def _personalisation(block: dict[str, Any]) -> str:
    line = f"{_html(block.get('before', ''))}{_placeholder(block)}{_html(block.get('after', ''))}"
    return f'<mj-text font-size="15px" line-height="1.5"{_align(block)}>{line}</mj-text>'


def _image_text(block: dict[str, Any]) -> str:
    alt = _plain(block.get("alt", ""))
    return f"{alt} ({_plain(block['href'])})" if block.get("href") else alt


def _personalisation_text(block: dict[str, Any]) -> str:
    before, after = _plain(block.get("before", "")), _plain(block.get("after", ""))
    return f"{before}{_placeholder(block)}{after}"


@dataclass(frozen=True)
class Kind:
    mjml: Callable[[dict[str, Any]], str]
    text: Callable[[dict[str, Any]], str]


# One entry per block kind of the schema (messaging/blocks/schema.py BLOCK_KINDS).
KINDS = {
    "heading": Kind(_heading, lambda b: _with_tags(_markup_text(b["text"]), _plain)),
    "text": Kind(_text, lambda b: _with_tags(_markup_text(b["text"]), _plain)),
    "image": Kind(_image, _image_text),
    "button": Kind(_button, lambda b: f"{_plain(b['label'])}: {_plain(b['url'])}"),
    "divider": Kind(_divider, lambda b: ""),
    "spacer": Kind(_spacer, lambda b: ""),
    "social": Kind(
        _social, lambda b: "\n".join(f"{x['network']}: {_plain(x['url'])}" for x in b["links"])
    ),
    "personalisation": Kind(_personalisation, _personalisation_text),
}


def _kind(name: str) -> Kind:
    if name in KINDS:
        return KINDS[name]
    extra = EXTRA_BLOCK_KINDS[name]
    return Kind(extra.mjml, extra.text)


def document_mjml(document: dict[str, Any]) -> str:
    sections = []
    for section in document["sections"]:
        columns = "".join(
            "<mj-column>"
            + "".join(_kind(b["type"]).mjml(b) for b in column["blocks"])
            + "</mj-column>"
            for column in section["columns"]
        )
        background = section.get("background", "#ffffff")
        sections.append(f'<mj-section background-color="{background}">{columns}</mj-section>')
    return (
        "<mjml><mj-head><mj-attributes>"
        f'<mj-all font-family="{FONT}"></mj-all>'
        '<mj-text color="#1f2328"></mj-text>'
        "</mj-attributes></mj-head>"
        f'<mj-body background-color="#f4f5f7" width="600px">{"".join(sections)}</mj-body></mjml>'
    )


def document_render(document: dict[str, Any]) -> RenderedDocument:
    """HTML and plain text of a document that `document_errors` accepted."""
    output = mrml.to_html(document_mjml(document))
    texts = [
        _kind(block["type"]).text(block)
        for section in document["sections"]
        for column in section["columns"]
        for block in column["blocks"]
    ]
    return RenderedDocument(html=output.content, text="\n\n".join(t for t in texts if t.strip()))
