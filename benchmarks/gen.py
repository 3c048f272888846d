"""Deterministic policies and callers for the benchmark (issue 5): the mix a platform that
routes by the number dialled writes, at any size, as a rules.yaml of one item per rule and
as the same policy with the per-number rows in a CSV table.

Layout of a generated policy (first match wins, so order matters):

- head: a few early rules: blocked-caller regexes on `sip.phoneNumber`, header-mapped
  equality (`sip.h.x-account`), prefix rules, and expressions scoped to one trunk;
- bulk: one exact rule per hosted number, on `sip.trunkPhoneNumber` (70%) or `sip.trunkID`
  (30%); this is the block the table form moves into `numbers.csv`;
- tail: more header and regex rules and the remaining expressions, then caller-prefix
  routing (`sip.phoneNumber` prefixes of 3 to 8 digits) as one block, which the table form
  moves into `regions.csv` (an `sip.phoneNumber prefix` column).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path

BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
#: country code -> digits in a national number (so every generated number is a possible
#: one, and E.164 normalization leaves it as written)
NATIONAL = {
    "1": 10,
    "44": 10,
    "33": 9,
    "49": 11,
    "34": 9,
    "39": 10,
    "31": 9,
    "61": 9,
    "81": 10,
    "55": 11,
    "52": 10,
    "91": 10,
}
COUNTRIES = list(NATIONAL)
PROFILES = 24
DESCRIPTIONS = ["main line of", "support line of", "sales line of", "after-hours line of"]


@dataclass(frozen=True)
class GenRule:
    """One generated rule. `op` is equals, prefix, regex or expr; `guard` is an exact
    (attribute, value) that must also hold (expressions are scoped to one trunk)."""

    name: str
    op: str
    attr: str
    value: str
    use: str
    guard: tuple[str, str] | None = None
    section: str = "head"


@dataclass
class GenPolicy:
    rules: list[GenRule]
    profiles: list[str]
    callers: list[tuple[str, dict[str, str]]] = field(default_factory=list)  # (label, attrs)


def _id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(BASE57) for _ in range(12))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


def generate(n: int, seed: int = 5, callers: int = 300) -> GenPolicy:
    """A policy of exactly `n` rules and a fixed set of callers (early, late, none)."""
    rng = random.Random(seed * 1_000_003 + n)
    n_regex = max(1, round(n * 0.0002))
    n_expr = max(1, round(n * 0.0001))
    n_prefix = max(1, round(n * 0.10)) if n >= 10 else 1
    n_header = max(1, round(n * 0.04)) if n >= 10 else 1
    n_exact = max(n - n_regex - n_expr - n_prefix - n_header, 1)
    n_prefix = n - n_regex - n_expr - n_header - n_exact
    profiles = [f"tenant-{i:02d}" for i in range(PROFILES)]

    used_numbers: set[str] = set()
    used_ids: set[str] = set()

    def number() -> str:
        while True:
            v = "+1" + rng.choice("23456789") + _digits(rng, 9)
            if v not in used_numbers:
                used_numbers.add(v)
                return v

    def trunk_id() -> str:
        while True:
            v = _id(rng, "ST_")
            if v not in used_ids:
                used_ids.add(v)
                return v

    # caller prefixes: no prefix is a prefix of another, so none is unreachable
    taken: set[str] = set()
    stems: set[str] = set()

    def prefix() -> str:
        while True:
            cc = rng.choice(COUNTRIES[1:])
            p = "+" + cc + rng.choice("123456789") + _digits(rng, rng.randint(0, 7 - len(cc)))
            if p in stems or any(p[:k] in taken for k in range(2, len(p) + 1)):
                continue
            taken.add(p)
            stems.update(p[:k] for k in range(2, len(p) + 1))
            return p

    def regex() -> str:
        cc = rng.choice(COUNTRIES[1:])
        rest = NATIONAL[cc] - 3
        return rf"\+{cc}{rng.choice('123456789')}{_digits(rng, 1)}[0-4]\d{{{rest}}}"

    counter = 0

    def make(
        op: str, attr: str, value: str, section: str, guard: tuple[str, str] | None = None
    ) -> GenRule:
        nonlocal counter
        counter += 1
        return GenRule(f"{op}-{counter:06d}", op, attr, value, rng.choice(profiles), guard, section)

    def expr_rule(section: str) -> GenRule:
        plan = rng.choice(["gold", "platinum", "trial"])
        cc = rng.choice(COUNTRIES[1:])
        text = f'get("sip.h.x-plan") == "{plan}" and startswith(get("sip.phoneNumber"), "+{cc}")'
        return make("expr", "", text, section, ("sip.trunkID", trunk_id()))

    head: list[GenRule] = []
    tail: list[GenRule] = []
    for i in range(n_regex):
        (head if i % 2 == 0 else tail).append(
            make("regex", "sip.phoneNumber", regex(), "head" if i % 2 == 0 else "tail")
        )
    for i in range(n_expr):
        (head if i % 2 == 0 else tail).append(expr_rule("head" if i % 2 == 0 else "tail"))
    for i in range(n_header):
        sec = "head" if i % 4 == 0 else "tail"
        (head if sec == "head" else tail).append(
            make("equals", "sip.h.x-account", f"acct-{rng.randrange(10**7):07d}", sec)
        )
    regions: list[GenRule] = []
    for i in range(n_prefix):
        sec = "head" if i % 20 == 0 else "regions"
        (head if sec == "head" else regions).append(
            make("prefix", "sip.phoneNumber", prefix(), sec)
        )
    rng.shuffle(head)
    rng.shuffle(tail)
    tail += regions  # caller-prefix routing: one block, which the table form puts in regions.csv
    bulk = [
        make("equals", "sip.trunkPhoneNumber", number(), "bulk")
        if rng.random() < 0.7
        else make("equals", "sip.trunkID", trunk_id(), "bulk")
        for _ in range(n_exact)
    ]
    if n < 10:
        rules = (head + bulk + tail)[:n]
    else:
        rules = head + bulk + tail
    policy = GenPolicy(rules=rules, profiles=profiles)
    policy.callers = make_callers(policy, rng, callers)
    return policy


def _caller_for(rule: GenRule, rng: random.Random) -> dict[str, str]:
    attrs = _background(rng)
    if rule.guard is not None:
        attrs[rule.guard[0]] = rule.guard[1]
    if rule.op == "equals":
        attrs[rule.attr] = rule.value
    elif rule.op == "prefix":
        cc = next(c for c in COUNTRIES if rule.value[1:].startswith(c))
        attrs[rule.attr] = rule.value + _digits(rng, 1 + len(cc) + NATIONAL[cc] - len(rule.value))
    elif rule.op == "regex":
        # \+CCDD[0-4]\d{N}
        body = rule.value[2:].split("[", 1)[0]
        rest = int(rule.value.rsplit("{", 1)[1].rstrip("}"))
        attrs[rule.attr] = "+" + body + rng.choice("01234") + _digits(rng, rest)
    elif rule.op == "expr":
        text = rule.value
        plan = text.split('== "', 1)[1].split('"', 1)[0]
        cc = text.rsplit('"+', 1)[1].split('"', 1)[0]
        attrs["sip.h.x-plan"] = plan
        attrs["sip.phoneNumber"] = (
            "+" + cc + rng.choice("123456789") + _digits(rng, NATIONAL[cc] - 1)
        )
    return attrs


def _background(rng: random.Random) -> dict[str, str]:
    """The attributes every inbound SIP caller has, with values no rule uses."""
    return {
        "sip.callID": _id(rng, "SCL_"),
        "sip.callStatus": "ringing",
        "sip.ruleID": _id(rng, "SDR_"),
        "sip.trunkID": _id(rng, "ST_"),
        "sip.trunkPhoneNumber": "+1" + "1" + _digits(rng, 9),  # area codes never start with 1
        "sip.phoneNumber": "+1" + "1" + _digits(rng, 9),
        "sip.hostname": "sip.example.net",
        "sip.h.x-account": "acct-none",
    }


def make_callers(
    policy: GenPolicy, rng: random.Random, count: int
) -> list[tuple[str, dict[str, str]]]:
    """A third match one of the first tenth of the rules, a third one of the last tenth, a
    third nothing at all (unknown number, unknown caller, some attributes hidden)."""
    rules = policy.rules
    tenth = max(len(rules) // 10, 1)
    out: list[tuple[str, dict[str, str]]] = []
    for i in range(count):
        which = i % 3
        if which == 0:
            out.append(("early", _caller_for(rules[rng.randrange(tenth)], rng)))
        elif which == 1:
            out.append(("late", _caller_for(rules[len(rules) - 1 - rng.randrange(tenth)], rng)))
        else:
            attrs = _background(rng)
            if i % 2:
                for key in ("sip.phoneNumber", "sip.trunkPhoneNumber"):  # hide_phone_number
                    del attrs[key]
            out.append(("none", attrs))
    return out


# -- writing ------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _head_yaml(policy: GenPolicy) -> list[str]:
    out = [
        "version: 1",
        "attributes:",
        "  sip.h.x-account: {description: account number from the X-Account header}",
        "  sip.h.x-plan: {description: plan from the X-Plan header}",
        "defaults:",
        "  stt: deepgram/nova-2-phonecall",
        "  llm: openai/gpt-4.1-mini",
        "  tts: cartesia/sonic-2",
        "  instructions: You are a helpful voice assistant. Keep answers short.",
        "  tools: [end_call]",
        "profiles:",
    ]
    for i, p in enumerate(policy.profiles):
        out += [
            f"  {p}:",
            f"    instructions: You answer the phone for business number {i}. Be brief.",
            f"    greeting: Hello, thanks for calling business {i}.",
            "    tools: [lookup_order, transfer_to_human, end_call]",
        ]
    out.append("rules:")
    return out


def _rule_yaml(r: GenRule) -> list[str]:
    out = [
        f"  - name: {r.name}",
        f"    description: {_q(DESCRIPTIONS[int(r.name[-6:]) % len(DESCRIPTIONS)] + ' ' + r.name)}",
        "    when:",
    ]
    if r.guard is not None:
        out.append(f"      {r.guard[0]}: {_q(r.guard[1])}")
    if r.op == "equals":
        out.append(f"      {r.attr}: {_q(r.value)}")
    elif r.op == "prefix":
        out.append(f"      {r.attr}: {{prefix: {_q(r.value)}}}")
    elif r.op == "regex":
        out.append(f"      {r.attr}: {{regex: {_q(r.value)}}}")
    else:
        out.append(f"      expr: {_q(r.value)}")
    out.append(f"    use: {r.use}")
    return out


def rules_yaml(policy: GenPolicy) -> str:
    """Every rule an item of rules.yaml."""
    lines = _head_yaml(policy)
    for r in policy.rules:
        lines += _rule_yaml(r)
    return "\n".join(lines) + "\n"


def write_table_form(policy: GenPolicy, directory: Path) -> Path:
    """rules.yaml with the bulk of per-number rules moved into numbers.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = _head_yaml(policy)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["name", "sip.trunkPhoneNumber", "sip.trunkID", "use"])
    table_written = regions_written = False
    for r in policy.rules:
        if r.section == "bulk":
            if not table_written:
                lines += [
                    "  - name: hosted-numbers",
                    "    description: one row per number we host",
                    "    table: numbers.csv",
                ]
                table_written = True
            phone = r.value if r.attr == "sip.trunkPhoneNumber" else ""
            trunk = r.value if r.attr == "sip.trunkID" else ""
            writer.writerow([r.name, phone, trunk, r.use])
        elif r.section == "regions":
            if not regions_written:
                lines += [
                    "  - name: caller-regions",
                    "    description: one row per caller prefix we route",
                    "    table: regions.csv",
                ]
                regions_written = True
        else:
            lines += _rule_yaml(r)
    (directory / "numbers.csv").write_text(buf.getvalue(), encoding="utf-8")
    regions = [r for r in policy.rules if r.section == "regions"]
    if regions:
        rbuf = io.StringIO()
        rwriter = csv.writer(rbuf, lineterminator="\n")
        rwriter.writerow(["name", "sip.phoneNumber prefix", "use"])
        for r in regions:
            rwriter.writerow([r.name, r.value, r.use])
        (directory / "regions.csv").write_text(rbuf.getvalue(), encoding="utf-8")
    rules = directory / "rules.yaml"
    rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return rules


def write_yaml_form(policy: GenPolicy, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    rules = directory / "rules.yaml"
    rules.write_text(rules_yaml(policy), encoding="utf-8")
    return rules


# -- the naive baseline's view of a rule -----------------------------------------------------


def naive_expression(r: GenRule) -> str:
    """The rule as one simpleeval expression, as a naive engine would store it."""
    if r.op == "equals":
        body = f"get({_q(r.attr)}) == {_q(r.value)}"
    elif r.op == "prefix":
        body = f"startswith(get({_q(r.attr)}), {_q(r.value)})"
    elif r.op == "regex":
        body = f"fullmatch({_q(r.value)}, get({_q(r.attr)}))"
    else:
        body = f"({r.value})"
    if r.guard is not None:
        body = f"get({_q(r.guard[0])}) == {_q(r.guard[1])} and {body}"
    return body
