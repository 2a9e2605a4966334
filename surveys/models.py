"""Surveys (NPS, CSAT, CES or one custom question), their answers, and each contact's
latest answers as the rule language reads them."""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from config.fields import TenantForeignKey, WorkspaceKey
from contacts.models import Contact
from lifecycle.models import Stage
from workspaces.models import Workspace


class SurveyKind(models.TextChoices):
    NPS = "nps", "Net Promoter Score (0-10)"
    CSAT = "csat", "Customer satisfaction (1-5)"
    CES = "ces", "Customer effort (1-7)"
    SCALE = "scale", "Custom question: a scale"
    CHOICE = "choice", "Custom question: pick one"
    YES_NO = "yes_no", "Custom question: yes or no"
    REVIEW = "review", "Review request (1-5 stars per product or order)"


class Locale(models.TextChoices):
    EN = "en", "English"
    DE = "de", "Deutsch"


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"
    LINK = "link", "Link"


class Survey(models.Model):
    """One question with a scale (or choices), an optional follow-up question whose
    wording may differ for low and high scores, and a thank-you text."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=8, choices=SurveyKind.choices)
    question = models.CharField(max_length=500)
    # A custom scale's bounds; NPS, CSAT and CES have fixed ones (surveys/scales.py).
    scale_min = models.SmallIntegerField(default=1)
    scale_max = models.SmallIntegerField(default=5)
    # A choice question's options, in order; the score of an answer is its index.
    choices = models.JSONField(default=list, blank=True)
    follow_up = models.CharField(max_length=500, blank=True, default="")
    follow_up_low = models.CharField(max_length=500, blank=True, default="")
    follow_up_high = models.CharField(max_length=500, blank=True, default="")
    thank_you = models.CharField(max_length=500, blank=True, default="")
    locale = models.CharField(max_length=4, choices=Locale.choices, default=Locale.EN)
    # A transactional survey (asked after a support case, say) skips caps and quiet
    # hours when sent to one contact; sent to an audience it is a marketing broadcast.
    transactional = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["workspace", "name"], name="survey_name_unique"),
            models.UniqueConstraint(fields=["workspace", "id"], name="survey_workspace_id"),
        ]

    def __str__(self) -> str:
        return self.name


class Category(models.TextChoices):
    PROMOTER = "promoter", "Promoter"
    PASSIVE = "passive", "Passive"
    DETRACTOR = "detractor", "Detractor"
    NONE = "", "—"


class SurveyResponse(models.Model):
    """One answer per contact per send: `send_key` names the send (`m<message id>` for
    a message, `c<contact id>` for a contact's own link, `a<uuid>` for an anonymous
    visitor). A second tap changes the score within the change window; after it the
    answer is locked. A burst of different scores within seconds is a link scanner:
    the row is kept with `is_bot` and counted nowhere (docs/surveys.md)."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = TenantForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    contact = TenantForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    send_key = models.CharField(max_length=64)
    score = models.SmallIntegerField()
    category = models.CharField(max_length=10, choices=Category.choices, blank=True, default="")
    comment = models.TextField(blank=True, default="")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    message_id = models.BigIntegerField(null=True, blank=True)
    # The stage the contact was in when answering (kept by name too: stages change).
    stage = TenantForeignKey(
        Stage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    stage_name = models.CharField(max_length=200, blank=True, default="")
    answered_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    last_tap_at = models.DateTimeField(default=timezone.now)
    taps = models.PositiveIntegerField(default=1)
    # Incremented on each change of score: the key of the contact event it records.
    version = models.PositiveIntegerField(default=1)
    # The version whose event and hooks were told (services/settle.py).
    settled_version = models.PositiveIntegerField(default=0, db_default=0)
    locked = models.BooleanField(default=False)
    is_bot = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "survey", "send_key"], name="survey_response_once_per_send"
            ),
        ]
        indexes = [
            # With what the overview's NPS and CSAT cards count for a contact filter
            # (analytics/figures/survey_sources.py filtered_totals), read from the index.
            models.Index(
                fields=["workspace", "survey", "answered_at"],
                include=["contact", "score", "is_bot"],
                name="survey_response_answered",
            ),
            models.Index(fields=["workspace", "contact", "answered_at"]),
            models.Index(
                fields=["workspace", "last_tap_at"],
                condition=models.Q(settled_version__lt=models.F("version")),
                name="survey_response_unsettled",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.survey_id}: {self.score}"


class ContactSurveyFacts(models.Model):
    """A contact's latest counted answers, rewritten from SurveyResponse on every answer
    so that rules (`nps_score`, `nps_category`, `csat_score`, `survey_answered_at`)
    compile to one indexed join."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    nps_score = models.SmallIntegerField(null=True, blank=True)
    nps_category = models.CharField(max_length=10, blank=True, default="")
    nps_answered_at = models.DateTimeField(null=True, blank=True)
    csat_score = models.SmallIntegerField(null=True, blank=True)
    csat_answered_at = models.DateTimeField(null=True, blank=True)
    last_answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact"], name="contact_survey_facts_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"contact {self.contact_id}"


class ReviewRequest(models.Model):
    """What a review request asks about: the order and products the send carried (the
    API's ask, or the purchase event that let the contact into the journey), keyed by
    the asking message's idempotency key so the hosted page can list them."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = TenantForeignKey(Survey, on_delete=models.CASCADE, related_name="+")
    contact = TenantForeignKey(Contact, on_delete=models.CASCADE, related_name="+")
    message_key = models.CharField(max_length=200)
    order_id = models.CharField(max_length=200, blank=True, default="")
    # [{"id": "SKU-1", "name": "Blue mug"}, ...]: the products to review (none: the order).
    items = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "message_key"], name="review_request_once_per_message"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.message_key}: {len(self.items)} items"


class ReviewStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    APPROVED = "approved", "Approved"
    REJECTED = "rejected", "Rejected"


class ItemKind(models.TextChoices):
    PRODUCT = "product", "Product"
    ORDER = "order", "Order"


class Review(models.Model):
    """A star rating (1-5) and text about one product or order, written on a review
    request's hosted page; shown on the business's site once approved. One per send
    and item: a later edit within the change window replaces it and asks for
    moderation again."""

    workspace = WorkspaceKey(Workspace, on_delete=models.CASCADE, related_name="+")
    survey = TenantForeignKey(Survey, on_delete=models.CASCADE, related_name="reviews")
    contact = TenantForeignKey(
        Contact, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    send_key = models.CharField(max_length=64)
    item_kind = models.CharField(max_length=8, choices=ItemKind.choices)
    # A product's id (SKU) or an order's id; "" for an order the send did not name.
    item_id = models.CharField(max_length=200, blank=True, default="")
    item_name = models.CharField(max_length=300, blank=True, default="")
    order_id = models.CharField(max_length=200, blank=True, default="")
    rating = models.PositiveSmallIntegerField()
    text = models.TextField(blank=True, default="")
    # The name shown with the review on a site (the contact's first name, or blank).
    author = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(
        max_length=10, choices=ReviewStatus.choices, default=ReviewStatus.PENDING
    )
    moderated_at = models.DateTimeField(null=True, blank=True)
    moderated_by = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "survey", "send_key", "item_kind", "item_id"],
                name="review_once_per_send_and_item",
            ),
            models.CheckConstraint(
                condition=models.Q(rating__gte=1, rating__lte=5), name="review_rating_1_5"
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "status", "-id"], name="review_ws_status"),
            models.Index(fields=["workspace", "item_id", "-id"], name="review_ws_item"),
        ]

    def __str__(self) -> str:
        return f"{self.item_kind} {self.item_id}: {self.rating}"
