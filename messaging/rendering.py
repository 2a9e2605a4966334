"""What a rendered message goes through after the template: CSS inlining, plain text
from HTML, SMS segments, tracked links. The template engine and its bounds are in
messaging/sandbox.py."""

from __future__ import annotations

import html
import math
import re
from dataclasses import dataclass
from typing import Any

import css_inline


def inline_css(document: str) -> str:
    """Inline <style> rules into style attributes; never fetches a remote stylesheet."""
    inliner = css_inline.CSSInliner(load_remote_stylesheets=False, keep_at_rules=True)
    try:
        return str(inliner.inline(document))
    except (css_inline.InlineError, ValueError):
        return document


# Every pattern here runs once per message over HTML of up to a million characters,
# so none may backtrack across the document: a tag's insides are `[^<>]*`, and a span
# that must end somewhere stops at the next opening of the same thing rather than
# searching to the end. (The former `<a …>(.*?)</a>` took 18 s for 800 unclosed links.)
_HIDDEN = re.compile(
    r"<(head|style|script|title)\b(?:(?!<\1\b).)*?</\1\s*>", re.IGNORECASE | re.DOTALL
)
_COMMENT = re.compile(r"<!--(?:(?!<!--).)*?-->", re.DOTALL)
_LINK = re.compile(
    r"""<a\b[^<>]*?\bhref\s*=\s*(?:"([^"<>]*)"|'([^'<>]*)')[^<>]*>((?:(?!<a\b).)*?)</a\s*>""",
    re.IGNORECASE | re.DOTALL,
)
_LIST_ITEM = re.compile(r"<li\b[^<>]*>", re.IGNORECASE)
_BLOCK = re.compile(r"</?(?:p|div|br|tr|table|h[1-6]|li|ul|ol)\b[^<>]*>", re.IGNORECASE)
_TAG = re.compile(r"<[^<>]*>")


def _link_text(match: re.Match[str]) -> str:
    href = html.unescape(match.group(1) or match.group(2) or "").strip()
    text = match.group(3)
    if href.lower().startswith(("http://", "https://", "mailto:")):
        return f"{text} ({html.escape(href)})"
    return text


def html_to_text(document: str) -> str:
    """The plain-text part of an email from its HTML: blocks become lines, links
    become "text (url)", list items "- item". Regular expressions rather than a parser:
    it runs for every message sent, and the HTML is our own rendering."""
    text = _COMMENT.sub("", _HIDDEN.sub("", document))
    text = re.sub(r"\s+", " ", text)
    text = _LINK.sub(_link_text, text)
    text = _LIST_ITEM.sub("\n- ", text)
    text = _BLOCK.sub("\n", text)
    text = html.unescape(_TAG.sub("", text))
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# GSM 03.38: the basic set costs one septet, the extension set two (ESC + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")


@dataclass(frozen=True)
class SmsSegments:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    per_segment: int


def sms_segments(text: str) -> SmsSegments:
    """How many segments an SMS takes: GSM-7 fits 160 septets in one, 153 per part
    when split; anything outside GSM-7 makes it UCS-2: 70, or 67 per part."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units == 0:
        return SmsSegments(encoding, 0, 0, single)
    if units <= single:
        return SmsSegments(encoding, units, 1, single)
    return SmsSegments(encoding, units, math.ceil(units / multi), multi)


_HREF = re.compile(r"""(<a\b[^<>]*?\bhref\s*=\s*)("[^"<>]*"|'[^'<>]*')""", re.IGNORECASE)


def rewrite_links(
    document: str, tracked_url: Any, keep_prefix: str = "\x00"
) -> tuple[str, list[str]]:
    """Replace every http(s) link (except those starting with `keep_prefix`: our own
    unsubscribe links) with `tracked_url(index)`; return the new document and the
    original URLs in index order (the only places a click may lead)."""
    links: list[str] = []

    def replace(match: re.Match[str]) -> str:
        quoted = match.group(2)
        url = html.unescape(quoted[1:-1]).strip()
        if not url.lower().startswith(("http://", "https://")) or url.startswith(keep_prefix):
            return match.group(0)
        links.append(url)
        new = html.escape(tracked_url(len(links) - 1), quote=True)
        return f"{match.group(1)}{quoted[0]}{new}{quoted[0]}"

    return _HREF.sub(replace, document), links


# A URL in an SMS: http(s) up to the next blank (a trailing full stop, comma, or
# closing bracket is the sentence's, not the address's).
_SMS_URL = re.compile(r"https?://[^\s<>\"']+?(?=[.,;:!?)\]]*(?:\s|$))", re.IGNORECASE)


def rewrite_sms_links(
    text: str, tracked_url: Any, keep_prefix: str = "\x00"
) -> tuple[str, list[str]]:
    """An SMS's http(s) addresses replaced with `tracked_url(index)` (a short link),
    except those starting with `keep_prefix`; the original URLs in index order."""
    links: list[str] = []

    def replace(match: re.Match[str]) -> str:
        url = match.group(0)
        if url.startswith(keep_prefix):
            return url
        links.append(url)
        return str(tracked_url(len(links) - 1))

    return _SMS_URL.sub(replace, text), links
