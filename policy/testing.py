"""Test cases for a rules file: a caller and what it should get. Run by `sip-policy test`.

cases:
  - name: Spanish line gets Spanish speech recognition
    attributes: {sip.trunkPhoneNumber: "+15105550123"}   # or attributes_file: caller.json
    kind: sip                                           # the default
    at: "2026-12-24T18:30:00-08:00"                      # optional decision time
    expect:
      rule: spanish-line                                # null: no rule, defaults apply
      stt: "deepgram/nova-2-phonecall:es"
      tools: [lookup_order, transfer_to_human, end_call]
      instructions_contains: español
      session: {user_away_timeout: 20}                  # the options given (others may be set)
      action: transfer                                  # or reject; null: the agent answers
      transfer: {to: "+15105550199"}                     # the keys given: to, say
      max_duration: 5m                                  # or seconds: 300

A case may pin the variant of a `split:` rule (`variant: prompt-b`) and expect one
(`expect: {variant: prompt-b}`), and expect the shadow rules that would have decided
(`expect: {would_match: try-gpt-4.1}`, a list, or `[]` for none).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .compile.control import DURATION
from .errors import Code, Diagnostic, Location, Position, did_you_mean
from .parse.document import Document, Path_, YamlProblem, decode, describe_scalar, parse
from .runtime.engine import Policy
from .runtime.schedule import ScheduleSource

EXPECT_KEYS = (
    "rule",
    "stt",
    "llm",
    "tts",
    "instructions",
    "instructions_contains",
    "greeting",
    "tools",
    "metadata",
    "variant",
    "would_match",
    "session",
    "action",
    "reject",
    "transfer",
    "transfer_to",
    "max_duration",
)
CASE_KEYS = (
    "name",
    "description",
    "attributes",
    "attributes_file",
    "kind",
    "at",
    "variant",
    "expect",
)


@dataclass
class CaseResult:
    name: str
    location: Location
    rule: str | None
    failures: list[str] = field(default_factory=list)
    #: the table row that decided, when `rule` is a table
    row: str | None = None

    @property
    def passed(self) -> bool:
        return not self.failures

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "file": self.location.file,
            "line": self.location.line,
            "passed": self.passed,
            "rule": self.rule,
            "row": self.row,
            "failures": self.failures,
        }


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    unreached: list[str] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    #: the rules a case can reach, a table counting as one
    total: int = 0

    @property
    def passed(self) -> int:
        return sum(r.passed for r in self.results)

    @property
    def failed(self) -> int:
        return len(self.results) - self.passed

    def to_dict(self) -> dict[str, Any]:
        return {
            "cases": [r.to_dict() for r in self.results],
            "passed": self.passed,
            "failed": self.failed,
            "unreached": self.unreached,
        }


def _did_you_mean(word: str, choices: tuple[str, ...]) -> str:
    import difflib

    aliases = {"attrs": "attributes", "expected": "expect", "expects": "expect", "time": "at"}
    close = aliases.get(word) or next(iter(difflib.get_close_matches(word, choices, n=1)), None)
    return f"did you mean `{close}`? " if close else ""


def discover_cases(rules: Path) -> list[Path]:
    """`rules.tests.yaml` beside `rules.yaml`, and any `*.yaml` in `rules.tests/`."""
    found = []
    single = rules.with_name(rules.stem + ".tests.yaml")
    if single.is_file():
        found.append(single)
    folder = rules.with_name(rules.stem + ".tests")
    if folder.is_dir():
        found.extend(sorted(folder.glob("*.yaml")))
    return found


def _load_cases(file: Path, report: Report) -> tuple[Document, list[Any]] | None:
    try:
        doc = parse(decode(file.read_bytes(), str(file)), str(file))
    except OSError as exc:
        report.diagnostics.append(
            Diagnostic.at(
                Position(Location(str(file))),
                Code.MISSING_FILE,
                f"cannot read `{file}`: {exc.strerror}",
            )
        )
        return None
    except YamlProblem as problem:
        report.diagnostics.extend(problem.diagnostics)
        return None
    cases = doc.data.get("cases") if isinstance(doc.data, dict) else None
    if not isinstance(cases, list):
        report.diagnostics.append(
            doc.diagnostic(
                Code.INVALID_FILE,
                "a test file holds a list under `cases:`",
                (),
                help="start the file with `cases:` and list cases as `- name: ...` with "
                "`attributes:` and `expect:`",
            )
        )
        return None
    return doc, cases


def _attributes_file(
    doc: Document, file: Path, path: Path_, case: dict[str, Any], report: Report
) -> tuple[dict[str, str], str] | None:
    """The attributes (and kind) of `attributes_file:`, or None after reporting."""
    attrs: dict[str, str] = {}
    kind = case.get("kind", "sip")
    target = file.parent / str(case["attributes_file"])
    try:
        data = json.loads(target.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("attributes"), dict):
            attrs.update(data["attributes"])
            kind = case.get("kind", data.get("kind", "sip"))
        elif isinstance(data, dict):
            attrs.update(data)
    except FileNotFoundError:
        report.diagnostics.append(
            doc.diagnostic(
                Code.MISSING_FILE,
                f"the attributes file `{case['attributes_file']}` does not exist",
                (*path, "attributes_file"),
                help=f"paths are relative to the test file; looked for {target.resolve()}",
            )
        )
        return None
    except (OSError, ValueError) as exc:
        report.diagnostics.append(
            doc.diagnostic(
                Code.MISSING_FILE,
                f"the attributes file `{case['attributes_file']}` cannot be read: "
                f"{getattr(exc, 'strerror', None) or exc}",
                (*path, "attributes_file"),
                help="it must be JSON: an object of attributes, or {kind, attributes}",
            )
        )
        return None
    return attrs, str(kind)


def _case_inputs(
    doc: Document, file: Path, i: int, case: dict[str, Any], report: Report
) -> tuple[dict[str, str], str, dt.datetime | None] | None:
    path = ("cases", i)
    ok = True
    for key in case:
        if key not in CASE_KEYS:
            report.diagnostics.append(
                doc.diagnostic(
                    Code.UNKNOWN_KEY,
                    f"`{key}` is not a known key in a test case",
                    (*path, key),
                    key=True,
                    help=_did_you_mean(key, CASE_KEYS) + "known keys: " + ", ".join(CASE_KEYS),
                )
            )
            ok = False
    attrs: dict[str, str] = {}
    kind = case.get("kind", "sip")
    if "attributes_file" in case:
        read = _attributes_file(doc, file, path, case, report)
        if read is None:
            ok = False
        else:
            attrs, kind = read
    given = case.get("attributes") or {}
    if not isinstance(given, dict):
        report.diagnostics.append(
            doc.diagnostic(
                Code.INVALID_VALUE, "`attributes` must be a mapping", (*path, "attributes")
            )
        )
        return None
    for key, value in given.items():
        if not isinstance(value, str):
            described = describe_scalar(value, doc.scalars.get((*path, "attributes", key)))
            msg, advice = described or ("must be text", "quote it")
            report.diagnostics.append(
                doc.diagnostic(
                    Code.UNQUOTED_VALUE,
                    f"attribute `{key}`: {msg}",
                    (*path, "attributes", key),
                    help=advice,
                )
            )
            ok = False
        else:
            attrs[key] = value
    now = None
    if "at" in case:
        raw = case["at"]
        try:
            # without an offset, the time is local to each schedule (see `explain --at`)
            now = raw if isinstance(raw, dt.datetime) else dt.datetime.fromisoformat(str(raw))
        except ValueError:
            report.diagnostics.append(
                doc.diagnostic(
                    Code.INVALID_VALUE,
                    f"`at: {raw}` is not a date and time",
                    (*path, "at"),
                    help='e.g. at: "2026-12-24T18:30"',
                )
            )
            ok = False
    return (attrs, str(kind), now) if ok else None


def _compare(expect: dict[str, Any], decision: Any, table_rule: str | None) -> list[str]:
    failures = []
    outcome = decision.outcome
    for key, want in expect.items():
        if key == "rule":
            if want != decision.rule and want != table_rule:
                failures.append(
                    f"expected rule `{want}`, got "
                    + (f"`{decision.rule}`" if decision.rule else "no rule (defaults)")
                )
        elif key == "tools":
            got = list(outcome.tools)
            if list(want or []) != got:
                failures.append(f"expected tools {list(want or [])}, got {got}")
        elif key == "instructions_contains":
            for part in [want] if isinstance(want, str) else want:
                if part not in outcome.instructions:
                    failures.append(f"expected the instructions to contain `{part}`")
        elif key == "metadata":
            if dict(outcome.metadata) != want:
                failures.append(f"expected metadata {want}, got {dict(outcome.metadata)}")
        elif key in ("variant", "would_match"):
            failures += _compare_split(key, want, decision)
        elif key in ("session", "reject", "transfer", "max_duration"):
            failures += _compare_call(key, want, outcome)
        else:
            got = getattr(outcome, key)
            if got != want:
                failures.append(f"expected {key} `{want}`, got `{got}`")
    return failures


def _compare_split(key: str, want: Any, decision: Any) -> list[str]:
    """`variant`: the variant of a `split:` rule; `would_match`: the shadow rules that would
    have decided (a name, a list, or null/[] for none)."""
    if key == "variant":
        if want == decision.variant:
            return []
        shown = f"`{decision.variant}`" if decision.variant else "no variant"
        return [f"expected variant `{want}`, got {shown}"]
    wanted = [] if want is None else [want] if isinstance(want, str) else list(want)
    got_names = [m.rule for m in decision.would_match]
    return (
        [] if wanted == got_names else [f"expected shadow rules {wanted} to match, got {got_names}"]
    )


def _pin(
    doc: Document, i: int, case: dict[str, Any], policy: Policy, report: Report
) -> tuple[bool, str | None]:
    """The variant a case pins: one of a `split:` rule's variants, or a diagnostic."""
    pin = case.get("variant")
    if pin is None:
        return True, None
    known = sorted({v.name for r in policy.rules if r.split is not None for v in r.split.variants})
    if isinstance(pin, str) and pin in known:
        return True, pin
    report.diagnostics.append(
        doc.diagnostic(
            Code.INVALID_VALUE,
            f"`variant: {pin}` is not a variant of any `split:` rule",
            ("cases", i, "variant"),
            help="variants: " + ", ".join(known) if known else "the rules have no `split:`",
        )
    )
    return False, None


