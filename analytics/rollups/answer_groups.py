"""The counted survey answers by the answering contacts' source and signup month
(AnswerGroupDay), and per contact what each adds to them (ContactAnswerDay): what the
overview's NPS and CSAT cards read for a source or signup-month filter instead of the
kept contacts' answers (the definition, still read for a segment).

One writer per contact, as for the order sums (period_groups.py): a contact's rows
and its share of the sums are written only by the engine's facts refresh (which also
writes the group, its facts, in the same transaction), an erasure and the rebuild.
The answers' own hook (`on_answers_changed`) does not write them, nor mark anyone:
an answer reaches the engine as every answer does, when it has settled (its
`survey_answered` event marks the contact; a scanner's first tap so never moves a
contact's stage). So a contact's answers count under the group its facts say, always;
and until the engine has taken an answer in, the answer is unsettled or the contact
marked (`UNSETTLED`), and the figure reads that contact's answers raw
(analytics/figures/survey_sources.py), as the order sums do a marked contact's
purchases. No survey or segment lock is taken here, none of these rows is written
under one: the order of the engine's locks is unchanged (the sums are written last,
after the order sums, in key order)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import connection

from analytics.rollups.period_groups import FACTS_GROUPS, in_key_order
from analytics.rollups.replace import rows_replace, sums_replace
from analytics.rollups.stay_groups import changed_params

CONTACT_COLUMNS = "workspace_id, contact_id, survey_id, day, score, answers"
GROUP_COLUMNS = "workspace_id, survey_id, source, signup_month, day, score, answers"

# A contact's counted answers (not a scanner's, `is_bot`) by survey, local day, score.
CONTACT_ROWS = """
SELECT r.workspace_id, r.contact_id, r.survey_id,
       (r.answered_at AT TIME ZONE w.time_zone)::date AS day, r.score, count(*)::int AS answers
FROM surveys_surveyresponse r JOIN workspaces_workspace w ON w.id = r.workspace_id
WHERE {where} AND r.contact_id IS NOT NULL AND NOT r.is_bot
GROUP BY 1, 2, 3, 4, 5
"""
# Contact rows `a` summed under the group the facts say now.
GROUP_ROWS = f"""
SELECT a.workspace_id, a.survey_id, coalesce(g.source, '') AS source, g.signup_month, a.day,
       a.score, {{sign}}sum(a.answers)::bigint AS answers
FROM {{rows}} a LEFT JOIN {FACTS_GROUPS} ON g.contact_id = a.contact_id
GROUP BY 1, 2, 3, 4, 5, 6
"""

# Replace some contacts' rows by what their answers give now and return the change of
# the sums: the fresh rows under the group the facts say now (written earlier in the
# transaction), minus the replaced ones under the group the facts said before.
_REFRESH_SQL = f"""
WITH fresh AS MATERIALIZED ({CONTACT_ROWS.format(where="r.contact_id = ANY(%(ids)s)")}),
old AS MATERIALIZED (
    SELECT {CONTACT_COLUMNS} FROM analytics_contactanswerday WHERE contact_id = ANY(%(ids)s)
),
written AS (
    INSERT INTO analytics_contactanswerday AS a ({CONTACT_COLUMNS})
    SELECT * FROM fresh ORDER BY contact_id, survey_id, day, score
    ON CONFLICT (contact_id, survey_id, day, score, workspace_id)
    DO UPDATE SET answers = EXCLUDED.answers WHERE a.answers <> EXCLUDED.answers
),
gone AS (
    DELETE FROM analytics_contactanswerday a WHERE a.contact_id = ANY(%(ids)s)
    AND NOT EXISTS (SELECT 1 FROM fresh f WHERE f.contact_id = a.contact_id
                    AND f.survey_id = a.survey_id AND f.day = a.day AND f.score = a.score)
)
SELECT workspace_id, survey_id, source, signup_month, day, score, sum(answers)
FROM ({GROUP_ROWS.format(sign="", rows="fresh")}
      UNION ALL
      SELECT o.workspace_id, o.survey_id, b.source, b.signup_month, o.day, o.score, -o.answers
      FROM old o
      JOIN unnest(%(ids)s::bigint[], %(source)s::text[], %(month)s::date[])
           AS b(contact_id, source, signup_month) ON b.contact_id = o.contact_id) c
