"""The models behind the stored recommendations: pure numpy and scipy sparse over a
workspace's interactions (who bought or viewed which product when), no database.

- popularity: distinct buyers per product in the window;
- trending: buyers in the last TRENDING days against the weekly rate of the weeks
  before (a z-like score, so a product that always sells a lot is not "trending");
- bought together: lift of two products' buyers (kept with a minimum of shared buyers);
- co-viewed: cosine of two products' viewers;
- for you (item-item): the contact's history (a purchase weighs 1, a view VIEW_WEIGHT)
  times the item-item cosine of everyone's histories, each product keeping its
  NEIGHBOURS most similar; what the contact bought is left out unless a consumable.
  `make bench-recs` measures it against popularity on a time split (docs/catalog.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

VIEW_WEIGHT = 0.5
NEIGHBOURS = 50
DAY = 86_400


@dataclass
class Interactions:
    """Parallel arrays, one entry per line item bought or product viewed."""

    contacts: np.ndarray  # int64 contact pks
    products: np.ndarray  # int64 catalog_product pks
    bought: np.ndarray  # bool: a purchase's line item, else a view
    at: np.ndarray  # int64 epoch seconds


@dataclass
class Matrices:
    contact_ids: np.ndarray  # row i of the matrices is contact_ids[i]
    product_ids: np.ndarray  # column j is product_ids[j]
    bought: sp.csr_matrix  # 1 where bought (float32)
    viewed: sp.csr_matrix  # 1 where viewed
    last_bought: sp.csr_matrix  # epoch seconds of the last purchase
    history: sp.csr_matrix  # bought + VIEW_WEIGHT * viewed-but-not-bought


def matrices(data: Interactions) -> Matrices:
    contact_ids, rows = np.unique(data.contacts, return_inverse=True)
    product_ids, cols = np.unique(data.products, return_inverse=True)
    shape = (len(contact_ids), len(product_ids))

    def binary(mask: np.ndarray) -> sp.csr_matrix:
        m = sp.csr_matrix(
            (np.ones(int(mask.sum()), np.float32), (rows[mask], cols[mask])), shape=shape
        )
        m.data[:] = 1  # repeats summed by the constructor: presence is what counts
        return m

    bought = binary(data.bought)
    viewed = binary(~data.bought)
    # The latest purchase per (contact, product): sort by time, later ones win.
    mask = data.bought
    order = np.argsort(data.at[mask], kind="stable")
    r, c, t = rows[mask][order], cols[mask][order], data.at[mask][order]
    key = r.astype(np.int64) * shape[1] + c
    _, last = np.unique(key[::-1], return_index=True)
    last = len(key) - 1 - last
    last_bought = sp.csr_matrix((t[last].astype(np.float64), (r[last], c[last])), shape=shape)
    history = bought + VIEW_WEIGHT * (viewed - viewed.multiply(bought))
    history.eliminate_zeros()
    return Matrices(contact_ids, product_ids, bought, viewed, last_bought, sp.csr_matrix(history))


_LOW32 = np.uint64(0xFFFF_FFFF)
_SIGN = np.uint64(0x8000_0000)


def _descending(values: np.ndarray) -> np.ndarray:
    """A uint64 per value (at float32 precision, in 32 bits) that sorts ascending as the
    values sort descending: IEEE bit patterns ordered as numbers, then turned over."""
    bits = values.astype(np.float32).view(np.uint32).astype(np.uint64)
    ascending = np.where(bits & _SIGN, ~bits & _LOW32, bits | _SIGN)
    return _LOW32 - ascending


def _value(descending: np.ndarray) -> np.ndarray:
    """The float32 values back from `_descending`'s keys (as float64)."""
    ascending = _LOW32 - descending
    bits = np.where(ascending & _SIGN, ascending & ~_SIGN & _LOW32, ~ascending & _LOW32)
    return bits.astype(np.uint32).view(np.float32).astype(np.float64)


