"""Every derived fact rules and placeholders can name, in one table (to add a fact, write
its function beside the data it reads and list it here)."""

from __future__ import annotations

from .phone import PHONE_FACTS
from .sources import CALL_FACTS, Fact

FACTS: dict[str, Fact] = {f.name: f for f in (*CALL_FACTS, *PHONE_FACTS)}
