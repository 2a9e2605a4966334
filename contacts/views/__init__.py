"""Dashboard pages of the contacts app."""

from contacts.views.contacts import (
    contact_detail,
    contact_erase,
    contact_export,
    contact_list,
    contact_signup_set,
    saved_view_remove,
    saved_view_save,
)
from contacts.views.exports import (
    contact_export_download,
    contact_export_start,
    contact_export_status_panel,
)
from contacts.views.imports import import_detail, import_errors_csv, import_list
from contacts.views.segments import (
    rule_catalog,
    rule_preview,
    segment_contacts,
    segment_count,
    segment_delete,
    segment_edit,
    segment_list,
)

__all__ = [
    "contact_detail",
    "contact_erase",
    "contact_export",
    "contact_export_download",
    "contact_export_start",
    "contact_export_status_panel",
    "contact_list",
    "contact_signup_set",
    "import_detail",
    "import_errors_csv",
    "import_list",
    "rule_catalog",
    "rule_preview",
    "saved_view_remove",
    "saved_view_save",
    "segment_contacts",
    "segment_count",
    "segment_delete",
    "segment_edit",
    "segment_list",
]