def top_k_rows(m: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, values) of each row's k largest entries, best first within a
    row, ties to the lower column. When the row and column numbers fit beside a
    value's 32 bits, one sort of a single 64-bit key (row, value descending at float32
    precision, column), the values read back from it at float32 precision (several
    times faster than sorting indices); else a three-key lexsort."""
    m.sum_duplicates()
    rows = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    column_bits = max(int(m.shape[1] - 1).bit_length(), 1)
    row_bits = max(int(m.shape[0] - 1).bit_length(), 1)
    if row_bits + 32 + column_bits > 63:
        order = np.lexsort((m.indices, -m.data, rows))
        rank = np.arange(len(order)) - m.indptr[rows[order]]
        keep = order[rank < k]
        return rows[keep], m.indices[keep].astype(np.int64), m.data[keep]
    shift = np.uint64(column_bits)
    key = np.sort(
        (rows.astype(np.uint64) << np.uint64(32 + column_bits))
        | (_descending(m.data) << shift)
        | m.indices.astype(np.uint64)
    )
    # Sorting keeps each row's entries together, where they were: row r's are at
    # indptr[r]:indptr[r + 1], so an entry's rank is its place minus indptr[r].
    rank = np.arange(len(key)) - m.indptr[rows]
    key = key[rank < k]
    return (
        (key >> np.uint64(32 + column_bits)).astype(np.int64),
        (key & ((np.uint64(1) << shift) - np.uint64(1))).astype(np.int64),
        _value((key >> shift) & _LOW32),
    )


def neighbours(
    x: sp.csr_matrix, *, k: int, min_together: int = 1, score: str = "cosine", block: int = 512
) -> sp.csr_matrix:
    """Item-item matrix (products x products) keeping each product's k best others.
    `x` is contacts x products, binary when `min_together` > 1 (its dot products
    are then the contacts with both, `together`); score "cosine" = x_a.x_b /
    (|x_a| |x_b|), "lift" = together / (n_a n_b) (the lift's order; the caller scales
    by all buyers). Computed a block
    of products at a time so memory stays at one block's co-occurrences."""
    xt = sp.csr_matrix(x.T)
    if score == "cosine":
        norm = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel())
    else:
        norm = np.asarray(x.sum(axis=0)).ravel()
    norm[norm == 0] = 1
    parts_r, parts_c, parts_v = [], [], []
    n = x.shape[1]
    for start in range(0, n, block):
        stop = min(start + block, n)
        dots = sp.csr_matrix(xt[start:stop] @ x)
        dots = sp.coo_matrix(dots)
        keep = (dots.row + start != dots.col) & (dots.data >= min_together)
        r, c, v = dots.row[keep], dots.col[keep], dots.data[keep]
        v = v / (norm[r + start] * norm[c])
        best_r, best_c, best_v = top_k_rows(sp.csr_matrix((v, (r, c)), shape=(stop - start, n)), k)
        parts_r.append(best_r + start)
        parts_c.append(best_c)
        parts_v.append(best_v)
    return sp.csr_matrix(
        (np.concatenate(parts_v), (np.concatenate(parts_r), np.concatenate(parts_c))),
        shape=(n, n),
    )


def popularity(m: Matrices) -> np.ndarray:
    """Distinct buyers per product (column)."""
    return np.asarray(m.bought.sum(axis=0)).ravel()


def trending(data: Interactions, m: Matrices, *, now: int, days: int, weeks: int) -> np.ndarray:
    """A score per product: buyers in the last `days` against the rate of the `weeks`
    weeks before, (recent - expected) / sqrt(expected + 1); 0 where fewer than two
    recent buyers or not above the expected."""
    cols = np.searchsorted(m.product_ids, data.products)
    recent_start = now - days * DAY
    base_start = recent_start - weeks * 7 * DAY
    buys = data.bought & (data.at < now)
    recent = np.bincount(cols[buys & (data.at >= recent_start)], minlength=len(m.product_ids))
    base_mask = buys & (data.at >= base_start) & (data.at < recent_start)
    base = np.bincount(cols[base_mask], minlength=len(m.product_ids))
    expected = base * (days / (weeks * 7))
    score = (recent - expected) / np.sqrt(expected + 1)
    score[(recent < 2) | (score <= 0)] = 0
    return score


def for_you(
    m: Matrices, similar: sp.csr_matrix, *, consumable: np.ndarray, k: int, chunk: int = 5_000
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield (rows, columns, scores) of each contact's k best products, a chunk of
    contacts at a time: history x item-item similarity, without what the contact
    bought unless it is a consumable (`consumable`: bool per column)."""
    keep_bought = sp.diags((~consumable).astype(np.float32))
    for start in range(0, m.history.shape[0], chunk):
        stop = min(start + chunk, m.history.shape[0])
        scores = sp.csr_matrix(m.history[start:stop] @ similar)
        owned = sp.csr_matrix(m.bought[start:stop] @ keep_bought)
        scores = scores - scores.multiply(owned)
        scores.eliminate_zeros()
        rows, cols, values = top_k_rows(sp.csr_matrix(scores), k)
        yield rows + start, cols, values
