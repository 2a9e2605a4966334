"""Customer lifetime value: BG/NBD (how many purchases, P(alive)), Gamma-Gamma (how
much per purchase), and the RFM summaries both are fitted on. Pure numpy/scipy, no
database: callers select the purchases and store the results."""

from analytics.clv.bgnbd import (
    BgNbdFit,
    BgNbdParams,
    bgnbd_fit,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new,
    probability_alive,
)
from analytics.clv.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    expected_average_value,
    gamma_gamma_fit,
    gamma_gamma_log_likelihood,
)
from analytics.clv.lifetime_value import WEEKS_PER_MONTH, predicted_clv
from analytics.clv.rfm import (
    DAYS_PER_WEEK,
    RfmSummary,
    Transactions,
    holdout_purchases,
    rfm_summary,
    transactions_from_rows,
)

__all__ = [
    "DAYS_PER_WEEK",
    "WEEKS_PER_MONTH",
    "BgNbdFit",
    "BgNbdParams",
    "GammaGammaFit",
    "GammaGammaParams",
    "RfmSummary",
    "Transactions",
    "bgnbd_fit",
    "bgnbd_log_likelihood",
    "expected_average_value",
    "expected_purchases",
    "expected_purchases_new",
    "gamma_gamma_fit",
    "gamma_gamma_log_likelihood",
    "holdout_purchases",
    "predicted_clv",
    "probability_alive",
    "rfm_summary",
    "transactions_from_rows",
]
