"""A workspace's sending domains: each has its own DKIM key, generated when the domain
is added, and the result of the last DNS check. Kept apart from messaging/models.py,
which imports it so that Django registers the model with the app."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from workspaces.models import Workspace


class DomainStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    VERIFIED = "verified", "Verified"
    FAILED = "failed", "Failed"


class SendingDomain(models.Model):
    """A domain a workspace sends email from. Mail whose From address is at this domain
    (or a subdomain of it) is DKIM-signed with `private_key_pem` once the domain is
    verified. The private key never leaves the server: no page or API shows it."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    domain = models.CharField(max_length=253)
    selector = models.CharField(max_length=63)
    private_key_pem = models.TextField()
    # The base64 DER of the public key: the p= of the DKIM record to publish.
    public_key_b64 = models.TextField()
    # Each record's own status, so the page can say which one is missing.
    status = models.CharField(
        max_length=16, choices=DomainStatus.choices, default=DomainStatus.PENDING
    )
    dkim_status = models.CharField(
        max_length=16, choices=DomainStatus.choices, default=DomainStatus.PENDING
    )
    dkim_detail = models.CharField(max_length=500, blank=True, default="")
    spf_status = models.CharField(
        max_length=16, choices=DomainStatus.choices, default=DomainStatus.PENDING
    )
    spf_detail = models.CharField(max_length=500, blank=True, default="")
    last_checked_at = models.DateTimeField(null=True, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "domain"], name="sending_domain_unique_in_workspace"
            ),
            # Two workspaces may both add a domain, but only one can prove it owns it.
            models.UniqueConstraint(
                fields=["domain"],
                condition=Q(status="verified"),
                name="sending_domain_verified_once",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.domain} ({self.status})"

    @property
    def dkim_name(self) -> str:
        return f"{self.selector}._domainkey.{self.domain}"

    @property
    def dkim_value(self) -> str:
        return f"v=DKIM1; k=rsa; p={self.public_key_b64}"
