"""The "Survey" block of the email block editor (registered with messaging's
`register_block_kind` in SurveysConfig.ready()): a survey picked from a list, rendered
as the same one-tap scale a survey email carries (`surveys/render.py` SCALE_BLOCK), so
the message names `survey_<id>` and the context provider fills in the signed links
when the real pipeline renders it."""

from __future__ import annotations

from typing import Any

from messaging.blocks.kinds import BlockKind, Errors
from surveys.models import Survey
from surveys.render import scale_block
from workspaces.models import Workspace

TEXT = (
    "{{{{ {name}.question }}}}\n"
    "{{% for option in {name}.options %}}{{{{ option.label }}}}: {{{{ option.url }}}}\n"
    "{{% endfor %}}"
)


def _check(errors: Errors, block: dict[str, Any], path: str, workspace: Workspace | None) -> None:
    survey_id = block.get("survey_id")
    if isinstance(survey_id, bool) or not isinstance(survey_id, int):
        errors.setdefault(f"{path}.survey_id", []).append("choose a survey")
    elif workspace is None or not Survey.objects.filter(workspace=workspace, pk=survey_id).exists():
        errors.setdefault(f"{path}.survey_id", []).append("no such survey in this workspace")
    extra = sorted(set(block) - {"type", "survey_id"})
    if extra:
        errors.setdefault(f"{path}.{extra[0]}", []).append("unknown field")


def _mjml(block: dict[str, Any]) -> str:
    # survey_id is a checked int: the scale's template text names it, nothing typed.
    return f'<mj-text line-height="1.4">{scale_block(int(block["survey_id"]))}</mj-text>'


def _text(block: dict[str, Any]) -> str:
    return TEXT.format(name=f"survey_{int(block['survey_id'])}")


def _choices(workspace: Workspace) -> list[tuple[Any, str]]:
    return list(
        Survey.objects.filter(workspace=workspace).order_by("name").values_list("pk", "name")
    )


SURVEY_BLOCK = BlockKind(
    label="Survey",
    check=_check,
    mjml=_mjml,
    text=_text,
    field="survey_id",
    field_label="Survey",
    choices=_choices,
    empty="No surveys yet: create one under Surveys first.",
)
