"""Every write to contacts and events goes through these functions."""

from contacts.services.consent import consent_set, suppression_add
from contacts.services.contacts import contact_create, contact_update, value_hash
from contacts.services.erasure import contact_erase
from contacts.services.events import IngestResult, events_ingest
from contacts.services.export import contacts_csv_rows
from contacts.services.export_jobs import (
    contact_export_for_download,
    contact_export_request,
    contact_export_run,
    contact_export_status,
    contact_exports_forget,
)
from contacts.services.import_mapping import suggest_mapping
from contacts.services.imports import (
    import_job_create,
    import_job_run,
    import_job_start,
    import_jobs_stalled,
)
from contacts.services.locks import contacts_hold
from contacts.services.marks import (
    MarkClaim,
    contact_marks_claim,
    contact_marks_discard,
    contact_marks_done,
    contact_marks_hold,
    contact_marks_release,
    contact_marks_release_stale,
    contact_marks_workspaces,
    contacts_mark_changed,
    contacts_mark_changed_since,
)
from contacts.services.segment_members import (
    rule_drifts_with_time,
    segment_locks,
    segment_members_build,
    segment_members_due,
    segment_members_refresh,
)
from contacts.services.segments import segment_create, segment_delete, segment_update
from contacts.services.summaries import (
    event_summaries_compare,
    event_summaries_rebuild,
    event_summaries_refresh,
)
from contacts.services.upsert import UpsertResult, contacts_upsert

__all__ = [
    "IngestResult",
    "MarkClaim",
    "UpsertResult",
    "consent_set",
    "contact_create",
    "contact_erase",
    "contact_export_for_download",
    "contact_export_request",
    "contact_export_run",
    "contact_export_status",
    "contact_exports_forget",
    "contact_marks_claim",
    "contact_marks_discard",
    "contact_marks_done",
    "contact_marks_hold",
    "contact_marks_release",
    "contact_marks_release_stale",
    "contact_marks_workspaces",
    "contact_update",
    "contacts_csv_rows",
    "contacts_hold",
    "contacts_mark_changed",
    "contacts_mark_changed_since",
    "contacts_upsert",
    "event_summaries_compare",
    "event_summaries_rebuild",
    "event_summaries_refresh",
    "events_ingest",
    "import_job_create",
    "import_job_run",
    "import_job_start",
    "import_jobs_stalled",
    "rule_drifts_with_time",
    "segment_create",
    "segment_delete",
    "segment_locks",
    "segment_members_build",
    "segment_members_due",
    "segment_members_refresh",
    "segment_update",
    "suggest_mapping",
    "suppression_add",
    "value_hash",
]
