"""The tool registry: rule-facing tool names mapped to the worker's tool objects.

Rules name tools (`tools: [end_call, lookup_order]`); the worker's code defines them (for
livekit-agents, `@function_tool` functions or toolsets) and registers them here under those
names. A name in the rules that nothing registered is an error found before any call: by
`sip-policy check --tools MODULE` offline and by the worker at start-up. It is never dropped.

This module imports nothing from livekit: the registry holds plain objects.

A tools module exposes its registry as a module-level `registry` (a `ToolRegistry`); a
module-level `TOOLS` mapping of names to tools is accepted too.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Protocol, TypeVar

T = TypeVar("T")

#: Module attributes `load_registry` looks for, in order.
REGISTRY_ATTRIBUTES = ("registry", "TOOLS")


class _NamesTools(Protocol):
    def tool_names(self) -> frozenset[str]: ...


class UnknownToolError(LookupError):
    """Rules ask for tools nothing registered. `missing` lists them, `known` what exists."""

    def __init__(self, missing: Iterable[str], known: Iterable[str]) -> None:
        self.missing = tuple(sorted(set(missing)))
        self.known = tuple(sorted(set(known)))
        names = ", ".join(f"`{n}`" for n in self.missing)
        known_text = ", ".join(f"`{n}`" for n in self.known) or "none"
        super().__init__(
            f"the rules name tool(s) {names} that are not registered; registered tools: "
            f"{known_text}"
        )


class ToolRegistry:
    """Tool objects under the names rules use. Order of registration is kept."""

    def __init__(self, tools: Mapping[str, object] | None = None) -> None:
        self._tools: dict[str, object] = {}
        for name, tool in (tools or {}).items():
            self.add(name, tool)

    def add(self, name: str, tool: object, *, replace: bool = False) -> None:
        """Register `tool` under `name`; registering a taken name twice is a mistake."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("a tool name must be a non-empty string")
        if name in self._tools and not replace and self._tools[name] is not tool:
            raise ValueError(f"a tool is already registered as `{name}`")
        self._tools[name] = tool

    def register(self, name: str | None = None) -> Callable[[T], T]:
        """Decorator form: `@registry.register("end_call")` above a tool. Without a name the
        tool's own name is used (`.name`, `.id`, `.info.name` or `__name__`)."""

        def decorator(tool: T) -> T:
            self.add(name or tool_name(tool), tool)
            return tool

        return decorator

    def resolve(self, names: Iterable[str]) -> list[object]:
        """The tools for `names`, in that order, without duplicates. Raises `UnknownToolError`
        listing every unknown name at once."""
        wanted = list(dict.fromkeys(names))
        missing = [n for n in wanted if n not in self._tools]
        if missing:
            raise UnknownToolError(missing, self._tools)
        return [self._tools[n] for n in wanted]

    def missing(self, names: Iterable[str]) -> list[str]:
        """The names in `names` that are not registered, sorted."""
        return sorted({n for n in names if n not in self._tools})

    def check(self, policy: _NamesTools) -> list[str]:
        """The tool names `policy` uses that are not registered, sorted; empty when all are."""
        return self.missing(policy.tool_names())

    def require(self, policy: _NamesTools) -> None:
        """Raise `UnknownToolError` when `policy` names an unregistered tool."""
        missing = self.check(policy)
        if missing:
            raise UnknownToolError(missing, self._tools)

    def names(self) -> list[str]:
        return list(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[str]:
        return iter(self._tools)

    def __len__(self) -> int:
        return len(self._tools)

    def __getitem__(self, name: str) -> object:
        return self._tools[name]

    def __repr__(self) -> str:
        return f"ToolRegistry({', '.join(self._tools)})"


def tool_name(tool: object) -> str:
    """The name a tool calls itself: `.name` / `.id` (livekit tools), `.info.name`, or the
    function's `__name__`."""
    for attr in ("name", "id"):
        value = getattr(tool, attr, None)
        if isinstance(value, str) and value:
            return value
    info = getattr(tool, "info", None)
    value = getattr(info, "name", None)
    if isinstance(value, str) and value:
        return value
    value = getattr(tool, "__name__", None)
    if isinstance(value, str) and value:
        return value
    raise ValueError(f"cannot tell the name of tool {tool!r}; register it with a name")


def load_registry(module_name: str) -> ToolRegistry:
    """Import `module_name` and return its tool registry (`registry`, or a `TOOLS` mapping).

    Raises `LookupError` with a sentence for the person at the terminal when the module has
    neither; import errors propagate unchanged.
    """
    module = importlib.import_module(module_name)
    for attr in REGISTRY_ATTRIBUTES:
        found: Any = getattr(module, attr, None)
        if isinstance(found, ToolRegistry):
            return found
        if isinstance(found, Mapping):
            return ToolRegistry(found)
    raise LookupError(
        f"module `{module_name}` has no tool registry: define a module-level `registry = "
        f"ToolRegistry()` (from policy.tools) or a `TOOLS` mapping of names to tools"
    )


__all__ = ["REGISTRY_ATTRIBUTES", "ToolRegistry", "UnknownToolError", "load_registry", "tool_name"]
