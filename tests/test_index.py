"""The indexed `decide` gives the same answer as a plain in-order first-match scan.

The reference below knows nothing of the engine: it reads the generated rules (plain data,
the same data written to the YAML) and tries them top to bottom. Hypothesis generates
policies that overlap on purpose: exact values and prefixes of every length over a
three-letter alphabet, regexes with and without a literal start, expressions, negations,
`any` and nested `all` groups, kinds, presence tests, facts (`call.direction`,
`caller.country`), disabled rules, rules filed in tables, and callers with missing, empty
and unrelated attributes. Every way the index files a rule (exact, any-of alternatives,
prefix, a regex's literal start, RE2 set, presence, kind, fact, always tried) is drawn.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import policy
from policy import Policy

ATTRS = ["x.a", "x.b", "sip.trunkID", "sip.h.x-tenant"]
KINDS = ["sip", "standard", "connector"]
ALPHABET = "ab1"

#: regexes whose meaning is the same in RE2 and Python's `re` (full match); some start with
#: literal text the index files them under ("ab.*" under `ab`, "ab?1" under `a`), some look
#: as if they did and do not ("a{0,2}b", "1?a?b", "(?i)ab", "ab|ba", "\\x61b")
REGEXES = [
    "a.*",
    "[ab]+",
    "1?a?b",
    ".*1",
    "ab|ba",
    "a{2,3}",
    "[^a]*",
    "ab.*",
    "ab?1",
    "1a[b1]*",
    "a{0,2}b",
    "(?i)ab",
    "\\x61b",
    "b\\.?a",
    "ba*",
]

#: texts some of the regexes match, which a caller's values must also hit: "b" matches
#: "a{0,2}b" and "ba*", though neither starts with it
MATCHING = ["a1", "ab1", "b", "aab", "AB", "aB", "ba", "b.a", "1a", "1ab1", "baa"]

#: numbers and their country, for `caller.country` (a fact computed from `sip.phoneNumber`)
NUMBERS = {"+442071234567": "GB", "+33142685300": "FR", "+14155550123": "US"}

#: expressions and what they mean, written independently in Python
EXPRS: dict[str, Any] = {
    'get("x.a") == "ab"': lambda a: _get(a, "x.a") == "ab",
    'startswith(get("x.b"), "a")': lambda a: _get(a, "x.b").startswith("a"),
    'len(get("sip.trunkID")) > 2': lambda a: len(_get(a, "sip.trunkID")) > 2,
    'attrs["x.a"] == "b"': lambda a: "x.a" in a and a["x.a"] == "b",
    'kind == "standard" or get("x.b", "zz") == "zz"': None,  # needs the kind: see below
}


def _get(attrs: dict[str, str], key: str, default: str = "") -> str:
    value = attrs.get(key)
    return value if isinstance(value, str) and value else default


def _present(attrs: dict[str, str], key: str) -> str | None:
    value = attrs.get(key)
    return value if isinstance(value, str) and value else None


# -- the reference evaluator ------------------------------------------------------------------


def fact(key: str, attrs: dict[str, str], kind: str) -> str | None:
    """The facts the strategy names, worked out here from the documented meaning."""
    if key == "call.direction":
        if kind != "sip":
            return None
        return "inbound" if _present(attrs, "sip.ruleID") else "outbound"
    number = _present(attrs, "sip.phoneNumber")
    return NUMBERS.get(number) if number is not None else None


def holds(when: dict[str, Any], attrs: dict[str, str], kind: str) -> bool:
    """Every condition of a `when` mapping holds (the meaning documented in the README)."""
    for key, spec in when.items():
        if key in ("call.direction", "caller.country"):
            if fact(key, attrs, kind) not in ([spec] if isinstance(spec, str) else spec):
                return False
        elif key == "all":
            if not all(holds(item, attrs, kind) for item in spec):
                return False
        elif key == "kind":
            if kind not in ([spec] if isinstance(spec, str) else spec):
                return False
        elif key == "not":
            if holds(spec, attrs, kind):
                return False
        elif key == "any":
            if not any(holds(item, attrs, kind) for item in spec):
                return False
        elif key == "expr":
            if spec.startswith("kind =="):
                if not (kind == "standard" or _get(attrs, "x.b", "zz") == "zz"):
                    return False
            elif not EXPRS[spec](attrs):
                return False
        else:
            value = _present(attrs, key)
            if isinstance(spec, str | list):
                if value not in ([spec] if isinstance(spec, str) else spec):
                    return False
                continue
            ((op, arg),) = spec.items()
            if op == "prefix":
                if value is None or not any(value.startswith(p) for p in arg):
                    return False
            elif op == "regex":
                if value is None or re.fullmatch(arg, value) is None:
                    return False
            elif op == "exists":
                if value is None:
                    return False
            elif op == "missing":
                if value is not None:
                    return False
            else:  # pragma: no cover - the strategy makes no other operator
                raise AssertionError(op)
    return True


def reference(rules: list[dict[str, Any]], attrs: dict[str, str], kind: str) -> str | None:
    """A plain in-order first-match scan of the rules as written."""
    for rule in rules:
        if rule.get("enabled", True) and holds(rule.get("when", {}), attrs, kind):
            return str(rule["name"])
    return None


# -- generated policies and callers -----------------------------------------------------------

words = st.text(ALPHABET, min_size=1, max_size=4)
attr_names = st.sampled_from(ATTRS)


@st.composite
def attribute_condition(draw: st.DrawFn) -> tuple[str, Any]:
    name = draw(attr_names)
    form = draw(st.sampled_from(["equals", "one_of", "prefix", "regex", "exists", "missing"]))
    if form == "equals":
        return name, draw(words)
    if form == "one_of":
        return name, draw(st.lists(words, min_size=1, max_size=3, unique=True))
    if form == "prefix":
        return name, {"prefix": draw(st.lists(words, min_size=1, max_size=3, unique=True))}
    if form == "regex":
        return name, {"regex": draw(st.sampled_from(REGEXES))}
    return name, {form: True}


@st.composite
def when(draw: st.DrawFn, depth: int = 0) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for _ in range(draw(st.integers(0 if depth == 0 else 1, 3))):
        nested = ["not", "any", "any", "all"] if depth == 0 else []
        what = draw(st.sampled_from(["attr", "attr", "attr", "kind", "expr", "fact", *nested]))
        if what == "fact":
            if draw(st.booleans()):
                out["call.direction"] = draw(st.sampled_from(["inbound", "outbound"]))
            else:
                out["caller.country"] = draw(
                    st.lists(st.sampled_from(["GB", "FR", "US"]), min_size=1, max_size=2)
                )
        elif what == "attr":
            name, spec = draw(attribute_condition())
            out.setdefault(name, spec)
        elif what == "kind":
            out["kind"] = draw(
                st.lists(st.sampled_from(KINDS), min_size=1, max_size=2, unique=True)
            )
        elif what == "expr":
            out["expr"] = draw(st.sampled_from(list(EXPRS)))
        elif what == "not":
            out["not"] = draw(when(depth + 1))
        else:
            out[what] = draw(st.lists(when(depth + 1), min_size=1, max_size=3))
    return out


@st.composite
def rules(draw: st.DrawFn) -> list[dict[str, Any]]:
    out = []
    for i in range(draw(st.integers(0, 14))):
        # no conditions is refused (`empty-when`): a catch-all names every kind on purpose
        rule: dict[str, Any] = {"name": f"r{i}", "when": draw(when()) or {"kind": list(KINDS)}}
        if draw(st.integers(0, 7)) == 0:
            rule["enabled"] = False
        out.append(rule)
    return out


callers = st.tuples(
    st.dictionaries(attr_names, st.one_of(st.just(""), st.text(ALPHABET, max_size=5)), max_size=4),
    st.sampled_from(KINDS),
)


def literals(spec: Any) -> set[str]:
    """Every text written in a rule's conditions, so callers can be made to hit them."""
    if isinstance(spec, str):
        return {spec}
    if isinstance(spec, list):
        return set().union(*(literals(x) for x in spec)) if spec else set()
    if isinstance(spec, dict):
        return set().union(*(literals(v) for v in spec.values())) if spec else set()
    return set()


