"""Renderers: deterministic, read-only, the rich form shows the same text as the plain form."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from pydantic import ValidationError
from rich.console import Console

from reconciler.plan import load_plan
from reconciler.plan.model import Action, DrainParams, Step
from reconciler.plan.render import render_json, render_markdown, render_rich, render_text

GOLDEN = Path(__file__).parent / "golden"


def _plan(case: str):  # type: ignore[no-untyped-def]
    return load_plan((GOLDEN / case / "plan.json").read_text())


@pytest.mark.parametrize("case", ["replace_gpu_type", "unmanaged_member", "no_changes"])
def test_rich_rendering_has_the_plain_text(case: str) -> None:
    plan = _plan(case)
    out = io.StringIO()
    Console(file=out, width=300, color_system=None, force_terminal=False).print(render_rich(plan))
    assert [line.rstrip() for line in out.getvalue().splitlines()] == render_text(plan).splitlines()


def test_colour_only_when_asked() -> None:
    out = io.StringIO()
    console = Console(file=out, width=300, force_terminal=True, color_system="standard")
    console.print(render_rich(_plan("delete_member")))
    assert "\x1b[" in out.getvalue()
    assert "\x1b[" not in render_text(_plan("delete_member"))


def test_markdown_is_compact_and_collapsible() -> None:
    md = render_markdown(_plan("replace_gpu_type"))
    assert md.count("<details>") == md.count("</details>") == 1
    assert "| `llm_a10` | - → grouping | – → 2 | – | 0.0 → 100.0 |" in md
    assert len(md) < 2000


def test_json_is_the_model_dump() -> None:
    plan = _plan("auto_to_customized")
    assert render_json(plan) == plan.model_dump_json(indent=2) + "\n"


def test_step_params_must_match_the_action() -> None:
    with pytest.raises(ValidationError, match="params are for drain"):
        Step(index=1, action=Action.DELETE_SERVICE, service="a", params=DrainParams())
    with pytest.raises(ValidationError, match="needs a service"):
        Step(index=1, action=Action.DRAIN, service=None, params=DrainParams())
