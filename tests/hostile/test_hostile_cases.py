"""Every case in `cases/*.yaml` holds against the real engine (see hostile_harness.py)."""

from __future__ import annotations

import pytest
from hostile_harness import Case, load_cases, problems, run_engine, run_isolated

CASES = load_cases()


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case(case: Case) -> None:
    result = run_isolated(case) if case.isolate else run_engine(case)
    assert result.get("outcome") != "crash", f"{case.note}\n{result}"
    found = problems(case, result)
    assert not found, f"{case.id}: {case.note}\n" + "\n".join(found)


def test_every_point_has_cases() -> None:
    points = {c.point for c in CASES}
    assert points >= {1, 2, 3, 4, 5}, points