@st.composite
def callers_for(draw: st.DrawFn, rules: list[dict[str, Any]]) -> tuple[dict[str, str], str]:
    """A caller whose values are mostly the rules' own literals, extended or cut short, so
    that exact values, prefixes of every length and regexes keep colliding."""
    pool = sorted(literals([r.get("when", {}) for r in rules]) - set(KINDS) - set(EXPRS))
    pool += MATCHING
    attrs: dict[str, str] = {}
    for name in ATTRS:
        how = draw(
            st.sampled_from(["absent", "empty", "literal", "longer", "shorter", "any", "match"])
        )
        if how == "match":
            attrs[name] = draw(st.sampled_from(MATCHING))
        elif how == "empty":
            attrs[name] = ""
        elif how in ("literal", "longer", "shorter") and pool:
            word = draw(st.sampled_from(pool))
            if how == "longer":
                word += draw(st.text(ALPHABET, min_size=1, max_size=2))
            elif how == "shorter":
                word = word[: draw(st.integers(0, len(word)))]
            attrs[name] = word
        elif how == "any":
            attrs[name] = draw(st.text(ALPHABET, max_size=5))
    if draw(st.booleans()):
        attrs["sip.ruleID"] = "SDR_x"
    number = draw(st.sampled_from([None, "", "anonymous", *NUMBERS]))
    if number is not None:
        attrs["sip.phoneNumber"] = number
    return attrs, draw(st.sampled_from(KINDS))


