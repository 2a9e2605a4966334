"""The recommendation models' top-k: the one-key sort gives exactly what a three-key
lexsort gives (row, value descending, lower column first), ties and negatives
included, and so does the lexsort fallback for shapes too wide for one key."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from catalog.services.recommendations import model


def _reference(m: sp.csr_matrix, k: int) -> tuple[np.ndarray, ...]:
    m = m.copy()
    m.sum_duplicates()
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    rank = np.arange(len(order)) - m.indptr[rows[order]]
    keep = order[rank < k]
    return rows[keep], m.indices[keep], m.data[keep]


@pytest.mark.parametrize("seed", range(12))
def test_top_k_rows_orders_by_value_then_lower_column(seed):
    rng = np.random.default_rng(seed)
    shape = (int(rng.integers(1, 300)), int(rng.integers(1, 3000)))
    m = sp.random(*shape, density=0.2 * rng.random(), format="csr", rng=rng)
    m.data = np.round(m.data * 6) - 2  # many ties, some negatives
    m.data[m.data == 0] = 0.25
    k = int(rng.integers(1, 15))
    for got, want in zip(model.top_k_rows(m.copy(), k), _reference(m, k), strict=True):
        assert np.array_equal(got, want)


def test_top_k_rows_falls_back_when_the_key_would_not_fit():
    m = sp.csr_matrix(
        (np.array([1.0, 3.0, 3.0, 2.0]), (np.array([0, 0, 0, 1]), np.array([5, 2**40, 9, 0]))),
        shape=(2, 2**41),
    )
    rows, cols, values = model.top_k_rows(m, 2)
    assert rows.tolist() == [0, 0, 1]
    assert cols.tolist() == [9, 2**40, 0]
    assert values.tolist() == [3.0, 3.0, 2.0]
