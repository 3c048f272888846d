"""A naive policy engine, kept only to prove that the hostile cases test something.

It is what one writes in an afternoon: `yaml.safe_load`, Python's `re`, simpleeval with its
defaults, and `str.format` for placeholders (fill `{{ name }}`, then format, so rule authors
may also write `{name}`). `test_hostile_naive.py` runs the same cases through it in a subprocess with
a CPU-time and memory limit and checks that each case marked `naive:` breaks it: it runs out of
CPU, dies, raises out of `decide`, refuses nothing, or answers differently.

    python naive_engine.py CASE_ID   prints the naive result as JSON
"""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path
from typing import Any

import yaml
from simpleeval import simple_eval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hostile_harness import attribute_sets, build, case_by_id

PLACEHOLDER = re.compile(r"\{\{\s*([^{}|]*?)\s*(?:\|\s*([^{}]*?)\s*)?\}\}")


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, attrs: dict[str, Any]) -> str:
    text = PLACEHOLDER.sub(lambda m: str(attrs.get(m[1]) or m[2] or ""), template)
    return text.format_map(_Blank(attrs))


def test_one(key: str, spec: Any, attrs: dict[str, Any], kind: str) -> bool:
    if key == "expr":
        return bool(simple_eval(spec, names={"attrs": attrs, "kind": kind}))
    if key == "kind":
        return kind in (spec if isinstance(spec, list) else [spec])
    if key in ("all", "any"):
        results = [all(test_one(k, v, attrs, kind) for k, v in s.items()) for s in spec]
        return all(results) if key == "all" else any(results)
    if key == "not":
        return not all(test_one(k, v, attrs, kind) for k, v in spec.items())
    value = attrs.get(key)
    if not isinstance(spec, dict):
        return value in (spec if isinstance(spec, list) else [spec])
    for op, arg in spec.items():
        if not _operator(op, arg, key, value, attrs):
            return False
    return True


def _operator(op: str, arg: Any, key: str, value: Any, attrs: dict[str, Any]) -> bool:
    args = tuple(arg) if isinstance(arg, list) else (arg,)
    if op == "equals":
        return value == arg
    if op == "one_of":
        return value in args
    if op == "prefix":
        return value.startswith(args)
    if op == "suffix":
        return value.endswith(args)
    if op == "contains":
        return any(a in value for a in args)
    if op == "regex":
        return re.fullmatch(arg, value) is not None
    if op == "exists":
        return (key in attrs) == arg
    if op == "missing":
        return (key not in attrs) == arg
    raise ValueError(op)


def decide(data: dict[str, Any], attrs: dict[str, Any], kind: str) -> dict[str, Any]:
    chosen = None
    for rule in data.get("rules") or []:
        when = rule.get("when") or {}
        if all(test_one(k, v, attrs, kind) for k, v in when.items()):
            chosen = rule
            break
    fields = dict(data.get("defaults") or {})
    if chosen is not None:
        fields.update((data.get("profiles") or {}).get(chosen.get("use"), {}) or {})
        fields.update(chosen.get("set") or {})
    return {
        "rule": chosen["name"] if chosen else None,
        "instructions": fill(str(fields.get("instructions") or ""), attrs),
        "greeting": fill(str(fields.get("greeting") or ""), attrs),
    }


def run(case_id: str) -> dict[str, Any]:
    case = case_by_id(case_id)
    text = build(case.rules)
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        return {"outcome": "error", "line": mark.line + 1 if mark else 0, "message": str(exc)}
    json.loads(json.dumps(data))  # "validate" the loaded configuration, as a schema check would
    decisions = []
    for attrs in attribute_sets(case):
        start = time.thread_time()  # CPU time: the same on a busy machine as on an idle one
        d = decide(data, attrs, case.kind)
        d["cpu_ms"] = (time.thread_time() - start) * 1000
        decisions.append(d)
    return {"outcome": "loaded", "decisions": decisions}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1]), default=str))
