"""Survey rollups (analytics/rollups/surveys.py, analytics/rollups/survey_segments.py):
what the survey report sums. The answers (surveys_surveyresponse), the outbox
(campaigns_message) and the segments' stored members (contacts_segmentmember) stay the
definition; every row here can be rebuilt from them."""

from __future__ import annotations

from django.db import models

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Segment
from workspaces.models import Workspace

_ANSWER_DAY_KEY = ["workspace", "survey_id", "day", "stage_name", "channel", "journey_id", "score"]
_SEND_DAY_KEY = ["workspace", "survey_id", "day", "stage_name", "channel", "journey_id"]


class SurveyAnswerDay(models.Model):
    """Counted survey answers (not `is_bot`) per survey, local day of answering, stage
    the contact was in then (its name, as the answer keeps it), channel, the journey
    whose message was answered (0: none) and score. Kept by the surveys' answers hook;
    every figure of the survey report is a sum over these rows."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey_id = models.BigIntegerField()
    day = models.DateField()
    stage_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=8)
    journey_id = models.BigIntegerField(default=0)
    score = models.SmallIntegerField()
    answers = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=_ANSWER_DAY_KEY, name="survey_answer_day_unique"),
        ]

    def __str__(self) -> str:
        return f"survey {self.survey_id} {self.day} score {self.score}: {self.answers}"


class SurveySendDay(models.Model):
    """Survey messages sent per survey, local day of sending, stage the contact was in
    when it was sent (by its stage history; "" for none), channel and journey (0:
    none): what response rates divide by. Refreshed by beat for recent days."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey_id = models.BigIntegerField()
    day = models.DateField()
    stage_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=8)
    journey_id = models.BigIntegerField(default=0)
    sent = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=_SEND_DAY_KEY, name="survey_send_day_stage_unique"),
        ]

    def __str__(self) -> str:
        return f"survey {self.survey_id} on {self.day}: {self.sent} sent"


class SurveySegmentAnswerDay(models.Model):
    """SurveyAnswerDay per segment: the counted answers of the contacts stored as the
    segment's members (contacts_segmentmember) now. Kept equal to that join by the
    answers hook (recomputing an answer's days for every segment) and the segments'
    members hook (adding or taking out a joining or leaving contact's answers); read
    only while the segment's members follow its rule (`members_ready`)."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    segment = TenantForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    survey_id = models.BigIntegerField()
    day = models.DateField()
    stage_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=8)
    journey_id = models.BigIntegerField(default=0)
    score = models.SmallIntegerField()
    answers = models.IntegerField(default=0)
    comments = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "segment", *_ANSWER_DAY_KEY[1:]],
                name="survey_segment_answer_day_unique",
            ),
        ]
        # An answer's days are recomputed for every segment at once.
        indexes = [
            models.Index(fields=["workspace", "survey_id", "day"], name="survey_seg_answer_day"),
        ]

    def __str__(self) -> str:
        return f"segment {self.segment_id} survey {self.survey_id} {self.day}: {self.answers}"


class SurveySegmentSendDay(models.Model):
    """SurveySendDay per segment: survey messages sent to the segment's stored members,
    kept like SurveySegmentAnswerDay (the sends' recount recomputes its days for every
    segment; a joining or leaving contact's messages are added or taken out)."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    segment = TenantForeignKey(Segment, on_delete=models.CASCADE, related_name="+", db_index=False)
    survey_id = models.BigIntegerField()
    day = models.DateField()
    stage_name = models.CharField(max_length=200, blank=True, default="")
    channel = models.CharField(max_length=8)
    journey_id = models.BigIntegerField(default=0)
    sent = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "segment", *_SEND_DAY_KEY[1:]],
                name="survey_segment_send_day_unique",
            ),
        ]
        indexes = [models.Index(fields=["workspace", "day"], name="survey_seg_send_day")]

    def __str__(self) -> str:
        return f"segment {self.segment_id} survey {self.survey_id} {self.day}: {self.sent} sent"


_DERIVED: dict = {"on_delete": models.DO_NOTHING, "db_constraint": False}


class ContactAnswerDay(models.Model):
    """A contact's counted answers per survey, local day and score, as the engine's
    facts refresh last took them in: what the contact adds to AnswerGroupDay, kept
    per contact so that a refresh knows what to take out (as PurchaseDay is for the
    order sums). Written only by the facts refresh, an erasure and the rebuild
    (analytics/rollups/answer_groups.py)."""

    contact_id = models.BigIntegerField()
    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    survey_id = models.BigIntegerField()
    day = models.DateField()
    score = models.SmallIntegerField()
    answers = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["contact_id", "survey_id", "day", "score", "workspace"],
                name="contact_answer_day_unique",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.contact_id} answered {self.score} on {self.day}"


class AnswerGroupDay(models.Model):
    """Counted answers per survey, local day and score by the answering contacts'
    source and signup month (their facts): the sums of ContactAnswerDay, what the
    overview's NPS and CSAT cards read for a source or signup-month filter instead of
    the kept contacts' answers (analytics/figures/survey_sources.py)."""

    workspace = models.ForeignKey(Workspace, related_name="+", db_index=False, **_DERIVED)
    survey_id = models.BigIntegerField()
    source = models.CharField(max_length=200, default="", blank=True)
    signup_month = models.DateField(null=True, blank=True)
    day = models.DateField()
    score = models.SmallIntegerField()
    answers = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "survey_id", "source", "signup_month", "day", "score"],
                name="answer_group_day_unique",
                nulls_distinct=False,
            ),
        ]
        indexes = [  # a signup-month filter alone (the key serves a source)
            models.Index(
                fields=["workspace", "survey_id", "signup_month", "day"],
                include=["score", "answers"],
                name="answer_group_month_day",
            ),
        ]

    def __str__(self) -> str:
        group = f"{self.source}/{self.signup_month}"
        return f"survey {self.survey_id} {self.day} {group}: {self.answers}"
