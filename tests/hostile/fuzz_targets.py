"""Hypothesis strategies and fuzz targets shared by the hostile property tests.

`python fuzz_targets.py loader N` fuzzes the loader with N examples in this process and
exits non-zero on the first counterexample; the tests run it in a subprocess so that a
crash of libyaml (a segfault) is reported instead of killing the test run.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

#: CPU seconds (`time.thread_time`) for one load and decision. A load of a small file takes
#: milliseconds (the first, which imports phone metadata, about 0.25 s); a quadratic or
#: exponential path would take seconds on these sizes. CPU time, not wall-clock time, so a
#: busy machine does not change the verdict.
LOAD_CPU_BOUND_S = 2.0

_YAML_TOKENS = [
    "rules:",
    "defaults:",
    "profiles:",
    "attributes:",
    "settings:",
    "schedules:",
    "version: 1",
    "- name: r",
    "  when:",
    "    sip.phoneNumber:",
    "    expr:",
    "  use: p",
    "  set:",
    "    instructions:",
    " {{ customer.name | x }}",
    ' {prefix: "+1510"}',
    " {regex: '(a+)+'}",
    "- ",
    "- - ",
    "? ",
    ": ",
    "[",
    "]",
    "{",
    "}",
    ",",
    "&a ",
    "*a",
    "<<: ",
    "!!python/object:os.system ",
    "!!binary ",
    "!tag ",
    "'",
    '"',
    "|",
    ">",
    "#",
    "\n",
    "\n  ",
    "\n    ",
    "\t",
    "\x00",
    "\ufeff",
    "+15105550100",
    "0207",
    "yes",
    "2024-01-31",
    "1e999",
    "~",
    "null",
    "9" * 40,
    "\u202e",
    "é",
    "%YAML 1.1\n",
    "---\n",
    "...\n",
    "\\",
    "\\u0000",
    "enabled: maybe",
    "tools: [a, 1]",
]


def yaml_texts() -> st.SearchStrategy[str]:
    """Text that looks enough like a rules file to get past the first parser checks."""
    sample = (ROOT / "rules.yaml").read_text(encoding="utf-8")
    tokens = st.lists(st.sampled_from(_YAML_TOKENS) | st.text(max_size=8), max_size=60)

    @st.composite
    def mutated(draw: st.DrawFn) -> str:
        text = sample
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(text)))
            cut = draw(st.integers(0, 40))
            insert = "".join(draw(tokens))
            text = text[:at] + insert + text[at + cut :]
        return text

    deep = st.builds(
        lambda head, unit, n, tail: head + unit * n + tail,
        st.sampled_from(["", "rules: []\n", "defaults:\n  metadata:\n    x:\n      "]),
        st.sampled_from(["- ", "? ", "[", "{a: ", "- ? ", "[{", "-  - ", ": "]),
        st.integers(0, 50_000),
        st.sampled_from(["", "x", "x\n"]),
    )
    return st.one_of(tokens.map("".join), mutated(), deep, st.text(max_size=200))


def fuzz_loader(examples: int) -> None:
    import policy
    from policy.errors import PolicyError

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(yaml_texts())
    def load_never_raises(text: str) -> None:
        start = time.thread_time()
        try:
            compiled = policy.loads(text, file="fuzz.yaml", base_dir=ROOT)
        except PolicyError as exc:
            assert exc.errors, "a PolicyError names at least one error"
            exc.render()
        else:
            compiled.decide({"sip.phoneNumber": "+15105550100"})
        assert time.thread_time() - start < LOAD_CPU_BOUND_S

    load_never_raises()


if __name__ == "__main__":
    target, examples = sys.argv[1], int(sys.argv[2])
    {"loader": fuzz_loader}[target](examples)
    print(f"{target}: {examples} examples, no counterexample")
