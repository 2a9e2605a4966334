"""BG/NBD against its equations written out again with math and scipy.special:
the likelihood (6), its gradient, P(alive), expected purchases (9, 10)."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
from scipy.optimize import approx_fprime
from scipy.special import hyp2f1

from analytics.clv import (
    BgNbdParams,
    bgnbd_log_likelihood,
    expected_purchases,
    expected_purchases_new,
    probability_alive,
)
from analytics.clv import bgnbd as bgnbd_module
from analytics.clv import gamma_gamma as gamma_gamma_module
from tests.analytics.cdnow import (
    PAPER_BGNBD,
    Cdnow,
)

FloatArray = npt.NDArray[np.float64]


# --- The equations, written out again --------------------------------------------

PAPER = BgNbdParams(**PAPER_BGNBD)
HAND_PICKED = [  # (x, t_x, T)
    (0, 0.0, 38.86),
    (0, 0.0, 0.5),
    (1, 30.43, 38.86),
    (2, 1.0, 38.86),
    (7, 35.0, 36.0),
    (29, 37.5, 39.0),
]


def _equation_6(p: BgNbdParams, x: int, t_x: float, T: float) -> float:
    """L(r, alpha, a, b | x, t_x, T) exactly as printed in the paper."""

    def beta(u: float, v: float) -> float:
        return math.exp(math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v))

    gamma_ratio = math.exp(math.lgamma(p.r + x) - math.lgamma(p.r))
    alive = (
        beta(p.a, p.b + x)
        / beta(p.a, p.b)
        * gamma_ratio
        * p.alpha**p.r
        / (p.alpha + T) ** (p.r + x)
    )
    dead = 0.0
    if x > 0:
        dead = (
            beta(p.a + 1, p.b + x - 1)
            / beta(p.a, p.b)
            * gamma_ratio
            * p.alpha**p.r
            / (p.alpha + t_x) ** (p.r + x)
        )
    return math.log(alive + dead)


def test_log_likelihood_is_equation_6() -> None:
    for params in (PAPER, BgNbdParams(r=1.7, alpha=0.6, a=2.5, b=0.4)):
        for x, t_x, T in HAND_PICKED:
            ours = float(bgnbd_log_likelihood(params, x, t_x, T))
            assert ours == pytest.approx(_equation_6(params, x, t_x, T), rel=1e-10)


def test_likelihood_gradient_matches_finite_differences(cdnow: Cdnow) -> None:
    s = cdnow.summary
    data = bgnbd_module._FitData.arrange(
        s.x.astype(float), s.t_x, s.T, np.linspace(1.0, 3.0, s.x.size).round()
    )

    def value(z: FloatArray) -> float:
        return bgnbd_module._negative_mean_log_likelihood(z, data)[0]

    for point in ([0.0, 0.0, 0.0, 0.0], np.log([0.243, 4.414, 0.793, 2.426]), [1, -1, 2, -0.5]):
        z = np.asarray(point, dtype=float)
        analytic = bgnbd_module._negative_mean_log_likelihood(z, data)[1]
        numeric = approx_fprime(z, value, 1e-7)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)

    repeat = s.x > 0
    spend = gamma_gamma_module._FitData.arrange(
        s.x[repeat].astype(float), s.m_x[repeat], np.ones(int(repeat.sum()))
    )
    for point in ([0.0, 0.0, 0.0], np.log([6.25, 3.74, 15.44])):
        z = np.asarray(point, dtype=float)
        analytic = gamma_gamma_module._negative_mean_log_likelihood(z, spend)[1]
        numeric = approx_fprime(
            z, lambda v: gamma_gamma_module._negative_mean_log_likelihood(v, spend)[0], 1e-7
        )
        np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-6)


def test_p_alive_is_one_without_repeat_purchases() -> None:
    """A BG/NBD customer can only drop out right after a purchase. b < 1 makes
    b + x - 1 negative at x = 0, which must not leak into the answer."""
    T = np.array([0.0, 1.0, 39.0, 500.0])
    for params in (PAPER, BgNbdParams(r=0.5, alpha=2.0, a=0.5, b=0.3)):
        np.testing.assert_array_equal(probability_alive(params, np.zeros(4), np.zeros(4), T), 1)


def test_p_alive_matches_the_note_and_moves_the_right_way() -> None:
    x, t_x = 3, 10.0
    T = np.linspace(10.0, 200.0, 50)
    ours = probability_alive(PAPER, x, t_x, T)
    r, alpha, a, b = PAPER.r, PAPER.alpha, PAPER.a, PAPER.b
    note = 1.0 / (1.0 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    np.testing.assert_allclose(ours, note, rtol=1e-12)
    assert np.all(np.diff(ours) < 0)  # the longer the silence, the likelier gone
    assert ours[0] == pytest.approx(1.0 / (1.0 + a / (b + x - 1)))  # just bought
    # A more recent last purchase, same x and T: more likely alive.
    assert np.all(np.diff(probability_alive(PAPER, x, np.linspace(0.5, 39, 20), 39.0)) > 0)
    # A heavy buyer long silent is gone, without overflow warnings.
    with np.errstate(all="raise"):
        assert float(probability_alive(PAPER, 400, 1.0, 300.0)) < 1e-100


def _equation_10_as_printed(p: BgNbdParams, t: float, x: int, t_x: float, T: float) -> float:
    z = t / (p.alpha + T + t)
    bracket = 1.0 - ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x) * hyp2f1(
        p.r + x, p.b + x, p.a + p.b + x - 1, z
    )
    alive = (p.a + p.b + x - 1) / (p.a - 1) * bracket
    if x == 0:
        return float(alive)
    odds = p.a / (p.b + x - 1) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x)
    return float(alive / (1.0 + odds))


def test_expected_purchases_is_equation_10() -> None:
    for params in (PAPER, BgNbdParams(r=1.7, alpha=0.6, a=2.5, b=0.4)):
        for x, t_x, T in HAND_PICKED:
            for t in (0.5, 10.0, 39.0, 104.0):
                ours = float(expected_purchases(params, t, x, t_x, T))
                printed = _equation_10_as_printed(params, t, x, t_x, T)
                assert ours == pytest.approx(printed, rel=1e-8), (x, t_x, T, t)


def test_expected_purchases_new_is_equation_9() -> None:
    p = PAPER
    for t in (0.1, 1.0, 39.0, 78.0, 520.0):
        printed = (
            (p.a + p.b - 1)
            / (p.a - 1)
            * (
                1
                - (p.alpha / (p.alpha + t)) ** p.r
                * hyp2f1(p.r, p.b, p.a + p.b - 1, t / (p.alpha + t))
            )
        )
        assert float(expected_purchases_new(p, t)) == pytest.approx(printed, rel=1e-9)
        assert float(expected_purchases_new(p, t)) == pytest.approx(
            float(expected_purchases(p, t, 0, 0.0, 0.0)), rel=1e-12
        )
    assert float(expected_purchases_new(p, 0.0)) == 0.0
    assert np.all(np.diff(expected_purchases_new(p, np.linspace(0, 100, 30))) > 0)


def test_expected_purchases_stays_finite_for_heavy_buyers() -> None:
    """2,000 purchases in 100 weeks, the last one today. As printed, equation 10 takes
    a power that underflows to 0 times a 2F1 that overflows; ours rewrites it. Such a
    customer buys about (r + x) / (alpha + T) a week and is almost surely alive."""
    x, T = 2000, 100.0
    with np.errstate(all="raise"):
        one_week = float(expected_purchases(PAPER, 1.0, x, T, T))
        year = float(expected_purchases(PAPER, 52.0, x, T, T))
    rate = (PAPER.r + x) / (PAPER.alpha + T)
    assert one_week == pytest.approx(rate, rel=0.01)
    assert 0 < year < 52 * rate
    assert np.isfinite(float(bgnbd_log_likelihood(PAPER, 10**6, 500.0, 520.0)))


def test_expected_purchases_at_a_fixed_dropout_limit() -> None:
    """On data with no spread in dropout a fit drives a and b to the bound (seen on a
    shop whose customers all bought monthly): 2F1 then gives nan, and equation 10 must
    take its limit, (1 - ((alpha + T) / (alpha + T + p t))^(r + x)) / p, p = a / (a + b).
    As a and b grow the exact value tends to it, and at the bound it is finite."""
    x = np.array([0.0, 1.0, 9.0, 13.0, 50.0])
    T = np.array([0.0, 30.0, 57.0, 57.0, 100.0])
    previous = np.inf
    for scale in (1e2, 1e3, 1e4):
        params = BgNbdParams(r=0.9, alpha=5.8, a=0.05 * scale, b=0.95 * scale)
        p = params.a / (params.a + params.b + x - 1.0)
        limit = -np.expm1(-(params.r + x) * np.log1p(p * 52.0 / (params.alpha + T))) / p
        alive = bgnbd_module._expected_purchases_alive(params, np.full(5, 52.0), x, T)
        gap = float(np.max(np.abs(alive / limit - 1)))
        assert gap < previous
        previous = gap
    assert previous < 1e-3
    bound = BgNbdParams(r=0.9, alpha=5.8, a=165745.3, b=3269016.7)
    values = expected_purchases(bound, 52.0, x, T, T)
    assert np.all(np.isfinite(values)) and np.all(values > 0)
