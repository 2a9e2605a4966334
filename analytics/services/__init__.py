"""Analytics writes: CLV fits, spend, the nightly work, the drift check. Figures are in
analytics/figures/, rollups in analytics/rollups/."""

from analytics.services.clv import clv_fit, clv_model_applied, clv_model_current
from analytics.services.clv_refits import clv_refit_request, clv_refit_run, clv_refit_status
from analytics.services.drift import drift_check, drift_last, drift_summary
from analytics.services.nightly import (
    clv_fits_due,
    drift_checks_due,
    predictions_in_use,
    rebuilds_due,
)
from analytics.services.rollup_rebuilds import (
    RebuildStatus,
    rollup_rebuild_request,
    rollup_rebuild_run,
    rollup_rebuild_status,
)
from analytics.services.spend import spend_delete, spend_set

__all__ = [
    "RebuildStatus",
    "clv_fit",
    "clv_fits_due",
    "clv_model_applied",
    "clv_model_current",
    "clv_refit_request",
    "clv_refit_run",
    "clv_refit_status",
    "drift_check",
    "drift_checks_due",
    "drift_last",
    "drift_summary",
    "predictions_in_use",
    "rebuilds_due",
    "rollup_rebuild_request",
    "rollup_rebuild_run",
    "rollup_rebuild_status",
    "spend_delete",
    "spend_set",
]
