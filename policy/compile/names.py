"""What a name in the rules reads: `kind`, a phone attribute or a fact about one, a
schedule's state, a derived fact, or (every other name) the attribute of that name. The one
place that decides it, in this order, for conditions, table columns and placeholders."""

from __future__ import annotations

from collections.abc import Mapping

from ..model import AttributeInfo
from ..runtime.facts import FACTS
from ..runtime.phone import CALLER, FIELDS, PHONE_ATTRIBUTES, REGIONS, PhoneSource, phone_source
from ..runtime.schedule import Schedule, ScheduleSource
from ..runtime.sources import AttrSource, FactSource, KindSource, Source


def resolve(
    name: str,
    *,
    declared: Mapping[str, AttributeInfo],
    region: str | None,
    schedules: Mapping[str, Schedule | None],
) -> Source:
    """The source `name` means in a rules file with these declarations."""
    if name == "kind":
        return KindSource()
    phone = _phone(name, declared, region if region in REGIONS else None)
    if phone is not None:
        return phone
    if name.startswith("schedule."):
        schedule = schedules.get(name[len("schedule.") :])
        if schedule is not None:
            return ScheduleSource(schedule)
    fact = FACTS.get(name)
    if fact is not None:
        return FactSource(fact)
    return AttrSource(name)


def _phone(
    name: str, declared: Mapping[str, AttributeInfo], region: str | None
) -> PhoneSource | None:
    """A phone attribute, `caller.FIELD`, or `ATTR.FIELD` for a phone attribute."""

    def is_phone(attr: str) -> bool:
        info = declared.get(attr)
        return attr in PHONE_ATTRIBUTES or (info is not None and info.phone)

    if is_phone(name):
        return phone_source(name, "value", name, region)
    head, _, field = name.rpartition(".")
    if field not in FIELDS:
        return None
    if head == "caller":
        return phone_source(CALLER, field, name, region)
    if is_phone(head):
        return phone_source(head, field, name, region)
    return None