GROUP BY 1, 2, 3, 4, 5, 6
HAVING sum(answers) <> 0
"""
_APPLY = f"""
INSERT INTO analytics_answergroupday AS s ({GROUP_COLUMNS})
SELECT * FROM unnest(%s::bigint[], %s::bigint[], %s::text[], %s::date[], %s::date[],
                     %s::smallint[], %s::int[])
ON CONFLICT (workspace_id, survey_id, source, signup_month, day, score)
DO UPDATE SET answers = s.answers + EXCLUDED.answers
"""


def _apply(cursor: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Move the sums by (workspace, survey, source, month, day, score, answers) rows,
    in key order (every writer's)."""
    summed = in_key_order(tuple(row) for row in rows if row[6])
    if summed:
        cursor.execute(_APPLY, [list(column) for column in zip(*summed, strict=True)])


def answer_groups_refresh(
    cursor: Any, contact_ids: Sequence[int], before: dict[int, tuple[str, Any]]
) -> None:
    """Replace these contacts' answer rows and move the sums by the change (the facts
    refresh, after the order sums; `before`: their groups before it wrote the facts,
    flow_groups.groups_of)."""
    cursor.execute(_REFRESH_SQL, changed_params(contact_ids, before))
    _apply(cursor, cursor.fetchall())


def answer_groups_erase(cursor: Any, contact_id: int) -> None:
    """Take an erased contact's answers out of the sums and delete its rows (before
    its facts are deleted: they say the group its answers count under)."""
    rows = "(SELECT * FROM analytics_contactanswerday WHERE contact_id = %s)"
    cursor.execute(GROUP_ROWS.format(sign="-", rows=rows), [contact_id])
    _apply(cursor, cursor.fetchall())
    cursor.execute("DELETE FROM analytics_contactanswerday WHERE contact_id = %s", [contact_id])


def answer_groups_rebuild(cursor: Any, *, workspace_id: int) -> None:
    """A workspace's answer rows from its answers and the sums from them, under the
    groups of its (freshly rebuilt) facts; written where they differ (replace.py)."""
    rows_replace(
        cursor,
        table="analytics_contactanswerday",
        columns=CONTACT_COLUMNS.split(", "),
        key=["contact_id", "survey_id", "day", "score"],
        select=CONTACT_ROWS.format(where="r.workspace_id = %s"),
        params=[workspace_id],
        workspace_id=workspace_id,
    )
    rows = "(SELECT * FROM analytics_contactanswerday WHERE workspace_id = %s)"
    sums_replace(
        cursor,
        table="analytics_answergroupday",
        columns=GROUP_COLUMNS.split(", "),
        select=GROUP_ROWS.format(sign="", rows=rows),
        params=[workspace_id],
        workspace_id=workspace_id,
        counted="answers <> 0",
    )


# --- the drift check (period_checks.py compares the rows and the sums) ---------------


def answer_rows_orphans(*, workspace_id: int) -> list[int]:
    """Contacts that are gone but still have answer rows (a refresh takes them out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT ARRAY(SELECT DISTINCT a.contact_id FROM analytics_contactanswerday a "
            "WHERE a.workspace_id = %s AND NOT EXISTS "
            "(SELECT 1 FROM contacts_contact c WHERE c.id = a.contact_id) ORDER BY 1)",
            [workspace_id],
        )
        return list(cursor.fetchone()[0])


def answering_contacts(workspace_id: int, *, survey_id: int) -> list[int]:
    """The contacts who answered the survey (the engine must take its answers out)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT contact_id FROM surveys_surveyresponse "
            "WHERE workspace_id = %s AND survey_id = %s AND contact_id IS NOT NULL ORDER BY 1",
            [workspace_id, survey_id],
        )
        return [row[0] for row in cursor.fetchall()]


# The contacts whose counted answers may be ahead of their rows: an answer new or
# changed (its `version`) not yet settled (surveys/services/settle.py tells it after
# SCANNER_BURST_SECONDS: its event marks the contact, in the transaction that settles
# it). A scanner's burst marks the contact at once. With the marked ones, the contacts
# the figures read raw; the drift check leaves them out.
UNSETTLED = """
SELECT contact_id FROM surveys_surveyresponse
WHERE workspace_id = %(ws)s AND settled_version < version AND contact_id IS NOT NULL"""
