#!/usr/bin/env bash
# Instructions per `decide` under valgrind's callgrind (deterministic, unlike timings here):
# the difference between 0 and 5 rounds of 300 callers over a 1,000-rule policy.
#   bash benchmarks/instructions.sh        # about a minute
set -euo pipefail
cd "$(dirname "$0")/.."
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python benchmarks/decide_loop.py "$1" 2>&1 \
    | awk '/Collected/ {print $4}'
}
base=$(count 0)
five=$(count 5)
echo "instructions per decision: $(( (five - base) / 1500 ))"
