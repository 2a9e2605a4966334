"""factory_boy factories for every app's models (one module while the app count is small)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import factory
from django.utils import timezone

from contacts.models import Contact, Event
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
