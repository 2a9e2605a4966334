"""The contact page's value panel: what the contact has bought and what the CLV model
expects of it, in words a marketer reads (the model's parameters stay on the CLV
report's "about this model" panel)."""

from __future__ import annotations

from django.http import Http404, HttpResponse
from django.shortcuts import render

from analytics.models import CustomerFacts
from analytics.services.clv import clv_model_applied
from contacts.selectors import contact_get
from workspaces.dashboard import WorkspaceRequest, workspace_view

# How likely the contact is still a customer, in words (BG/NBD's P(alive)).
ALIVE_WORDS = (
    (0.8, "very likely still an active customer"),
    (0.5, "probably still an active customer"),
    (0.2, "may be drifting away"),
    (0.0, "has probably stopped buying"),
)


def alive_words(probability: float | None) -> str:
    if probability is None:
        return ""
    return next(words for floor, words in ALIVE_WORDS if probability >= floor)


@workspace_view()
def contact_value_panel(request: WorkspaceRequest, contact_id: int) -> HttpResponse:
    contact = contact_get(workspace=request.workspace, contact_id=contact_id)
    if contact is None:
        raise Http404("No such contact.")
    facts = CustomerFacts.objects.filter(workspace=request.workspace, contact=contact).first()
    model = clv_model_applied(workspace=request.workspace)
    horizon_months = round(model.horizon_weeks * 12 / 52) if model else 12
    return render(
        request,
        "analytics/_contact_value.html",
        {
            "contact": contact,
            "facts": facts,
            "currency": request.workspace.currency,
            "horizon_months": horizon_months,
            "alive_words": alive_words(facts.probability_alive if facts else None),
            "fitted_at": model.fitted_at if model else None,
        },
    )
