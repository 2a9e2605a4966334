"""Email content as a structured document of blocks (no HTML typed by anyone):
`schema` validates a document and names the path of a bad node, `mjml` renders a
valid one to MJML and then, with mrml, to responsive HTML and a plain-text part."""

from messaging.blocks.mjml import RenderedDocument, document_render
from messaging.blocks.schema import PERSONALISATION_FIELDS, SOCIAL_NETWORKS, document_errors

__all__ = [
    "PERSONALISATION_FIELDS",
    "SOCIAL_NETWORKS",
    "RenderedDocument",
    "document_errors",
    "document_render",
]
