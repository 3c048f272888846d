"""`make bench`: what one decision log line costs, against the size of the caller's headers
and against the number of callers the process has already seen; and the size of the line.

Each line goes through livekit-agents' production JSON formatter with our masking filter, as
in a worker. Every caller is new (its values are remembered, as in a worker). Median of
`--repeat` lines, in milliseconds of wall time on this machine (compare rows, not machines).

Usage: python benchmarks/logs_bench.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import io
import logging
import statistics
import time

from livekit.agents.cli.log import JsonFormatter

import policy
from policy.logs import forget_all, get_logger, install_stdlib_masking, log_decision, remember

RULES = "defaults:\n  llm: openai/gpt-4.1-mini\nrules:\n  - name: a\n    when: {kind: sip}\n"


def header(n: int, size: int) -> dict[str, str]:
    words, length = [], 0
    i = 0
    while length < size:
        word = f"c{n}w{i}"
        words.append(word)
        length += len(word) + 1
        i += 1
    return {"sip.h.x-note": " ".join(words), "sip.phoneNumber": "+14155550123"}


def one_line(p: policy.Policy, attrs: dict[str, str], out: io.StringIO, log: object) -> float:
    began = time.perf_counter()
    log_decision(p.decide(attrs, "sip"), identity="sip_+14155550123", kind="sip",
                 attributes=attrs, room="call-+14155550123", logger=log)  # fmt: skip
    return (time.perf_counter() - began) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    install_stdlib_masking([handler])
    logger = logging.getLogger("sip_policy.bench")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    log = get_logger("sip_policy.bench")
    p = policy.loads(RULES)
    caller = iter(range(10**9))

    print("decision log vs header size (no caller seen before)")
    print(f"{'header':>10} {'ms/line':>9} {'line bytes':>11}")
    for size in (1024, 60 * 1024, 1024 * 1024):
        forget_all()
        times = []
        for _ in range(args.repeat):
            out.seek(0)
            out.truncate()
            times.append(one_line(p, header(next(caller), size), out, log))
        print(f"{size:>10} {statistics.median(times):>9.2f} {len(out.getvalue()):>11}")

    print("\ndecision log vs callers already seen (60 KB headers)")
    print(f"{'seen':>10} {'ms/line':>9}")
    forget_all()
    seen = 0
    for target in (0, 40, 1000):
        while seen < target:
            remember(header(next(caller), 60 * 1024))
            seen += 1
        times = [one_line(p, header(next(caller), 60 * 1024), out, log) for _ in range(args.repeat)]
        seen += args.repeat
        print(f"{target:>10} {statistics.median(times):>9.2f}")

    print("\none caller with 10,000 headers")
    many = {f"sip.h.x-header-{i}": f"value {i}" for i in range(10_000)}
    out.seek(0)
    out.truncate()
    ms = one_line(p, many, out, log)
    print(f"{'':>10} {ms:>9.2f} ms, line {len(out.getvalue())} bytes")


if __name__ == "__main__":
    main()
