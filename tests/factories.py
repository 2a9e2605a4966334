"""factory_boy factories for the models tests build (one module while it stays small).
Each gives what the model needs; a test passes what it is about."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import factory
from django.utils import timezone

from analytics.models import Spend
from campaigns.models import BroadcastVariant
from contacts.models import Channel, Contact, Event, Segment
from lifecycle.models import Cause, ContactStage, Stage, StageTransition
from messaging.models import Message, MessagingSettings, SendingPolicy, Template
from workspaces.models import Membership, Role, User, Workspace


class WorkspaceFactory(factory.django.DjangoModelFactory[Workspace]):
    class Meta:
        model = Workspace
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Workspace {n}")
    slug = factory.Sequence(lambda n: f"ws-{n}")
    time_zone = "UTC"


class UserFactory(factory.django.DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"user{n}@example.org")
    password = factory.django.Password("correct horse battery staple")


class MembershipFactory(factory.django.DjangoModelFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)
    workspace = factory.SubFactory(WorkspaceFactory)
    role = Role.OWNER


class ContactFactory(factory.django.DjangoModelFactory[Contact]):
    class Meta:
        model = Contact

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"contact{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")


class EventFactory(factory.django.DjangoModelFactory[Event]):
    class Meta:
        model = Event

    contact = factory.SubFactory(ContactFactory)
    workspace = factory.LazyAttribute(lambda o: o.contact.workspace)
    name = "page_view"
    occurred_at = factory.LazyFunction(timezone.now)

    @classmethod
    def ago(cls, days: float, **kwargs: Any) -> Event:
        return cls.create(occurred_at=timezone.now() - dt.timedelta(days=days), **kwargs)


class SegmentFactory(factory.django.DjangoModelFactory[Segment]):
    class Meta:
        model = Segment

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Segment {n}")
    rule = factory.LazyFunction(lambda: {"all": []})


class StageFactory(factory.django.DjangoModelFactory[Stage]):
    class Meta:
        model = Stage

    workspace = factory.SubFactory(WorkspaceFactory)
    key = factory.Sequence(lambda n: f"stage-{n}")
    name = factory.LazyAttribute(lambda o: o.key.replace("-", " ").title())
    position = factory.Sequence(lambda n: n)
    rule = factory.LazyFunction(lambda: {"all": []})


class ContactStageFactory(factory.django.DjangoModelFactory[ContactStage]):
    class Meta:
        model = ContactStage

    contact = factory.SubFactory(ContactFactory)
    workspace = factory.LazyAttribute(lambda o: o.contact.workspace)
    stage = factory.SubFactory(StageFactory, workspace=factory.SelfAttribute("..workspace"))


class StageTransitionFactory(factory.django.DjangoModelFactory[StageTransition]):
    class Meta:
        model = StageTransition

    contact = factory.SubFactory(ContactFactory)
    workspace = factory.LazyAttribute(lambda o: o.contact.workspace)
    to_stage = factory.SubFactory(StageFactory, workspace=factory.SelfAttribute("..workspace"))
    cause = Cause.RULE


class SpendFactory(factory.django.DjangoModelFactory[Spend]):
    class Meta:
        model = Spend

    workspace = factory.SubFactory(WorkspaceFactory)
    source = "ads"
    month = dt.date(2024, 1, 1)
    amount = Decimal("100.00")


class TemplateFactory(factory.django.DjangoModelFactory[Template]):
    class Meta:
        model = Template

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Template {n}")
    channel = Channel.EMAIL
    subject = "Hello {{ first_name }}"
    body = "<p>Hello {{ first_name }}</p>"


class MessageFactory(factory.django.DjangoModelFactory[Message]):
    class Meta:
        model = Message

    contact = factory.SubFactory(ContactFactory)
    workspace = factory.LazyAttribute(lambda o: o.contact.workspace)
    template = factory.SubFactory(TemplateFactory, workspace=factory.SelfAttribute("..workspace"))
    channel = factory.LazyAttribute(lambda o: o.template.channel)
    idempotency_key = factory.Sequence(lambda n: f"message-{n}")


class MessagingSettingsFactory(factory.django.DjangoModelFactory[MessagingSettings]):
    class Meta:
        model = MessagingSettings

    workspace = factory.SubFactory(WorkspaceFactory)


class SendingPolicyFactory(factory.django.DjangoModelFactory[SendingPolicy]):
    class Meta:
        model = SendingPolicy

    workspace = factory.SubFactory(WorkspaceFactory)
    channel = Channel.EMAIL


class BroadcastVariantFactory(factory.django.DjangoModelFactory[BroadcastVariant]):
    class Meta:
        model = BroadcastVariant

    workspace = factory.LazyAttribute(lambda o: o.broadcast.workspace)
    label = factory.Sequence(lambda n: chr(ord("A") + n % 26))
    template = factory.LazyAttribute(lambda o: o.broadcast.template)
