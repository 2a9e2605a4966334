"""The significance tests A/B tests use (broadcasts and journey send steps).

- A rate (opens, clicks, conversions over messages sent): the two-proportion z-test
  with a pooled standard error, two-sided.
- Revenue per recipient: Welch's t-test (unequal variances), two-sided, from each
  arm's count, sum and sum of squares, so the database sums and Python never holds a
  row per recipient. Revenue is mostly zeros with a long tail; at the sizes a test
  pool has (hundreds and up) the mean is close enough to normal for Welch, and it is
  deterministic where a bootstrap would vary from run to run."""

from __future__ import annotations

import math

from scipy.stats import t as student_t

SIGNIFICANCE = 0.05


def two_proportion_p_value(clicks_a: int, sent_a: int, clicks_b: int, sent_b: int) -> float:
    """Two-sided p-value of the two-proportion z-test (pooled standard error)."""
    if not sent_a or not sent_b:
        return 1.0
    pooled = (clicks_a + clicks_b) / (sent_a + sent_b)
    se = math.sqrt(pooled * (1 - pooled) * (1 / sent_a + 1 / sent_b))
    if se == 0:
        return 1.0
    z = (clicks_a / sent_a - clicks_b / sent_b) / se
    return math.erfc(abs(z) / math.sqrt(2))


def welch_p_value(
    n_a: int, sum_a: float, squares_a: float, n_b: int, sum_b: float, squares_b: float
) -> float:
    """Two-sided p-value of Welch's t-test on two samples given as count, sum of the
    values and sum of their squares (sample variances with n - 1)."""
    if n_a < 2 or n_b < 2:
        return 1.0
    mean_a, mean_b = sum_a / n_a, sum_b / n_b
    var_a = max(squares_a - n_a * mean_a**2, 0.0) / (n_a - 1)
    var_b = max(squares_b - n_b * mean_b**2, 0.0) / (n_b - 1)
    se_a, se_b = var_a / n_a, var_b / n_b
    if se_a + se_b == 0:
        # No spread in either arm: every recipient of an arm is worth the same.
        return 1.0 if math.isclose(mean_a, mean_b) else 0.0
    t = (mean_a - mean_b) / math.sqrt(se_a + se_b)
    # Welch-Satterthwaite degrees of freedom.
    df = (se_a + se_b) ** 2 / (se_a**2 / (n_a - 1) + se_b**2 / (n_b - 1))
    return float(2 * student_t.sf(abs(t), df))
