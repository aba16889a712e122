"""Golden files: the same desired + live state give the same plan, byte for byte (UPDATE_GOLDEN=1 rewrites)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.plan import load_plan

from .harness import cases, compare, run_case


@pytest.mark.parametrize("case", cases(), ids=lambda p: p.name)
def test_golden_case(case: Path) -> None:
    outputs = run_case(case)
    assert ("plan.json" in outputs) != ("error.txt" in outputs)
    stale = compare(case, outputs)
    assert not stale, f"{case.name}: {stale} differ from the golden files (UPDATE_GOLDEN=1 to accept on purpose)"


@pytest.mark.parametrize("case", [c for c in cases() if (c / "plan.json").exists()], ids=lambda p: p.name)
def test_golden_plan_json_round_trips(case: Path) -> None:
    outputs = run_case(case)
    plan = load_plan(outputs["plan.json"])
    assert plan.model_dump_json(indent=2) + "\n" == outputs["plan.json"]