def compile_rules(rules: list[dict[str, Any]]) -> Policy:
    doc = {
        "attributes": {a: {"description": "test"} for a in ATTRS if not a.startswith("sip.")},
        "rules": rules,
    }
    return policy.loads(json.dumps(doc), file="generated.yaml")  # JSON is YAML


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rules=rules(), data=st.data())
def test_indexed_decide_agrees_with_a_plain_scan(
    rules: list[dict[str, Any]], data: st.DataObject
) -> None:
    p = compile_rules(rules)
    people = data.draw(st.lists(callers_for(rules), min_size=1, max_size=12))
    for attrs, kind in people:
        expected = reference(rules, attrs, kind)
        decided = p.decide(attrs, kind)
        assert decided.rule == expected, (attrs, kind)
        assert p.explain(attrs, kind).rule == expected, (attrs, kind)
        scanned = p.explain(attrs, kind)  # the trace lists every rule, in file order
        names = [s.rule for s in scanned.trace]
        assert names == sorted(names, key=lambda n: int(n[1:]))
        first = next((s.rule for s in scanned.trace if s.matched), None)
        assert first == expected, (attrs, kind)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(
        st.tuples(st.sampled_from(["x.a", "x.b"]), words, st.booleans()), min_size=1, max_size=30
    ),
    before=rules(),
    people=st.lists(callers, min_size=1, max_size=8),
)
def test_table_rows_are_rules_in_row_order(
    tmp_path_factory: Any,
    rows: list[tuple[str, str, bool]],
    before: list[dict[str, Any]],
    people: list[tuple[dict[str, str], str]],
) -> None:
    """A table of rows decides exactly as the same rules written one by one in the file."""
    directory: Path = tmp_path_factory.mktemp("table")
    lines = ["name,x.a,x.b"]
    inline: list[dict[str, Any]] = []
    for i, (attr, value, both) in enumerate(rows):
        cells = {"x.a": "", "x.b": ""}
        cells[attr] = value
        if both:
            cells["x.b" if attr == "x.a" else "x.a"] = value[::-1]
        lines.append(f"t{i},{cells['x.a']},{cells['x.b']}")
        inline.append({"name": f"t{i}", "when": {k: v for k, v in cells.items() if v}})
    (directory / "numbers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    head = [{**r, "name": f"h{r['name']}"} for r in before]
    doc = {
        "attributes": {"x.a": {}, "x.b": {}},
        "rules": [*head, {"name": "numbers", "table": "numbers.csv"}],
    }
    (directory / "rules.yaml").write_text(json.dumps(doc), encoding="utf-8")
    p = policy.load(directory / "rules.yaml")
    written = [*head, *inline]
    for attrs, kind in people:
        assert p.decide(attrs, kind).rule == reference(written, attrs, kind)


# -- a regex's literal start ------------------------------------------------------------------

ATOMS = ["a", "b", "1", ".", "\\.", "\\+", "[ab]", "\\d", "\\x61", "(ab)", "(a|1)", "+a"]
QUANTIFIERS = ["", "", "", "?", "*", "+", "{0,2}", "{1,2}", "{2}"]


@st.composite
def patterns(draw: st.DrawFn) -> str:
    parts = [
        draw(st.sampled_from(ATOMS)) + draw(st.sampled_from(QUANTIFIERS))
        for _ in range(draw(st.integers(1, 5)))
    ]
    text = "".join(parts).replace("++", "+")
    if draw(st.integers(0, 5)) == 0:
        text = text + "|" + draw(st.sampled_from(ATOMS))
    if draw(st.integers(0, 5)) == 0:
        text = "(?i)" + text
    return text


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pattern=patterns(), data=st.data())
def test_every_match_of_a_regex_starts_with_its_literal_start(
    pattern: str, data: st.DataObject
) -> None:
    """The index files a regex under its literal start: every text RE2 fully matches must
    start with it, or a caller could be missed."""
    import re2

    from policy.runtime.index import literal_prefix

    options = re2.Options()
    options.log_errors = False
    try:
        compiled = re2.compile(pattern, options)
    except Exception:
        return  # RE2 refuses it: a rules file could not use it either
    start = literal_prefix(pattern)
    texts = data.draw(st.lists(st.text("ab1.+A", max_size=7), max_size=20))
    try:
        texts += data.draw(st.lists(st.from_regex(pattern, fullmatch=True), max_size=5))
    except Exception:
        pass  # Python's `re` reads it otherwise
    for text in texts:
        if compiled.fullmatch(text) is not None:
            assert text.startswith(start), (pattern, start, text)


def test_literal_starts_of_the_regexes_people_write() -> None:
    """The cases the property test above may take a while to draw, written out."""
    from policy.runtime.index import literal_prefix

    assert literal_prefix(r"\+4420[0-4]\d{7}") == "+4420"
    assert literal_prefix(r"\+1(415|510)\d{7}") == ""  # a `|` anywhere: no start at all
    assert literal_prefix("ab|ba") == ""
    assert literal_prefix("ab?1") == "a"  # `b` may be missing
    assert literal_prefix("a{0,2}b") == ""
    assert literal_prefix(r"\x61b") == ""  # an escape that is not punctuation stops it
    assert literal_prefix("(?i)ab") == ""  # flags: `AB` matches too
    assert literal_prefix(r"b\.?a") == "b"
    assert literal_prefix(r"ACME\-\d+") == "ACME-"
