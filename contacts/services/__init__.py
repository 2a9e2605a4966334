"""Every write to contacts and events goes through these functions."""

from contacts.services.contacts import (
    UpsertResult,
    consent_set,
    contact_create,
    contact_erase,
    contact_update,
    contacts_upsert,
    suppression_add,
    value_hash,
)
from contacts.services.events import IngestResult, events_ingest
from contacts.services.export import contacts_csv_rows, neutralise
from contacts.services.imports import (
    import_job_create,
    import_job_run,
    import_job_start,
    import_jobs_stalled,
    suggest_mapping,
)
from contacts.services.marks import contacts_mark_changed

__all__ = [
    "IngestResult",
    "UpsertResult",
    "consent_set",
    "contact_create",
    "contact_erase",
    "contact_update",
    "contacts_csv_rows",
    "contacts_mark_changed",
    "contacts_upsert",
    "events_ingest",
    "import_job_create",
    "import_job_run",
    "import_job_start",
    "import_jobs_stalled",
    "neutralise",
    "suggest_mapping",
    "suppression_add",
    "value_hash",
]
