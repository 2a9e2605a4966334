"""Recommendations per workspace, computed by a worker from the workspace's own
`purchase` line items and `product_viewed` events and stored, so that serving
(catalog.recommendations) is one indexed read and never computes.

One run (`recommendations_compute`) reads the window's interactions with COPY, builds
the models of `model.py` in numpy/scipy and replaces, in one transaction, every stored
list of the workspace: popularity and bought-together pairs (ProductPopularity,
ProductPair), co-viewed per product, popular / trending / new arrivals for the
workspace, and for each contact with history their `for_you` list and what they
bought. Readers see the old rows until the new ones commit; a repeat replaces again."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from catalog.models import (
    KIND_CO_VIEWED,
    KIND_FOR_YOU,
    KIND_NEW_ARRIVALS,
    KIND_POPULAR,
    KIND_TRENDING,
    ContactPurchases,
    ContactRecommendation,
)
from catalog.services.recommendations import model
from catalog.services.recommendations.io import (
    Lists,
    interactions_read,
    lists_write,
    records_write,
)
from contacts.models import Contact
from workspaces.models import Workspace

log = logging.getLogger(__name__)

# The workspace-wide lists keep this many products; a contact's and a product's lists
# settings.CATALOG_RECS_STORED (longer than the API's largest n, for the filters).
WORKSPACE_LIST = 500
_CONTACT_TABLES = ("catalog_contactrecommendation", "catalog_contactpurchases")
_TABLES = (
    "catalog_productpopularity",
    "catalog_productpair",
    "catalog_productrecommendation",
    "catalog_workspacerecommendation",
    "catalog_contactrecommendation",
    "catalog_contactpurchases",
)


@dataclass(frozen=True)
class Computed:
    products: int
    pairs: int
    contacts: int
    interactions: int
    seconds: float
    # Seconds per step (read, models, each write), in order: where a compute's time goes.
    steps: tuple[tuple[str, float], ...] = ()


class _Clock:
    def __init__(self) -> None:
        self.began = self.last = time.perf_counter()
        self.steps: list[tuple[str, float]] = []

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps.append((step, round(now - self.last, 3)))
        self.last = now


def _consumable(cursor: Any, product_ids: np.ndarray) -> np.ndarray:
    """Per product column: whether `attributes.repurchase_days` makes it a consumable
    (offered again once bought that long ago)."""
    cursor.execute(
        "SELECT id FROM catalog_product WHERE id = ANY(%s) "
        "AND attributes ->> 'repurchase_days' ~ '^[0-9]{1,5}$' "
        "AND (attributes ->> 'repurchase_days')::int > 0",
        [product_ids.tolist()],
    )
    ids = np.array(sorted(row[0] for row in cursor.fetchall()), dtype=np.int64)
    return np.isin(product_ids, ids)


def _workspace_list(
    cursor: Any, ws: int, kind: str, now: dt.datetime, ids: np.ndarray, scores: np.ndarray
) -> None:
    order = np.lexsort((ids, -scores))
    order = order[scores[order] > 0][:WORKSPACE_LIST]
    lists_write(
        cursor,
        table="catalog_workspacerecommendation",
        fixed={"workspace_id": ws, "kind": kind, "computed_at": now},
        key=None,
        batches=[Lists(None, np.zeros(len(order), np.int64), ids[order], scores[order])],
    )


def _new_arrivals(cursor: Any, ws: int, now: dt.datetime) -> None:
    cursor.execute(
        "SELECT id, extract(epoch FROM created_at)::float8 FROM catalog_product "
        "WHERE workspace_id = %s AND active AND created_at >= %s AND created_at <= %s "
        "ORDER BY created_at DESC, id LIMIT %s",
        [ws, now - dt.timedelta(days=settings.CATALOG_RECS_NEW_DAYS), now, WORKSPACE_LIST],
    )
    found = cursor.fetchall()
    ids = np.array([r[0] for r in found], np.int64)
    # Newest first: the score is the arrival time itself.
    _workspace_list(cursor, ws, KIND_NEW_ARRIVALS, now, ids, np.array([r[1] for r in found]))


def recommendations_compute(*, workspace: Workspace, now: dt.datetime | None = None) -> Computed:
    """Replace every stored recommendation of the workspace (see the module's doc)
    from the interactions of the CATALOG_RECS_WINDOW_DAYS before `now`."""
    now = now or timezone.now()
    clock = _Clock()
    ws = workspace.pk
    since = now - dt.timedelta(days=settings.CATALOG_RECS_WINDOW_DAYS)
    stored = settings.CATALOG_RECS_STORED
    with transaction.atomic(), connection.cursor() as cursor:
        data = interactions_read(cursor, workspace_id=ws, since=since, now=now)
        clock.lap("read")
        for table in _TABLES:
            cursor.execute(f"DELETE FROM {table} WHERE workspace_id = %s", [ws])
        _new_arrivals(cursor, ws, now)
        clock.lap("delete")
        if len(data.contacts) == 0:
            return Computed(0, 0, 0, 0, time.perf_counter() - clock.began, tuple(clock.steps))
        m = model.matrices(data)
        clock.lap("matrices")
        pids = m.product_ids
        buyers = model.popularity(m)
        sold = np.flatnonzero(buyers)
        records_write(
            cursor,
            table="catalog_productpopularity",
            fixed={"workspace_id": ws, "computed_at": now},
            columns={"product_id": ("int8", pids[sold]), "buyers": ("int4", buyers[sold])},
        )
        _workspace_list(cursor, ws, KIND_POPULAR, now, pids, buyers.astype(np.float64))
        trend = model.trending(
            data,
            m,
            now=int(now.timestamp()),
            days=settings.CATALOG_RECS_TRENDING_DAYS,
            weeks=settings.CATALOG_RECS_TRENDING_BASELINE_WEEKS,
        )
        _workspace_list(cursor, ws, KIND_TRENDING, now, pids, trend)
        clock.lap("workspace lists")

        # Bought together: lift = together x everyone who bought ÷ (buyers x buyers).
        lift = model.neighbours(
            m.bought,
            k=settings.CATALOG_RECS_PAIRS_PER_PRODUCT,
            min_together=settings.CATALOG_RECS_MIN_TOGETHER,
            score="lift",
        ).tocoo()
        clock.lap("pairs model")
        everyone = int((np.diff(m.bought.indptr) > 0).sum())
        together = np.rint(lift.data * buyers[lift.row] * buyers[lift.col]).astype(np.int64)
        pairs = records_write(
            cursor,
            table="catalog_productpair",
            fixed={"workspace_id": ws, "computed_at": now},
            columns={
                "product_id": ("int8", pids[lift.row]),
                "other_id": ("int8", pids[lift.col]),
                "together": ("int4", together),
                "lift": ("float8", lift.data * everyone),
            },
        )
        clock.lap("pairs write")

        co_viewed = model.neighbours(
            m.viewed, k=stored, min_together=settings.CATALOG_RECS_MIN_TOGETHER
        ).tocoo()
        clock.lap("co-viewed model")
        lists_write(
            cursor,
            table="catalog_productrecommendation",
            fixed={"workspace_id": ws, "kind": KIND_CO_VIEWED, "computed_at": now},
            key="product_id",
            batches=[
                Lists(
                    pids[np.unique(co_viewed.row)],
                    co_viewed.row,
                    pids[co_viewed.col],
                    co_viewed.data,
                )
            ],
        )
        clock.lap("co-viewed write")
        similar = model.neighbours(m.history, k=model.NEIGHBOURS)
        consumable = _consumable(cursor, pids)
        clock.lap("similar model")
        contacts = lists_write(
            cursor,
            table="catalog_contactrecommendation",
            fixed={"workspace_id": ws, "kind": KIND_FOR_YOU, "computed_at": now},
            key="contact_id",
            batches=(
                Lists(m.contact_ids[np.unique(rows)], rows, pids[cols], values)
                for rows, cols, values in model.for_you(m, similar, consumable=consumable, k=stored)
            ),
        )
        clock.lap("for_you model+write")
        last = m.last_bought.tocoo()  # row-major: csr's order
        lists_write(
            cursor,
            table="catalog_contactpurchases",
            fixed={"workspace_id": ws, "computed_at": now},
            key="contact_id",
            batches=[
                Lists(m.contact_ids[np.unique(last.row)], last.row, pids[last.col], last.data)
            ],
            values_column="bought_at",
            integer_values=True,
        )
        clock.lap("purchases write")
        # Every row of the workspace was just replaced: fresh statistics keep the
        # serving reads on their indexes. The per-contact tables are read only by
        # their whole unique key (one row, the unique index whatever the statistics):
        # sampling their million rows again is left to autovacuum.
        cursor.execute("ANALYZE " + ", ".join(t for t in _TABLES if t not in _CONTACT_TABLES))
        clock.lap("analyze")
    clock.lap("commit")
    seconds = time.perf_counter() - clock.began
    log.info(
        "catalog.recommendations_computed workspace=%s interactions=%s contacts=%s "
        "pairs=%s seconds=%.2f steps=%s",
        ws,
        len(data.contacts),
        contacts,
        pairs,
        seconds,
        " ".join(f"{step.replace(' ', '_')}:{took}" for step, took in clock.steps),
    )
    return Computed(len(sold), pairs, contacts, len(data.contacts), seconds, tuple(clock.steps))


def recommendations_forget_contact(contact: Contact) -> None:
    """Erasure hook (contacts.hooks.on_contact_erased): the contact's stored lists go
    with it (the tables keep no foreign key that would cascade)."""
    ContactRecommendation.objects.filter(
        workspace_id=contact.workspace_id, contact_id=contact.pk
    ).delete()
    ContactPurchases.objects.filter(
        workspace_id=contact.workspace_id, contact_id=contact.pk
    ).delete()
