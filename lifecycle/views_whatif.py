"""The stage editor's "Preview impact": what saving the rule being edited would do
now (htmx fragment under the rule), and on request the 12-month what-if funnel,
computed by a worker while the fragment polls its progress."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET, require_POST

from config.errors import DomainError
from lifecycle import selectors
from lifecycle.models import WhatIfRun
from lifecycle.services.whatif import whatif_funnel_start
from lifecycle.whatif import Proposal, proposal_parse, whatif_now, whatif_run_get
from workspaces.dashboard import WorkspaceRequest, workspace_view
from workspaces.dates import format_when
from workspaces.models import Role

NEW_STAGE_COLOUR = "#9aa5b1"


def _proposal(request: WorkspaceRequest) -> Proposal:
    """The proposal from the editor's form: the stage's key, its rule (the rule
    builder's hidden field) and, for a new stage, its name."""
    try:
        rule = json.loads(request.POST.get("rule") or "null")
    except ValueError as exc:
        raise DomainError(f"rule: is not JSON ({exc})", fields={"rule": ["is not JSON"]}) from exc
    key = request.POST.get("key", "")
    body: dict[str, Any] = {"stage": key, "rule": rule}
    name = request.POST.get("name", "").strip()
    if name and selectors.stage_get(workspace=request.workspace, key_or_id=key) is None:
        body["name"] = name
    return proposal_parse(workspace=request.workspace, body=body)


@require_POST
@workspace_view(write_methods_role=Role.VIEWER)
def stage_whatif(request: WorkspaceRequest) -> HttpResponse:
    """Read-only (nothing is saved), so anyone who can see the stages may ask."""
    try:
        answer = whatif_now(workspace=request.workspace, proposal=_proposal(request))
    except DomainError as error:
        return render(
            request,
            "lifecycle/_whatif.html",
            {"errors": error.fields or {"rule": [error.message]}},
        )
    computed_at = dt.datetime.fromisoformat(answer["computed_at"])
    return render(request, "lifecycle/_whatif.html", {"answer": answer, "computed_at": computed_at})


@require_POST
@workspace_view(write_methods_role=Role.ADMIN)
def whatif_funnel_new(request: WorkspaceRequest) -> HttpResponse:
    try:
        run = whatif_funnel_start(
            workspace=request.workspace, proposal=_proposal(request), actor=request.actor
        )
    except DomainError as error:
        return render(
            request,
            "lifecycle/_whatif.html",
            {"errors": error.fields or {"rule": [error.message]}},
        )
    return _funnel(request, run)


@require_GET
@workspace_view()
def whatif_funnel_status(request: WorkspaceRequest, run_id: int) -> HttpResponse:
    run = whatif_run_get(workspace=request.workspace, run_id=run_id)
    if run is None:
        raise Http404("No such what-if run.")
    return _funnel(request, run)


def _funnel(request: WorkspaceRequest, run: WhatIfRun) -> HttpResponse:
    context: dict[str, Any] = {"run": run}
    if run.status == WhatIfRun.Status.DONE and run.result:
        colours = {
            s.key: s.colour for s in selectors.stages_for_workspace(workspace=request.workspace)
        }
        stages = [
            {**s, "colour": colours.get(s["key"], NEW_STAGE_COLOUR)} for s in run.result["stages"]
        ]
        months = [
            {
                # The month that ended at this moment (midnight on the next 1st).
                "label": format_when(
                    (dt.datetime.fromisoformat(m["month_end"]) - dt.timedelta(days=1)).date(),
                    "month",
                ),
                "cells": [
                    {
                        "current": m["current"].get(s["key"]),
                        "proposed": m["proposed"].get(s["key"]),
                    }
                    for s in stages
                ],
            }
            for m in run.result["months"]
        ]
        context.update(
            stages=stages,
            months=months,
            chart=json.dumps(
                {
                    "stages": stages,
                    "labels": [m["label"] for m in months],
                    "months": run.result["months"],
                }
            ),
        )
    return render(request, "lifecycle/_whatif_funnel.html", context)
