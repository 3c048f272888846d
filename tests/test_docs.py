"""The docs stay true to the code: every diagnostic code has its section in docs/errors.md
(messages link `docs/errors.md#CODE`), every operator and `when:` keyword is in
docs/reference.md, and the complete rules files shown in the guide and the reference load."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import pytest

import policy
from policy.loader import KEYWORDS, OPERATORS

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = sorted((ROOT / "policy").glob("*.py"))

#: Calls whose first argument is a diagnostic code: `c.error(...)`, `c.warning(...)`,
#: `doc.diag(...)`, `Diagnostic(...)`, and the table reporters `report.at(...)`, `problem(...)`.
REPORTERS = {"error", "warning", "diag", "Diagnostic", "at", "problem"}
CODE = re.compile(r"[a-z]+(?:-[a-z]+)+")
#: Names of severity words and the like that are not codes, should a reporter take them first.
NOT_CODES = {"error", "warning"}


def _strings(node: ast.AST) -> set[str]:
    """Every string constant in an expression (`"a" if x else "b"` gives both)."""
    return {
        n.value for n in ast.walk(node) if isinstance(n, ast.Constant) and isinstance(n.value, str)
    }


def _assigned(function: ast.AST, name: str) -> set[str]:
    """The strings assigned to a local variable anywhere in the enclosing function."""
    found: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == name for t in node.targets
        ):
            found |= _strings(node.value)
    return found


def codes_in(source: str) -> set[str]:
    """Diagnostic codes passed as the first argument of a reporting call, directly or
    through a local variable (`code = "bad-phone-prefix" if ... else "bad-phone-number"`)."""
    tree = ast.parse(source)
    found: set[str] = set()
    scopes: list[ast.AST] = [tree]
    scopes += [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope in scopes:
        for node in ast.walk(scope):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            if name not in REPORTERS:
                continue
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.add(first.value)
            elif isinstance(first, ast.Name) and scope is not tree:
                found |= _assigned(scope, first.id)
    return {c for c in found if CODE.fullmatch(c) and c not in NOT_CODES}


@functools.cache
def source_codes() -> dict[str, list[str]]:
    """Code → the modules that report it."""
    out: dict[str, list[str]] = {}
    for file in SOURCES:
        for code in codes_in(file.read_text(encoding="utf-8")):
            out.setdefault(code, []).append(file.name)
    return out


def headings(path: Path) -> list[str]:
    return re.findall(r"^## (\S+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)


# -- (a) diagnostic codes <-> docs/errors.md ---------------------------------------------


def test_the_collector_finds_codes_in_every_reporting_form() -> None:
    sample = """
def f(c, doc, report, problem, x):
    c.error("alpha-one", "m", ())
    c.warning("beta-two", "m", ())
    doc.diag("gamma-three", "m", ())
    Diagnostic("delta-four", "m", loc)
    report.at("eps-five", "m", 1)
    raise problem("zeta-six", "m")
    code = "eta-seven" if x else "theta-eight"
    c.error(code, "m", ())
    c.error("m", "not a code either way")
    other.call("iota-nine")
"""
    assert codes_in(sample) == {
        "alpha-one",
        "beta-two",
        "gamma-three",
        "delta-four",
        "eps-five",
        "zeta-six",
        "eta-seven",
        "theta-eight",
    }


def test_the_collector_finds_the_codes_known_to_exist() -> None:
    codes = source_codes()
    # one code per reporting form and module, so a regex that stopped matching fails here
    for code in (
        "unknown-attribute",  # c.error in loader
        "unreachable-rule",  # c.warning in loader
        "duplicate-key",  # doc.diag in source
        "missing-file",  # Diagnostic(...) in loader and cli
        "unknown-tool",  # Diagnostic(...) in cli and livekit
        "unknown-rule",  # doc.diag in testing
        "unquoted-value",  # through a variable in loader
    ):
        assert code in codes, code
    assert len(codes) >= 30


def test_every_code_in_the_source_has_a_section_in_errors_md() -> None:
    documented = set(headings(DOCS / "errors.md"))
    missing = {code: files for code, files in source_codes().items() if code not in documented}
    assert not missing, f"add a `## CODE` section to docs/errors.md for: {missing}"


def test_every_section_of_errors_md_is_a_real_code() -> None:
    codes = source_codes()
    stale = [h for h in headings(DOCS / "errors.md") if h not in codes]
    assert not stale, f"docs/errors.md documents codes nothing reports: {stale}"


def test_errors_md_sections_are_in_alphabetical_order_once_each() -> None:
    found = headings(DOCS / "errors.md")
    assert found == sorted(set(found))


def test_diagnostics_link_to_errors_md_anchors() -> None:
    try:
        policy.loads("rules:\n  - name: a\n    when: {sip.phonenumber: x}\n")
    except policy.PolicyError as exc:
        rendered = exc.render()
    else:  # pragma: no cover
        pytest.fail("the typo was not reported")
    anchor = re.search(r"\(docs/errors\.md#([a-z-]+)\)", rendered)
    assert anchor is not None and anchor.group(1) in headings(DOCS / "errors.md")


# -- (b) operators and keywords <-> docs/reference.md ------------------------------------


@pytest.mark.parametrize("name", [*OPERATORS, *KEYWORDS])
def test_every_operator_and_keyword_is_in_the_reference(name: str) -> None:
    assert f"`{name}`" in (DOCS / "reference.md").read_text(encoding="utf-8")


# -- (c) complete rules files in the guide and the reference load ------------------------

FENCED_YAML = re.compile(r"^```yaml\n(.*?)^```", re.MULTILINE | re.DOTALL)
BROKEN = "# broken on purpose"


def _examples() -> list[object]:
    params = []
    for name in ("guide.md", "reference.md"):
        text = (DOCS / name).read_text(encoding="utf-8")
        for m in FENCED_YAML.finditer(text):
            block = m.group(1)
            if not re.search(r"^(rules|defaults):", block, re.MULTILINE):
                continue
            line = text.count("\n", 0, m.start()) + 2
            params.append(pytest.param(name, line, block, id=f"{name}:{line}"))
    return params


EXAMPLES = _examples()


def test_the_docs_have_complete_examples() -> None:
    assert len([e for e in EXAMPLES if "guide.md" in str(e.id)]) >= 5  # type: ignore[attr-defined]
    assert len([e for e in EXAMPLES if "reference.md" in str(e.id)]) >= 3  # type: ignore[attr-defined]


@pytest.mark.parametrize(("doc", "line", "block"), EXAMPLES)
def test_complete_examples_load(doc: str, line: int, block: str, tmp_path: Path) -> None:
    if block.startswith(BROKEN):
        with pytest.raises(policy.PolicyError):
            policy.loads(block, base_dir=ROOT)
        return
    # files the examples name (prompts/*.md, tables) are the sample's own, beside rules.yaml;
    # a table example gets its CSV from the block just before it
    base = ROOT
    if "table:" in block:
        text = (DOCS / doc).read_text(encoding="utf-8")
        before = text[: text.index(block)]
        csv = re.findall(r"^```text\n(.*?)^```", before, re.MULTILINE | re.DOTALL)[-1]
        name = re.search(r"table:\s*(\S+)", block)
        assert name is not None
        (tmp_path / name.group(1)).write_text(csv, encoding="utf-8")
        base = tmp_path
    try:
        policy.loads(block, base_dir=base)
    except policy.PolicyError as exc:
        pytest.fail(f"the example at docs/{doc}:{line} does not load:\n{exc.render()}")
