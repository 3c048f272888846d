"""The house rules of `policy/`, checked on the source (docs/architecture.md):

- the pipe flows one way: `runtime` imports nothing from `parse` or `compile`; `parse` and
  `runtime` import nothing from `compile`; only `policy.livekit` imports livekit;
- no import cycle between modules, counting imports inside functions;
- no module over 600 lines, no function over 80 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "policy"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def module_name(file: Path) -> str:
    parts = list(file.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(f): f for f in sorted(PACKAGE.rglob("*.py"))}


def imports_of(name: str) -> set[str]:
    """Every module of `policy` (and every top-level package) `name` imports, anywhere in it."""
    file = MODULES[name]
    package = name if file.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m in MODULES or not m.startswith("policy")}


def internal(name: str) -> set[str]:
    return {m for m in imports_of(name) if m in MODULES and m != name}


def test_the_module_list_is_complete() -> None:
    assert {"policy.compile", "policy.runtime.engine", "policy.parse.document"} <= set(MODULES)


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("policy.runtime", ("policy.parse", "policy.compile", "policy.cli", "policy.livekit")),
        ("policy.parse", ("policy.compile", "policy.runtime", "policy.cli", "policy.livekit")),
        ("policy.compile", ("policy.cli", "policy.livekit", "policy.explain")),
    ],
)
def test_the_pipe_flows_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    wrong = {
        name: sorted(m for m in internal(name) if m.startswith(forbidden))
        for name in MODULES
        if name == layer or name.startswith(layer + ".")
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_only_the_adapter_imports_livekit() -> None:
    users = sorted(
        name
        for name in MODULES
        if any(m == "livekit" or m.startswith("livekit.") for m in imports_of(name))
    )
    assert users and all(u == "policy.livekit" or u.startswith("policy.livekit.") for u in users)


def test_no_import_cycles() -> None:
    graph = {name: internal(name) for name in MODULES}
    # a package's __init__ importing its own submodules is not a cycle of the code's design,
    # but a submodule importing its package's __init__ back would be: keep both directions
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if nxt.startswith(node + "."):
                continue  # a package importing its own submodules
            if state.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt) :], nxt]
                pytest.fail("import cycle: " + " → ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_modules_and_functions_stay_small(name: str) -> None:
    text = MODULES[name].read_text("utf-8")
    assert len(text.splitlines()) <= MAX_MODULE_LINES, f"{name} is over {MAX_MODULE_LINES} lines"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno is not None
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
