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
from policy.compile.vocabulary import VOCABULARY
from policy.errors import Code

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
SOURCES = sorted((ROOT / "policy").rglob("*.py"))

#: Calls that report a diagnostic: their code must be a `Code` constant, never bare text.
REPORTERS = {
    "error",
    "warning",
    "diagnostic",
    "report",
    "at",
    "single",
    "_at",
    "problem",
    "unknown",
}
CODE = re.compile(r"[a-z]+(?:-[a-z0-9]+)+")


def code_references(source: str) -> set[str]:
    """The `Code.NAME` constants a module uses, as their codes."""
    tree = ast.parse(source)
    return {
        Code[node.attr].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Code"
        and node.attr in Code.__members__
    }


def bare_codes(source: str) -> set[str]:
    """Code-like text passed first to a reporting call (which must use `Code` instead)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        first = node.args[0]
        if (
            name in REPORTERS
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and CODE.fullmatch(first.value)
        ):
            found.add(first.value)
    return found


@functools.cache
def source_codes() -> dict[str, list[str]]:
    """Code → the modules that report it."""
    out: dict[str, list[str]] = {}
    for file in SOURCES:
        if file.name == "errors.py" and file.parent.name == "policy":
            continue  # where the codes are defined
        for code in code_references(file.read_text(encoding="utf-8")):
            out.setdefault(code, []).append(str(file.relative_to(ROOT)))
    return out


def headings(path: Path) -> list[str]:
    return re.findall(r"^## (\S+)\s*$", path.read_text(encoding="utf-8"), re.MULTILINE)


# -- (a) diagnostic codes <-> docs/errors.md ---------------------------------------------


def test_the_collectors_find_constants_and_bare_codes() -> None:
    sample = """
def f(c, doc, x):
    c.error(Code.BAD_DATE, "m", ())
    doc.diagnostic(Code.YAML_TAG, "m", ())
    c.error("alpha-one", "m", ())
    c.warning("m", "not a code either way")
    other.call("iota-nine")
"""
    assert code_references(sample) == {"bad-date", "yaml-tag"}
    assert bare_codes(sample) == {"alpha-one"}


def test_no_module_reports_a_code_as_bare_text() -> None:
    found = {str(f.relative_to(ROOT)): bare_codes(f.read_text("utf-8")) for f in SOURCES}
    assert not {f: c for f, c in found.items() if c}, "use a `Code` constant from policy.errors"


def test_every_code_is_reported_somewhere() -> None:
    codes = source_codes()
    # one code per stage, so a collector that stopped finding them fails here
    for code in ("unknown-attribute", "unreachable-rule", "duplicate-key", "missing-file",
                 "unknown-tool", "unknown-rule", "unquoted-value"):  # fmt: skip
        assert code in codes, code
    unused = [c.value for c in Code if c.value not in codes]
    assert not unused, f"codes nothing reports: {unused}"


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


@pytest.mark.parametrize("name", [*VOCABULARY.operators, *VOCABULARY.keywords])
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
