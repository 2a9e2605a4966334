"""Dashboard pages of the contacts app."""

from contacts.views.contacts import contact_detail, contact_erase, contact_export, contact_list
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
    "contact_list",
    "import_detail",
    "import_errors_csv",
    "import_list",
    "rule_catalog",
    "rule_preview",
    "segment_contacts",
    "segment_count",
    "segment_delete",
    "segment_edit",
    "segment_list",
]
