"""Every write the lifecycle app makes."""

from lifecycle.services.evaluation import stages_evaluate
from lifecycle.services.marked import marked_contacts_evaluate
from lifecycle.services.moves import contact_stage_set, contact_stage_unpin
from lifecycle.services.replay import stages_replay
from lifecycle.services.stages import (
    stage_archive,
    stage_create,
    stage_make_default,
    stage_update,
    stages_create_defaults,
    stages_reorder,
)
from lifecycle.services.sweeps import (
    sweep_chunk,
    sweep_chunks,
    sweep_now,
    sweep_start,
    sweeps_start_due,
)

__all__ = [
    "contact_stage_set",
    "contact_stage_unpin",
    "marked_contacts_evaluate",
    "stage_archive",
    "stage_create",
    "stage_make_default",
    "stage_update",
    "stages_create_defaults",
    "stages_evaluate",
    "stages_reorder",
    "stages_replay",
    "sweep_chunk",
    "sweep_chunks",
    "sweep_now",
    "sweep_start",
    "sweeps_start_due",
]
