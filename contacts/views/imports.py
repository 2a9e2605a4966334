"""Dashboard pages for CSV imports."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render

from config.errors import DomainError
from config.spreadsheet import csv_writer
from contacts import selectors, services
from contacts.hooks import CONTACT_EXTRA_FIELDS
from contacts.import_kinds import IMPORT_KINDS
from contacts.models import ImportJob
from contacts.services.import_mapping import ATTRIBUTE_TYPES
from contacts.services.imports import import_kind
from contacts.validation import CONTACT_FIELDS
from workspaces.dashboard import WorkspaceRequest, workspace_view


@workspace_view()
def import_list(request: WorkspaceRequest) -> HttpResponse:
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, "Choose a CSV file to upload.")
        else:
            try:
                job = services.import_job_create(
                    workspace=request.workspace,
                    upload=upload,
                    actor=request.actor,
                    kind=request.POST.get("kind") or "contacts",
                )
                return redirect(
                    "contacts:import-detail", slug=request.workspace.slug, import_id=job.pk
                )
            except DomainError as exc:
                messages.error(
                    request,
                    "; ".join([exc.message, *[r for rs in exc.fields.values() for r in rs]]),
                )
    jobs = selectors.imports_for_workspace(workspace=request.workspace)[:50]
    titles = _kind_titles()
    return render(
        request,
        "contacts/import_list.html",
        {
            "jobs": [(job, titles.get(job.kind, job.kind)) for job in jobs],
            "kinds": list(IMPORT_KINDS.values()),
        },
    )


def _kind_titles() -> dict[str, str]:
    return {"contacts": "Contacts", **{k.key: k.title for k in IMPORT_KINDS.values()}}


def _targets() -> list[tuple[str, str]]:
    labels = {
        "external_id": "External id",
        "time_zone": "Time zone",
        "email_status": "Email status",
        "sms_status": "SMS status",
        "signed_up_at": "Signed up",
    }
    return [
        (f, labels.get(f, f.replace("_", " ").capitalize()))
        for f in CONTACT_FIELDS
        if f != "attributes"
    ] + [(f.name, f.label or f.name) for f in CONTACT_EXTRA_FIELDS.values()]


@workspace_view()
def import_detail(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.imports_for_workspace(workspace=request.workspace).filter(pk=import_id).first()
    if job is None:
        raise Http404("No such import.")
    errors: dict[str, list[str]] = {}
    if request.method == "POST" and job.status == ImportJob.Status.MAPPING:
        mapping = {}
        contacts_import = import_kind(job.kind) is None  # other kinds name their targets
        for position, header in enumerate(job.headers):
            target = request.POST.get(f"target_{position}", "")
            if target == "attribute" and contacts_import:
                name = request.POST.get(f"attribute_{position}", "").strip()
                kind = request.POST.get(f"type_{position}", "text")
                target = f"attributes.{name}:{kind}"
            mapping[header] = target
        try:
            services.import_job_start(
                job=job,
                mapping=mapping,
                match_on=request.POST.get("match_on", "email"),
                actor=request.actor,
            )
            return redirect("contacts:import-detail", slug=request.workspace.slug, import_id=job.pk)
        except DomainError as exc:
            errors = exc.fields
            job.mapping = mapping
    if request.headers.get("HX-Request"):
        if job.is_finished:  # reload the whole page, now with the report
            return HttpResponse(headers={"HX-Refresh": "true"})
        return render(
            request, "contacts/_import_progress.html", {"job": job, "kind": import_kind(job.kind)}
        )
    rejected = Paginator(selectors.import_errors(job=job), 100).get_page(request.GET.get("page"))
    rows = [
        {"header": h, "target": _split_target(job.mapping.get(h, "")), "position": i}
        for i, h in enumerate(job.headers)
    ]
    registered = import_kind(job.kind)
    return render(
        request,
        "contacts/import_detail.html",
        {
            "job": job,
            "kind": registered,
            "rows": rows,
            "targets": list(registered.targets) if registered else _targets(),
            "types": ATTRIBUTE_TYPES,
            "errors": errors,
            "rejected": rejected,
            "match_choices": ImportJob.MatchOn.choices,
        },
    )


def _split_target(target: str) -> dict[str, str]:
    field, _, kind = target.partition(":")
    if field.startswith("attributes."):
        return {
            "field": "attribute",
            "attribute": field.removeprefix("attributes."),
            "type": kind or "text",
        }
    return {"field": field, "attribute": "", "type": "text"}


@workspace_view()
def import_errors_csv(request: WorkspaceRequest, import_id: int) -> HttpResponse:
    job = selectors.imports_for_workspace(workspace=request.workspace).filter(pk=import_id).first()
    if job is None:
        raise Http404("No such import.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-rejected.csv"'
    # The header row is the uploaded file's own: as untrusted as its cells.
    writer = csv_writer(response)
    writer.writerow(["row", "reason", *job.headers])
    for error in selectors.import_errors(job=job).iterator():
        writer.writerow(
            [error.row_number, error.reason, *[error.values.get(h, "") for h in job.headers]]
        )
    return response
