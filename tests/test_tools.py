"""The tool registry: names rules use, resolved to tools, unknown names caught at once."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

import policy
from policy.tools import ToolRegistry, UnknownToolError, load_registry, tool_name

RULES = Path(__file__).parent / "livekit" / "rules.yaml"


def hang_up() -> str:
    return "bye"


def lookup() -> str:
    return "order"


def test_resolve_keeps_the_rules_order_and_drops_repeats() -> None:
    reg = ToolRegistry({"end_call": hang_up, "lookup_order": lookup})
    assert reg.resolve(["lookup_order", "end_call", "lookup_order"]) == [lookup, hang_up]


def test_resolve_lists_every_unknown_name_and_what_is_registered() -> None:
    reg = ToolRegistry({"end_call": hang_up})
    with pytest.raises(UnknownToolError) as err:
        reg.resolve(["refund", "end_call", "escalate"])
    assert err.value.missing == ("escalate", "refund")
    assert str(err.value) == (
        "the rules name tool(s) `escalate`, `refund` that are not registered; "
        "registered tools: `end_call`"
    )


def test_check_reports_the_tools_a_real_policy_names_but_nobody_registered() -> None:
    rules = policy.load(RULES)
    assert ToolRegistry({"end_call": hang_up}).check(rules) == [
        "lookup_order",
        "transfer_to_human",
    ]
    full = ToolRegistry({n: hang_up for n in ("end_call", "lookup_order", "transfer_to_human")})
    assert full.check(rules) == []
    full.require(rules)
    with pytest.raises(UnknownToolError):
        ToolRegistry().require(rules)


def test_register_takes_the_tool_name_and_refuses_a_second_tool_under_it() -> None:
    reg = ToolRegistry()
    reg.register()(hang_up)
    reg.register("lookup_order")(lookup)
    assert reg.names() == ["hang_up", "lookup_order"]
    reg.add("hang_up", hang_up)  # the same tool again is harmless
    with pytest.raises(ValueError, match="already registered as `hang_up`"):
        reg.add("hang_up", lookup)
    with pytest.raises(ValueError):
        reg.add("", lookup)


def test_tool_name_prefers_the_tools_own_name() -> None:
    class Named:
        id = "transfer_to_human"

    assert tool_name(Named()) == "transfer_to_human"
    assert tool_name(lookup) == "lookup"


@pytest.fixture
def module() -> Iterator[types.ModuleType]:
    mod = types.ModuleType("sip_policy_test_tools")
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]


def test_load_registry_finds_a_registry_or_a_tools_mapping(module: types.ModuleType) -> None:
    with pytest.raises(LookupError, match="define a module-level `registry"):
        load_registry(module.__name__)
    module.TOOLS = {"end_call": hang_up}  # type: ignore[attr-defined]
    assert load_registry(module.__name__).names() == ["end_call"]
    module.registry = ToolRegistry({"lookup_order": lookup})  # type: ignore[attr-defined]
    assert load_registry(module.__name__).names() == ["lookup_order"]


def test_the_sample_tools_cover_the_sample_rules() -> None:
    reg = load_registry("policy.livekit.tools")
    assert reg.names() == ["end_call", "transfer_to_human", "lookup_order"]
    assert reg.check(policy.load(Path(__file__).parents[1] / "rules.yaml")) == []
