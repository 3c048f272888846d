#!/usr/bin/env bash
# Instructions per `decide` under valgrind's callgrind (deterministic, unlike timings here):
# the difference between 0 and 5 rounds of 300 callers.
#   bash benchmarks/instructions.sh [MIX [RULES]]   # project (default) or realistic; 1000 rules
set -euo pipefail
cd "$(dirname "$0")/.."
mix=${1:-project}
rules=${2:-1000}
count() {
  valgrind --tool=callgrind --callgrind-out-file=/dev/null .venv/bin/python benchmarks/decide_loop.py "$1" "$mix" "$rules" 2>&1 \
    | awk '/Collected/ {print $4}'
}
base=$(count 0)
five=$(count 5)
echo "$mix, $rules rules: instructions per decision: $(( (five - base) / 1500 ))"
