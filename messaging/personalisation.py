"""What a template sees, and rendering a template for one message or a preview.

The context is plain data (dicts, strings, numbers) copied out of the models, never
the model instances (see messaging/sandbox.py). A render is bounded in time, loop
iterations and output (RenderLimitExceeded, raised as a TemplateError naming the
field): a message that goes over fails alone."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from contacts.models import Channel, Contact
from messaging import tokens
from messaging.models import Template
from messaging.rendering import (
    html_to_text,
    inline_css,
    rewrite_links,
    rewrite_sms_links,
    sms_segments,
)
from messaging.sandbox import (
    RenderBudget,
    RenderLimitExceeded,
    TemplateError,
    compile_template,
    render,
)
from workspaces.models import Workspace


def _plain(value: Any) -> Any:
    """JSON-like data only: anything else becomes its string."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


# Functions (workspace, contact, message id, template) -> more names for the template,
# registered by apps to the right in AppConfig.ready() (surveys: `survey_<id>`, the
# one-tap scale of a survey the template names). Each returns plain data only.
ContextProvider = Callable[[Workspace, Contact | None, int | None, Template | None], dict[str, Any]]
CONTEXT_PROVIDERS: list[ContextProvider] = []


def register_context_provider(provider: ContextProvider) -> None:
    if provider not in CONTEXT_PROVIDERS:
        CONTEXT_PROVIDERS.append(provider)


def contact_context(
    *,
    contact: Contact | None,
    workspace: Workspace,
    stage_name: str = "",
    message_id: int | None = None,
    template: Template | None = None,
) -> dict[str, Any]:
    data: dict[str, Any] = {
        "first_name": "",
        "last_name": "",
        "full_name": "",
        "email": "",
        "phone": "",
        "external_id": "",
        "locale": "",
        "time_zone": "",
        "attributes": {},
    }
    if contact is not None:
        data.update(
            first_name=contact.first_name,
            last_name=contact.last_name,
            full_name=contact.full_name,
            email=contact.email or "",
            phone=contact.phone or "",
            external_id=contact.external_id or "",
            locale=contact.locale,
            time_zone=contact.time_zone or workspace.time_zone,
            attributes=_plain(contact.attributes or {}),
        )
    link = (
        tokens.unsubscribe_url(message_id, workspace_id=workspace.pk)
        if message_id
        else "#preview-unsubscribe"
    )
    # (the same link serves as the preference page: GET shows the choices)
    extra: dict[str, Any] = {}
    for provider in CONTEXT_PROVIDERS:
        extra.update(provider(workspace, contact, message_id, template))
    return {
        **extra,
        **data,
        "contact": dict(data),
        "stage": stage_name,
        "workspace": {"name": workspace.name},
        "unsubscribe_url": link,
        "preferences_url": link,
    }


@dataclass
class Rendered:
    subject: str = ""
    html: str = ""
    text: str = ""
    links: list[str] = field(default_factory=list)
    segments: int = 0
    encoding: str = ""


PREHEADER = '<div style="display:none;max-height:0;overflow:hidden;mso-hide:all">{}</div>'


def render_template(
    template: Template,
    context: dict[str, Any],
    *,
    message_id: int | None = None,
    budget: RenderBudget | None = None,
    subject: str = "",
) -> Rendered:
    """Render for sending (with `message_id`: links tracked, open pixel added) or for
    a preview (without); `subject`, when given, replaces the template's subject line
    (an A/B variant's) and is personalised the same way. Raises TemplateError naming
    the field when a field does not compile or its render goes over the budget (one
    budget for all fields)."""
    budget = budget or RenderBudget.start()
    workspace_id = template.workspace_id  # the message's own: links carry it

    def run(source: str, *, html_mode: bool, field: str = "body") -> str:
        compiled = compile_template(source, field=field, html_mode=html_mode)
        try:
            return render(compiled, context, html_mode=html_mode, budget=budget)
        except RenderLimitExceeded as exc:
            raise TemplateError(field, None, f"rendering stopped: {exc.reason}") from None

    if template.channel == Channel.SMS:
        text = run(template.body, html_mode=False).strip()
        sms_links: list[str] = []
        if message_id is not None:
            # Counted after the rewrite: the short links are what the phone receives.
            text, sms_links = rewrite_sms_links(
                text,
                lambda index: tokens.short_click_url(message_id, index, workspace_id=workspace_id),
                keep_prefix=settings.BASE_URL + "/m/",
            )
        info = sms_segments(text)
        return Rendered(text=text, links=sms_links, segments=info.segments, encoding=info.encoding)
    subject = " ".join(run(subject or template.subject, html_mode=False, field="subject").split())
    body = run(template.body, html_mode=True)
    if "<html" not in body.lower():
        body = f"<html><head></head><body>{body}</body></html>"
    preheader = run(template.preheader, html_mode=True, field="preheader").strip()
    if preheader:
        body = _after_body_tag(body, PREHEADER.format(preheader))
    body = inline_css(body)
    text = (
        run(template.text_body, html_mode=False, field="text_body").strip()
        if template.text_body.strip()
        else html_to_text(body)
    )
    links: list[str] = []
    if message_id is not None:
        body, links = rewrite_links(
            body,
            lambda index: tokens.click_url(message_id, index, workspace_id=workspace_id),
            keep_prefix=settings.BASE_URL + "/m/",
        )
        pixel_url = tokens.open_url(message_id, workspace_id=workspace_id)
        pixel = (
            f'<img src="{pixel_url}" width="1" height="1" alt="" style="display:block;border:0">'
        )
        body = _before_body_end(body, pixel)
    return Rendered(subject=subject, html=body, text=text, links=links)


def _after_body_tag(document: str, fragment: str) -> str:
    lower = document.lower()
    start = lower.find("<body")
    if start < 0:
        return fragment + document
    end = lower.find(">", start)
    return document[: end + 1] + fragment + document[end + 1 :]


def _before_body_end(document: str, fragment: str) -> str:
    index = document.lower().rfind("</body>")
    if index < 0:
        return document + fragment
    return document[:index] + fragment + document[index:]
