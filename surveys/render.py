"""The `survey_<id>` names a message template can use (registered with messaging's
`register_context_provider`): the survey's question, its scale as one signed one-tap
link per score, and the hosted page's link (what an SMS carries).

A template names a survey by writing `survey_<id>`; only the surveys named are loaded,
one query per message that names any. In a preview (no message) every link is
`#preview-survey`, so nobody answers from a preview."""

from __future__ import annotations

import re
from typing import Any

from contacts.models import Contact
from messaging.models import Template
from surveys import scales, tokens
from surveys.models import Survey
from workspaces.models import Workspace

NAME = re.compile(r"\bsurvey_(\d{1,18})\b")
PREVIEW = "#preview-survey"

# The block a survey email's body is built around (surveys/services/sending.py): a row
# of buttons that are plain links, in a table so every mail client lays them out.
_BUTTON = (
    "display:inline-block;min-width:22px;padding:10px 5px;border:1px solid #8a8a8a;"
    "border-radius:4px;text-align:center;color:#1d1d1d;text-decoration:none;"
    "font:600 15px/1 Arial,sans-serif"
)
_END = "font:12px Arial,sans-serif;color:#555"
SCALE_BLOCK = (
    '<p style="font-size:18px;line-height:1.4;margin:0 0 16px">{{{{ {name}.question }}}}</p>\n'
    '<table role="presentation" cellpadding="0" cellspacing="0" border="0" '
    'style="border-collapse:collapse;margin:0 0 6px"><tr>\n'
    "{{% for option in {name}.options %}}"
    '<td style="padding:0 2px 4px 0"><a href="{{{{ option.url }}}}" '
    f'title="{{{{{{{{ option.title }}}}}}}}" style="{_BUTTON}">'
    "{{{{ option.label }}}}</a></td>"
    "{{% endfor %}}\n</tr></table>\n"
    '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
    'style="max-width:420px"><tr>'
    f'<td style="{_END}">{{{{{{{{ {{name}}.low_label }}}}}}}}</td>'
    f'<td style="{_END};text-align:right">{{{{{{{{ {{name}}.high_label }}}}}}}}</td>'
    "</tr></table>"
)

# A survey a reply can answer (surveys/services/replies.py) says so: "Reply 0-10 or tap:".
SMS_BODY = "{{{{ {name}.question }}}} {{{{ {name}.reply_hint }}}}{{{{ {name}.url }}}}"


def scale_block(survey_id: int) -> str:
    return SCALE_BLOCK.format(name=f"survey_{survey_id}")


def sms_body(survey_id: int) -> str:
    return SMS_BODY.format(name=f"survey_{survey_id}")


def _named(template: Template | None) -> set[int]:
    if template is None:
        return set()
    text = " ".join((template.subject, template.body, template.text_body))
    return {int(m) for m in NAME.findall(text)}


def reply_hint(survey: Survey) -> str:
    """What an SMS says when a reply with a number answers it (else nothing)."""
    if survey.kind not in scales.REPLY_KINDS:
        return ""
    low, high = scales.score_range(survey)
    return scales.text(survey, "reply_hint").format(low=low, high=high) + " "


def survey_data(survey: Survey, send: tokens.Send | None) -> dict[str, Any]:
    low, high = scales.scale_ends(survey)
    return {
        "name": survey.name,
        "question": survey.question,
        "low_label": low,
        "high_label": high,
        "url": tokens.page_url(send) if send else PREVIEW,
        "reply_hint": reply_hint(survey),
        "options": [
            {
                "score": o.score,
                "label": o.label,
                "title": o.title,
                "url": tokens.answer_url(send, o.score) if send else PREVIEW,
            }
            for o in scales.options(survey)
        ],
    }


def survey_context(
    workspace: Workspace,
    contact: Contact | None,
    message_id: int | None,
    template: Template | None,
) -> dict[str, Any]:
    ids = _named(template)
    if not ids:
        return {}
    found = Survey.objects.filter(workspace=workspace, pk__in=ids)
    out: dict[str, Any] = {}
    for survey in found:
        send = (
            tokens.Send(survey.pk, contact.pk, message_id, survey.workspace_id)
            if contact is not None and message_id
            else None
        )
        out[f"survey_{survey.pk}"] = survey_data(survey, send)
    return out
