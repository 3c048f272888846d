"""Where the constant costs go: phone attributes in `decide`, phone normalization in `load`.

    .venv/bin/python benchmarks/breakdown.py            # about a minute

Decisions: the same 1,000-rule policy and callers as `make bench`, with and without the two
phone attributes (which `policy.phone` reads through libphonenumber). Loading: the 100,000
rule table form, as is and with `PhoneSource.normalize` replaced by the identity (valid for
these literals, which are already E.164), each in a fresh process.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import gen

import policy

LOAD = """
import sys, time
import policy
from policy import phone
if sys.argv[2] == "identity":
    phone.PhoneSource.normalize = lambda self, value: value  # type: ignore[method-assign]
t = time.perf_counter()
policy.load(sys.argv[1])
print(f"{time.perf_counter() - t:.2f}")
"""


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="sip-policy-breakdown-") as tmp:
        g = gen.generate(1000)
        p = policy.load(gen.write_table_form(g, Path(tmp) / "small"))
        callers = [a for _, a in g.callers]
        bare = [{k: v for k, v in a.items() if "honeNumber" not in k} for a in callers]
        for label, cs in (("as generated", callers), ("without the phone attributes", bare)):
            best = min(timeit.repeat(lambda cs=cs: [p.decide(a) for a in cs], number=5, repeat=5))
            print(f"decide, 1,000 rules, callers {label}: {best / (5 * len(cs)) * 1e6:.1f} µs")
        rules = gen.write_table_form(gen.generate(100_000), Path(tmp) / "big")
        for mode in ("real", "identity"):
            out = subprocess.run(
                [sys.executable, "-c", LOAD, str(rules), mode],
                capture_output=True,
                text=True,
                check=True,
            )
            what = "as is" if mode == "real" else "phone literals not normalized"
            print(f"load, 100,000 rules (table form), {what}: {out.stdout.strip()} s")


if __name__ == "__main__":
    main()
