"""The CDNOW sample of Fader, Hardie & Lee (2005), its published results, and the
sample summarised and fitted once for the CLV tests."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from analytics.clv import (
    BgNbdFit,
    GammaGammaFit,
    RfmSummary,
    Transactions,
    bgnbd_fit,
    gamma_gamma_fit,
    rfm_summary,
    transactions_from_rows,
)

CALIBRATION_END = dt.date(1997, 9, 30)  # weeks 1-39
HOLDOUT_END = dt.date(1998, 6, 30)  # weeks 40-78
HOLDOUT_WEEKS = (HOLDOUT_END - CALIBRATION_END).days / 7  # 39.0

PAPER_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_BGNBD_LOG_LIKELIHOOD = -9582.4
PAPER_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


CDNOW = Path(__file__).resolve().parent / "data" / "cdnow_sample.txt"


@dataclass(frozen=True)
class Cdnow:
    transactions: Transactions
    summary: RfmSummary
    bgnbd: BgNbdFit
    gamma_gamma: GammaGammaFit


def load_cdnow() -> Cdnow:
    """The CDNOW sample (the paper's 2,357 customers), summarised and fitted."""
    rows = []
    # Columns: master id, sample id, date YYYYMMDD, number of CDs, dollars.
    for line in CDNOW.read_text().splitlines():
        _, customer, day, _, dollars = line.split()
        rows.append((int(customer), f"{day[:4]}-{day[4:6]}-{day[6:]}", float(dollars)))
    transactions = transactions_from_rows(rows)
    summary = rfm_summary(transactions, calibration_end=CALIBRATION_END)
    return Cdnow(
        transactions=transactions,
        summary=summary,
        bgnbd=bgnbd_fit(summary.x, summary.t_x, summary.T),
        gamma_gamma=gamma_gamma_fit(summary.x, summary.m_x),
    )
