"""A realistic routing mix (issue 14), written apart from gen.py so that it does not fit the
index by construction: what a platform hosting many businesses writes.

Per 100,000 rules, in file order:

- head (YAML only, shuffled): a small list of tenants, each with any-of tiers
  (`sip.h.x-tenant: acme` + `any: [{sip.h.x-tier: gold}, {sip.h.x-tier: platinum}]`) and a
  catch-all; any-of groups over a dialled number and a custom header (2%); `not` groups
  beside a trunk or a header (1%); regexes on the caller's number (1%; most with a literal
  prefix, a few starting with an alternation); custom header attributes (`sip.h.x-account`
  exact, `sip.h.x-campaign` lists: 6%); country facts beside a tenant (0.2%); a few rules
  for web callers (`kind: standard`);
- bulk (table form: numbers.csv): exact dialled numbers (`sip.trunkPhoneNumber`, 75%) and
  trunks (`sip.trunkID`, 25%);
- tail (table form: regions.csv): caller prefixes on `sip.phoneNumber` (3%).

Callers: two thirds built to match a rule drawn uniformly from the whole file, one third
matching nothing (a third of those with the number hidden).
"""

from __future__ import annotations

import csv
import io
import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE57 = "23456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
COUNTRIES = {"44": ("GB", 10), "49": ("DE", 11), "33": ("FR", 9), "34": ("ES", 9)}
TENANTS = [f"tenant{i:02d}" for i in range(12)]
TIERS = ["bronze", "silver", "gold", "platinum"]
PROFILES = [f"profile-{i:02d}" for i in range(24)]


@dataclass
class Rule:
    name: str
    when: dict[str, Any]
    use: str
    section: str = "head"
    #: how to build a caller that matches it
    caller: dict[str, str] = field(default_factory=dict)


@dataclass
class RealPolicy:
    rules: list[Rule]
    callers: list[tuple[str, dict[str, str]]] = field(default_factory=list)


def _id(rng: random.Random, prefix: str) -> str:
    return prefix + "".join(rng.choice(BASE57) for _ in range(12))


def _digits(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("0123456789") for _ in range(n))


class _Maker:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.count = 0
        self.numbers: set[str] = set()
        self.ids: set[str] = set()
        self.prefixes: set[str] = set()
        self.stems: set[str] = set()  # every proper start of a prefix taken

    def number(self) -> str:
        while True:
            v = "+1" + self.rng.choice("23456789") + _digits(self.rng, 9)
            if v not in self.numbers:
                self.numbers.add(v)
                return v

    def trunk(self) -> str:
        while True:
            v = _id(self.rng, "ST_")
            if v not in self.ids:
                self.ids.add(v)
                return v

    def rule(self, kind: str, when: dict[str, Any], caller: dict[str, str], section: str) -> Rule:
        self.count += 1
        return Rule(f"{kind}-{self.count:07d}", when, self.rng.choice(PROFILES), section, caller)

    def caller_number(self, cc: str, head: str = "") -> str:
        national = COUNTRIES[cc][1]
        return "+" + cc + head + _digits(self.rng, national - len(head))


