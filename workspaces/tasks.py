"""Celery tasks for workspaces: thin, take ids, safe to run twice."""

from __future__ import annotations

import smtplib

from celery import shared_task

from workspaces.members import invitation_email_send


@shared_task(
    name="workspaces.invitation_email_send",
    acks_late=True,
    ignore_result=True,
    autoretry_for=(smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, TimeoutError),
    retry_backoff=30,
    max_retries=5,
)
def send_invitation(invitation_id: int, link: str) -> bool:
    # The link carries the token, which the database does not keep (only its hash). A
    # repeated run sends the same link again, which is harmless; a revoked or accepted
    # invitation is not sent.
    return invitation_email_send(invitation_id=invitation_id, link=link)
