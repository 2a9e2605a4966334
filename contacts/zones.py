"""Where a contact's local times are read: its own zone, else its phone region's one
zone, else the workspace's. Messaging (quiet hours), broadcasts (local-time and
best-time schedules) and journeys (wait until a local time) all use these."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from functools import cache, lru_cache

import phonenumbers
from phonenumbers.timezone import time_zones_for_number


@cache
def zone_info(name: str) -> zoneinfo.ZoneInfo | None:
    """The zone called `name`, or None for an empty or unknown name."""
    try:
        return zoneinfo.ZoneInfo(name) if name else None
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


@lru_cache(maxsize=65_536)
def phone_zone(phone: str) -> str | None:
    """The time zone of an E.164 number's region when that region has exactly one
    (+64 9 …: Pacific/Auckland; +1 415 …: America/Los_Angeles), else None (a New
    Zealand mobile may be in Chatham, a toll-free +1 800 anywhere in North America)."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    zones = time_zones_for_number(number)
    if len(zones) != 1 or zone_info(zones[0]) is None:  # "Etc/Unknown" is not a zone
        return None
    return str(zones[0])


def contact_zone(time_zone: str, phone: str | None, workspace_zone: str) -> str:
    """The zone a contact's local times are read in (quiet hours, local-time and
    best-time scheduling): its own `time_zone`; else the one zone of its phone
    number's region; else the workspace's; else UTC. Always a valid zoneinfo key."""
    if time_zone and zone_info(time_zone) is not None:
        return time_zone
    if phone:
        zone = phone_zone(phone)
        if zone is not None:
            return zone
    return workspace_zone if zone_info(workspace_zone) is not None else "UTC"


def local_instant(day: dt.date, time: dt.time, zone_name: str, fallback: str) -> dt.datetime:
    """`day` at `time` on the wall clock of `zone_name` (else `fallback`), as UTC.

    A wall time skipped by a DST change (02:30 on a spring-forward night) is read with
    the offset before the change, i.e. one hour later on the new clock; a time that
    occurs twice (autumn) is its first occurrence (fold=0)."""
    zone = zone_info(zone_name) or zone_info(fallback) or zoneinfo.ZoneInfo("UTC")
    local = dt.datetime.combine(day, time, tzinfo=zone)
    return local.astimezone(dt.UTC)