def _head(m: _Maker, n: int) -> list[Rule]:
    rng = m.rng
    out: list[Rule] = []
    for t in TENANTS:  # a small list of tenants with any-of tiers, then their catch-all
        for a, b in ((TIERS[2], TIERS[3]), (TIERS[0], TIERS[1])):
            out.append(
                m.rule(
                    "tier",
                    {"sip.h.x-tenant": t, "any": [{"sip.h.x-tier": a}, {"sip.h.x-tier": b}]},
                    {"sip.h.x-tenant": t, "sip.h.x-tier": rng.choice((a, b))},
                    "head",
                )
            )
    for _ in range(max(1, n * 2 // 100)):  # any-of: the number dialled, or the header
        number = m.number()
        out.append(
            m.rule(
                "any",
                {"any": [{"sip.trunkPhoneNumber": number}, {"sip.h.x-did": number}]},
                {rng.choice(("sip.trunkPhoneNumber", "sip.h.x-did")): number},
                "head",
            )
        )
    for i in range(max(1, n // 100)):  # not: beside a trunk or a header
        if i % 2:
            trunk = m.trunk()
            when: dict[str, Any] = {"sip.trunkID": trunk, "not": {"caller.country": ["US", "CA"]}}
            caller = {"sip.trunkID": trunk, "sip.phoneNumber": m.caller_number("44")}
        else:
            account = f"acct-{rng.randrange(10**8):08d}"
            when = {"sip.h.x-account": account, "not": {"sip.phoneNumber": {"prefix": "+1900"}}}
            caller = {"sip.h.x-account": account}
        out.append(m.rule("not", when, caller, "head"))
    for i in range(max(1, n // 100)):  # regexes on the caller's number
        cc = rng.choice(list(COUNTRIES))
        head = str(rng.randint(1, 9)) + _digits(rng, rng.randint(1, 3))
        rest = COUNTRIES[cc][1] - len(head) - 1
        if i % 20 == 0:  # an alternation: no literal prefix
            pattern = rf"(\+|00){cc}{head}[0-4]\d{{{rest}}}"
        else:
            pattern = rf"\+{cc}{head}[0-4]\d{{{rest}}}"
        out.append(
            m.rule(
                "regex",
                {"sip.phoneNumber": {"regex": pattern}},
                {"sip.phoneNumber": "+" + cc + head + rng.choice("01234") + _digits(rng, rest)},
                "head",
            )
        )
    for i in range(max(1, n * 6 // 100)):  # custom header attributes
        if i % 3:
            account = f"acct-{rng.randrange(10**8):08d}"
            out.append(
                m.rule("header", {"sip.h.x-account": account}, {"sip.h.x-account": account}, "head")
            )
        else:
            campaigns = [f"cmp-{rng.randrange(10**7):07d}" for _ in range(rng.randint(1, 3))]
            out.append(
                m.rule(
                    "header",
                    {"sip.h.x-campaign": campaigns},
                    {"sip.h.x-campaign": rng.choice(campaigns)},
                    "head",
                )
            )
    for _ in range(max(1, n // 500)):  # country facts beside a tenant
        cc = rng.choice(list(COUNTRIES))
        t = rng.choice(TENANTS)
        out.append(
            m.rule(
                "country",
                {"sip.h.x-tenant": t, "caller.country": COUNTRIES[cc][0]},
                {"sip.h.x-tenant": t, "sip.phoneNumber": m.caller_number(cc)},
                "head",
            )
        )
    rng.shuffle(out)
    for t in TENANTS:
        out.append(m.rule("tenant", {"sip.h.x-tenant": t}, {"sip.h.x-tenant": t}, "head"))
    for _ in range(3):  # web and app users
        room = _id(rng, "room-")
        out.append(
            m.rule(
                "web",
                {"kind": "standard", "x-room": room},
                {"x-room": room, "kind": "standard"},
                "head",
            )
        )
    return out


def _prefix(m: _Maker) -> tuple[str, str]:
    """A caller prefix no other prefix starts or extends, and its country code."""
    rng = m.rng
    while True:
        cc = rng.choice(list(COUNTRIES))
        p = "+" + cc + rng.choice("123456789") + _digits(rng, rng.randint(1, 4))
        if p in m.stems or any(p[:k] in m.prefixes for k in range(3, len(p) + 1)):
            continue
        m.prefixes.add(p)
        m.stems.update(p[:k] for k in range(3, len(p)))
        return p, cc


def generate(n: int, seed: int = 14, callers: int = 300) -> RealPolicy:
    rng = random.Random(seed * 1_000_003 + n)
    m = _Maker(rng)
    head = _head(m, n)
    n_prefix = max(1, n * 3 // 100)
    n_bulk = max(1, n - len(head) - n_prefix)
    bulk: list[Rule] = []
    for _ in range(n_bulk):
        if rng.random() < 0.75:
            v = m.number()
            bulk.append(
                m.rule("number", {"sip.trunkPhoneNumber": v}, {"sip.trunkPhoneNumber": v}, "bulk")
            )
        else:
            v = m.trunk()
            bulk.append(m.rule("trunk", {"sip.trunkID": v}, {"sip.trunkID": v}, "bulk"))
    tail: list[Rule] = []
    for _ in range(n_prefix):
        p, cc = _prefix(m)
        caller = {"sip.phoneNumber": m.caller_number(cc, p[1 + len(cc) :])}
        tail.append(m.rule("region", {"sip.phoneNumber": {"prefix": p}}, caller, "tail"))
    pol = RealPolicy(head + bulk + tail)
    pol.callers = _callers(pol, rng, callers)
    return pol


def _background(rng: random.Random, hidden: bool) -> dict[str, str]:
    attrs = {
        "sip.callID": _id(rng, "SCL_"),
        "sip.callStatus": "ringing",
        "sip.ruleID": _id(rng, "SDR_"),
        "sip.trunkID": _id(rng, "ST_"),
        "sip.trunkPhoneNumber": "+1" + "1" + _digits(rng, 9),  # no generated number starts 11
        "sip.phoneNumber": "+1" + "1" + _digits(rng, 9),
        "sip.hostname": "sip.example.net",
        "sip.h.x-tenant": "tenant-none",
        "sip.h.x-account": "acct-none",
    }
    if hidden:
        del attrs["sip.phoneNumber"]
    return attrs


def _callers(pol: RealPolicy, rng: random.Random, count: int) -> list[tuple[str, dict[str, str]]]:
    out: list[tuple[str, dict[str, str]]] = []
    for i in range(count):
        if i % 3 == 2:
            out.append(("none", _background(rng, hidden=i % 9 == 2)))
            continue
        rule = rng.choice(pol.rules)
        attrs = _background(rng, hidden=False)
        attrs.update({k: v for k, v in rule.caller.items() if k != "kind"})
        out.append((rule.caller.get("kind", "sip") + ":" + rule.name, attrs))
    return out


def kind_of(label: str) -> str:
    return label.split(":", 1)[0] if ":" in label else "sip"


# -- writing ------------------------------------------------------------------------------


def _q(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _block(value: Any, indent: int) -> list[str]:
    """`value` as block YAML (mappings, lists of mappings, flow lists of texts)."""
    pad = " " * indent
    out: list[str] = []
    for key, v in value.items():
        if isinstance(v, dict):
            out.append(f"{pad}{key}:")
            out += _block(v, indent + 2)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(f"{pad}{key}:")
            for item in v:
                lines = _block(item, indent + 4)
                out.append(f"{pad}  - {lines[0].lstrip()}")
                out += lines[1:]
        elif isinstance(v, list):
            out.append(f"{pad}{key}: [{', '.join(_q(x) for x in v)}]")
        else:
            out.append(f"{pad}{key}: {_q(v)}")
    return out


def _head_yaml() -> list[str]:
    out = [
        "version: 1",
        "attributes:",
        "  sip.h.x-tenant: {description: tenant from the X-Tenant header}",
        "  sip.h.x-tier: {description: service tier from the X-Tier header}",
        "  sip.h.x-did: {description: the number dialled as the X-DID header says}",
        "  sip.h.x-account: {description: account from the X-Account header}",
        "  sip.h.x-campaign: {description: marketing campaign from the X-Campaign header}",
        "  x-room: {description: the web room a browser caller joined from}",
        "defaults:",
        "  stt: deepgram/nova-2-phonecall",
        "  llm: openai/gpt-4.1-mini",
        "  tts: cartesia/sonic-2",
        "  instructions: You are a helpful voice assistant. Keep answers short.",
        "  tools: [end_call]",
        "profiles:",
    ]
    for i, p in enumerate(PROFILES):
        out += [
            f"  {p}:",
            f"    instructions: You answer the phone for business {i}. Be brief.",
            f"    greeting: Hello, thanks for calling business {i}.",
            "    tools: [lookup_order, transfer_to_human, end_call]",
        ]
    out.append("rules:")
    return out


def _rule_yaml(r: Rule) -> list[str]:
    return [
        f"  - name: {r.name}",
        f"    description: {_q('routes ' + r.name)}",
        "    when:",
        *_block(r.when, 6),
        f"    use: {r.use}",
    ]


def write_yaml_form(pol: RealPolicy, directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    lines = _head_yaml()
    for r in pol.rules:
        lines += _rule_yaml(r)
    out = directory / "rules.yaml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def write_table_form(pol: RealPolicy, directory: Path) -> Path:
    """The head in YAML; the numbers and trunks in numbers.csv, the prefixes in regions.csv."""
    directory.mkdir(parents=True, exist_ok=True)
    lines = _head_yaml()
    numbers = io.StringIO()
    nw = csv.writer(numbers, lineterminator="\n")
    nw.writerow(["name", "sip.trunkPhoneNumber", "sip.trunkID", "use"])
    regions = io.StringIO()
    rw = csv.writer(regions, lineterminator="\n")
    rw.writerow(["name", "sip.phoneNumber prefix", "use"])
    written: set[str] = set()
    for r in pol.rules:
        if r.section == "head":
            lines += _rule_yaml(r)
            continue
        table = "numbers.csv" if r.section == "bulk" else "regions.csv"
        if table not in written:
            written.add(table)
            lines += [f"  - name: {table[:-4]}", f"    table: {table}"]
        if r.section == "bulk":
            when = r.when
            nw.writerow(
                [r.name, when.get("sip.trunkPhoneNumber", ""), when.get("sip.trunkID", ""), r.use]
            )
        else:
            rw.writerow([r.name, r.when["sip.phoneNumber"]["prefix"], r.use])
    (directory / "numbers.csv").write_text(numbers.getvalue(), encoding="utf-8")
    (directory / "regions.csv").write_text(regions.getvalue(), encoding="utf-8")
    out = directory / "rules.yaml"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out