def _compare_call(key: str, want: Any, outcome: Any) -> list[str]:
    """`session`, `reject`, `transfer`: the keys the case gives must match (null: not set);
    `max_duration`: seconds, or a time such as "5m"."""
    got = getattr(outcome, key)
    if key == "max_duration":
        seconds = _seconds(want)
        have = got.seconds if got else None
        ok = (want is None and got is None) or (seconds is not None and seconds == have)
        return (
            []
            if ok
            else [
                f"expected max_duration `{want}`, got "
                + (f"{have:g} seconds" if have is not None else "none")
            ]
        )
    have_dict = dict(got) if key == "session" else (got.to_dict() if got else None)
    if want is None or have_dict is None:
        return [] if want == have_dict else [f"expected {key} `{want}`, got `{have_dict}`"]
    if not isinstance(want, dict):
        return [f"expected {key} must be a mapping, e.g. {key}: {{say: ...}}"]
    return [
        f"expected {key}.{k} `{v}`, got `{have_dict.get(k)}`"
        for k, v in want.items()
        if have_dict.get(k) != v
    ]


def _seconds(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    m = DURATION.match(value) if isinstance(value, str) else None
    if not m or not any(m.groups()):
        return None
    h, mins, s = (int(g) if g else 0 for g in m.groups())
    return float(h * 3600 + mins * 60 + s)


def _uses_schedule(cond: Any) -> bool:
    """`cond` reads the time (a `during:`, `outside:` or `schedule.NAME` condition)."""
    if isinstance(getattr(cond, "source", None), ScheduleSource):
        return True
    inner = getattr(cond, "conds", None) or (
        (cond.inner,) if getattr(cond, "inner", None) is not None else ()
    )
    return any(_uses_schedule(c) for c in inner)


def _warn_wall_clock(
    policy: Policy, reference: Any, doc: Document, i: int, name: str, report: Report
) -> None:
    """A case without `at:` whose answer depends on the time: it passes on a weekday and
    fails on Sunday. Say so, at the case."""
    by_name = {r.name: r for r in policy.rules}
    for step in reference.trace:
        rule = by_name.get(step.rule)
        failed_on_time = step.failed is not None and str(
            getattr(step.failed, "attribute", "")
        ).startswith("schedule.")
        if rule is not None and (failed_on_time or (step.matched and _uses_schedule(rule.cond))):
            report.diagnostics.append(
                doc.diagnostic(
                    Code.MISSING_TIME,
                    f"case `{name}` has no `at:`, and rule `{rule.name}` depends on the time: "
                    "the case uses the clock of the machine that runs it",
                    ("cases", i),
                    help='give the case a time, e.g. at: "2026-12-22T10:00" (a Tuesday morning)',
                    severity="warning",
                )
            )
            return
        if step.matched:
            return


@dataclass
class _Run:
    """One run over the case files: the policy (None when the rules did not load: the cases
    are still read, so every problem shows at once), and what it knows of rule names."""

    policy: Policy | None
    report: Report = field(default_factory=Report)
    reached: set[str] = field(default_factory=set)
    #: table row → its table rule
    tables: dict[str, str] = field(default_factory=dict)
    #: what a case can expect and coverage counts: a table is one rule
    names: list[str] = field(default_factory=list)


def run_cases(policy: Policy | None, files: list[Path]) -> Report:
    """Run every case of `files`; with `policy` None, only report the files' own problems."""
    run = _Run(policy)
    if policy is not None:
        run.tables = {r.name: r.table_rule for r in policy.rules if r.table_rule is not None}
        run.names = list(dict.fromkeys(r.table_rule or r.name for r in policy.rules))
    run.report.total = len(run.names)
    for file in files:
        loaded = _load_cases(file, run.report)
        if loaded is None:
            continue
        doc, cases = loaded
        for i, case in enumerate(cases):
            _run_case(run, doc, file, i, case)
    run.report.unreached = [n for n in run.names if n not in run.reached]
    run.report.diagnostics.sort(key=Diagnostic.sort_key)
    return run.report


def _run_case(run: _Run, doc: Document, file: Path, i: int, case: Any) -> None:
    report = run.report
    if not isinstance(case, dict):
        report.diagnostics.append(
            doc.diagnostic(Code.INVALID_VALUE, "each case is a mapping with `name:`", ("cases", i))
        )
        return
    name = str(case.get("name", f"case {i + 1}"))
    expect = case.get("expect")
    ok = _check_expect(run, doc, i, name, expect)
    inputs = _case_inputs(doc, file, i, case, report)
    if inputs is None or not ok or run.policy is None:
        return
    assert isinstance(expect, dict)
    policy = run.policy
    attrs, kind, now = inputs
    ok, pin = _pin(doc, i, case, policy, report)
    if not ok:
        return
    decision = policy.decide(attrs, kind, now=now, variant=pin)
    reference = policy.explain(attrs, kind, now=now, variant=pin)
    if now is None:
        _warn_wall_clock(policy, reference, doc, i, name, report)
    loc = doc.loc(("cases", i))
    result = CaseResult(name=name, location=Location(loc.file, loc.line, 0), rule=decision.rule)
    if reference.rule != decision.rule:  # pragma: no cover - the engine's own guard
        result.failures.append(
            f"internal: indexed decision `{decision.rule}` differs from the scan "
            f"`{reference.rule}`; please report this"
        )
    table_rule = run.tables.get(decision.rule or "")
    result.failures += _compare(expect, decision, table_rule)
    if table_rule is not None:
        result.rule, result.row = table_rule, decision.rule
    if decision.rule:
        run.reached.add(table_rule or decision.rule)
    run.reached.update(m.rule for m in decision.would_match)  # a shadow rule reached
    report.results.append(result)


def _check_expect(run: _Run, doc: Document, i: int, name: str, expect: Any) -> bool:
    """`expect:` is there, asks for known things, and names a rule the file has."""
    report = run.report
    if not isinstance(expect, dict) or not expect:
        report.diagnostics.append(
            doc.diagnostic(
                Code.MISSING_KEY,
                f"case `{name}` has no `expect:`",
                ("cases", i),
                help="e.g. expect: {rule: spanish-line}",
            )
        )
        return False
    ok = True
    for k in expect:
        if k not in EXPECT_KEYS:
            ok = False
            report.diagnostics.append(
                doc.diagnostic(
                    Code.UNKNOWN_KEY,
                    f"`{k}` is not something a case can expect",
                    ("cases", i, "expect", k),
                    key=True,
                    help="expect: " + ", ".join(EXPECT_KEYS),
                )
            )
    want = expect.get("rule")
    if run.policy is not None and want is not None and want not in run.names + list(run.tables):
        ok = False
        report.diagnostics.append(
            doc.diagnostic(
                Code.UNKNOWN_RULE,
                f"case `{name}` expects rule `{want}`, which the rules file does not have",
                ("cases", i, "expect", "rule"),
                help=(f"{hint} " if (hint := did_you_mean(str(want), run.names)) else "")
                + "rules: "
                + ", ".join(run.names),
            )
        )
    return ok


def case_callers(
    files: list[Path],
) -> list[tuple[str, dict[str, str], str, dt.datetime | None, str | None]]:
    """The callers of the cases in `files` (name, attributes, kind, time, pinned variant),
    for `sip-policy diff`; cases that cannot be read are left out (`test` reports them)."""
    out: list[tuple[str, dict[str, str], str, dt.datetime | None, str | None]] = []
    report = Report()
    for file in files:
        loaded = _load_cases(file, report)
        if loaded is None:
            continue
        doc, cases = loaded
        for i, case in enumerate(cases):
            if not isinstance(case, dict):
                continue
            inputs = _case_inputs(doc, file, i, case, report)
            if inputs is None:
                continue
            pin = case.get("variant")
            name = str(case.get("name", f"case {i + 1}"))
            out.append((name, *inputs, pin if isinstance(pin, str) else None))
    return out
