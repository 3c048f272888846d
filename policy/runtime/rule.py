"""A compiled rule: its name and place, its condition and its outcome plan."""

from __future__ import annotations

from dataclasses import dataclass

from .conditions import Cond
from .outcome import Plan


@dataclass(slots=True)
class CompiledRule:
    index: int
    name: str
    line: int
    cond: Cond
    plan: Plan
    enabled: bool = True
    #: the table file a row came from (None: the rules file), and the rule's path in the rules
    file: str | None = None
    path: tuple[str | int, ...] = ()
