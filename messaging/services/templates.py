"""Writes to message templates. A template is compiled before it is stored, and
rendered once as a contact with no data; one with an error, or whose render goes over
the sandbox's bounds (messaging/sandbox.py), is refused with the field, the line and
the reason."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import ProtectedError, RestrictedError
from django.utils import timezone

from config.errors import Conflict, InvalidInput
from contacts.models import Channel
from messaging.blocks import document_errors, document_render
from messaging.models import Editor, Template
from messaging.personalisation import contact_context, render_template
from messaging.sandbox import TemplateError, compile_template
from workspaces.models import Workspace
from workspaces.services import Actor, audit_record, save_or_conflict

FIELDS = ("name", "channel", "subject", "preheader", "from_name", "from_email", "reply_to")
TEXT_FIELDS = ("subject", "preheader", "body", "text_body", "from_name")


def template_errors(template: Template) -> dict[str, list[str]]:
    """Every problem with a template, by field (empty when it may be saved)."""
    errors = template_render_document(template)
    if not template.name.strip():
        errors["name"] = ["must not be blank"]
    if template.channel not in Channel.values:
        errors["channel"] = [f"one of {', '.join(Channel.values)}"]
    # A blocks template's body is rendered from its document: nothing to check in it
    # while the document has problems.
    unrendered = template.editor == Editor.BLOCKS and bool(errors)
    if not unrendered and not template.body.strip():
        errors["body"] = ["must not be blank"]
    if template.channel == Channel.EMAIL and not template.subject.strip():
        errors["subject"] = ["an email needs a subject"]
    for field in TEXT_FIELDS:
        if unrendered and field in ("body", "text_body"):
            continue
        html_mode = field == "body" and template.channel == Channel.EMAIL
        try:
            compile_template(getattr(template, field), field=field, html_mode=html_mode)
        except TemplateError as exc:
            where = f"line {exc.line}: " if exc.line else ""
            errors.setdefault(field, []).append(f"{where}{exc.reason}")
    if not errors:
        # What the text alone makes too large or slow (loops over literals, values
        # doubled in `with`) shows with any contact: refuse it now, not at send time.
        try:
            render_template(
                template,
                contact_context(contact=None, workspace=template.workspace, template=template),
            )
        except TemplateError as exc:
            errors.setdefault(exc.field, []).append(exc.reason)
    return errors


def template_render_document(template: Template) -> dict[str, list[str]]:
    """Render a blocks template's document into its `body` and `text_body` (so the
    send path reads them as for any template); the document's problems by path
    otherwise. An HTML template is left alone."""
    if template.editor not in Editor.values:
        return {"editor": [f"one of {', '.join(Editor.values)}"]}
    if template.editor != Editor.BLOCKS:
        # An HTML template may keep the document it was built from (to switch back),
        # never an invalid one.
        return document_errors(template.document, template.workspace) if template.document else {}
    if template.channel != Channel.EMAIL:
        return {"editor": ["blocks are for email templates"]}
    errors = document_errors(template.document, template.workspace)
    if not errors:
        rendered = document_render(template.document)
        template.body, template.text_body = rendered.html, rendered.text
    return errors


def _check(template: Template) -> None:
    errors = template_errors(template)
    if errors:
        field, reasons = next(iter(errors.items()))
        raise InvalidInput(f"{field}: {reasons[0]}", fields=errors)


@transaction.atomic
def template_create(*, workspace: Workspace, data: dict[str, Any], actor: Actor) -> Template:
    template = Template(workspace=workspace, **data)
    template.name = template.name.strip()
    _check(template)
    # The name's uniqueness is the database's to say (a Conflict below), not a 400.
    template.full_clean(validate_unique=False, validate_constraints=False)
    save_or_conflict(template, "A template with this name exists.")
    audit_record(
        workspace=workspace,
        action="template.created",
        actor=actor,
        object_type="template",
        object_id=template.pk,
    )
    return template


@transaction.atomic
def template_update(*, template: Template, data: dict[str, Any], actor: Actor) -> Template:
    changed = [field for field, value in data.items() if getattr(template, field) != value]
    if "channel" in changed:
        raise InvalidInput("A template's channel cannot change.", fields={"channel": ["fixed"]})
    for field in changed:
        setattr(template, field, data[field])
    template.name = template.name.strip()
    before = (template.body, template.text_body)
    _check(template)
    changed += [
        field
        for field, old in zip(("body", "text_body"), before, strict=True)
        if getattr(template, field) != old and field not in changed
    ]
    if not changed:
        return template
    template.updated_at = timezone.now()
    # The name's uniqueness is the database's to say (a Conflict below), not a 400.
    template.full_clean(validate_unique=False, validate_constraints=False)
    save_or_conflict(
        template, "A template with this name exists.", update_fields=[*changed, "updated_at"]
    )
    audit_record(
        workspace=template.workspace,
        action="template.updated",
        actor=actor,
        object_type="template",
        object_id=template.pk,
        details={"fields": changed},
    )
    return template


@transaction.atomic
def template_delete(*, template: Template, actor: Actor) -> None:
    template_id = template.pk
    try:
        with transaction.atomic():
            template.delete()
    except (ProtectedError, RestrictedError):
        # Broadcasts and their variants keep the template they sent (PROTECT).
        raise Conflict(
            "A campaign uses this template; delete or change the campaign first.",
            fields={"template_id": ["used by a campaign"]},
        ) from None
    audit_record(
        workspace=template.workspace,
        action="template.deleted",
        actor=actor,
        object_type="template",
        object_id=template_id,
    )
