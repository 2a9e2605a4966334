from __future__ import annotations

import pytest

from campaigns.demo import demo_messaging_seed
from campaigns.models import Message, SandboxDelivery, Template
from tests.factories import ContactFactory

pytestmark = pytest.mark.django_db


def test_demo_messaging_is_sent_through_the_sandbox_and_idempotent(ws):
    for i in range(6):
        ContactFactory.create(workspace=ws, phone=f"+1415555{i:04d}", sms_status="subscribed")
    ContactFactory.create(workspace=ws, email_status="unsubscribed")
    sent = demo_messaging_seed(workspace=ws, messages=10)
    assert Template.objects.filter(workspace=ws).count() == 3
    # 7 emails (one contact unsubscribed: suppressed) and 10 // 2 SMS.
    assert sent == SandboxDelivery.objects.count() == 6 + 5
    assert Message.objects.filter(status="suppressed").count() == 1
    assert demo_messaging_seed(workspace=ws, messages=10) == 0
    assert Message.objects.count() == 7 + 5
