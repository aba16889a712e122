"""The pull-request comment: within GitHub's limit however large the plan, every changed group named,
versions in the table, unchanged groups in one line, a note of what was left out; the mermaid chart."""

from __future__ import annotations

import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from reconciler.analysis.gates import ErrorRateGate
from reconciler.gitops import github
from reconciler.plan import build_plan
from reconciler.plan.model import Action, GroupPlan, Plan, PlanWarning, Step, TimelineEntry, WarningCode
from reconciler.plan.render import render_markdown
from reconciler.plan.render.chart import chart_block, chart_points, hold_note, mermaid_chart
from reconciler.plan.render.fit import fit_items, shorten
from reconciler.plan.render.markdown import COMMENT_BUDGET, COMMENT_LIMIT, MIN_LIMIT

from .factory import group, live, svc

GOLDEN = Path(__file__).parent / "comment_golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def many(changed: int, unchanged: int = 0, members: int = 2) -> Plan:
    """`changed` groups whose last member gets a new model (v1 -> v2), plus `unchanged` groups as they are."""
    desired, lived = [], []
    for i in range(changed + unchanged):
        name = f"group_{i:03d}" if i < changed else f"quiet_{i:03d}"
        old = [svc(f"m{j}_{i:03d}", replicas=4 if j == 0 else 1) for j in range(members)]
        new = [*old[:-1], svc(f"m{members - 1}_{i:03d}", replicas=1, version="v2")] if i < changed else old
        desired.append(group(name, new))
        lived.append((name, old, "auto"))
    return build_plan(desired, live(*lived))


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(exist_ok=True)
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs (UPDATE_GOLDEN=1 to accept on purpose)"


@pytest.fixture(scope="module")
def big() -> Plan:
    return many(400, unchanged=30)


def test_400_changed_groups_fit_one_comment_and_every_group_is_named(big: Plan) -> None:
    text = render_markdown(big)
    assert COMMENT_BUDGET < COMMENT_LIMIT
    assert len(text) <= COMMENT_BUDGET
    rows = [line for line in text.splitlines() if line.startswith("| `cn-shanghai/group_")]
    assert len(rows) == 400
    for i in range(400):
        assert f"`cn-shanghai/group_{i:03d}`" in text
    assert all("…/v1.pmml → …/v2.pmml" in row for row in rows)  # the version change is in the table itself
    assert "No changes in 30 groups: `cn-shanghai/quiet_400`" in text
    assert "#### group cn-shanghai/quiet_" not in text
    assert "job summary" in text.splitlines()[-1] and "Left out" in text.splitlines()[-1]


def test_details_are_kept_while_they_fit_and_the_rest_is_listed(big: Plan) -> None:
    text = render_markdown(big)
    sections = re.findall(r"^#### group cn-shanghai/(group_\d+)", text, flags=re.M)
    assert sections and len(sections) < 400
    left = re.search(r"the details of (\d+) groups", text)
    assert left is not None and int(left.group(1)) == 400 - len(sections)
    full = render_markdown(big, limit=None)
    assert len(re.findall(r"^#### group ", full, flags=re.M)) == 400 and "Left out" not in full


def test_a_small_limit_is_respected_and_a_smaller_one_refused() -> None:
    plan = many(40, members=3)
    for limit in (MIN_LIMIT, 12_000, 30_000):
        text = render_markdown(plan, limit=limit)
        assert len(text) <= limit
        assert all(f"`cn-shanghai/group_{i:03d}`" in text for i in range(40))
    with pytest.raises(ValueError, match="comment limit"):
        render_markdown(plan, limit=MIN_LIMIT - 1)


@pytest.mark.parametrize(("groups", "members"), [(1000, 2), (1500, 1)])
def test_thousands_of_groups_still_fit_and_count_the_rows_left_out(groups: int, members: int) -> None:
    plan = many(groups, members=members)
    text = render_markdown(plan)
    assert len(text) <= COMMENT_BUDGET
    more = re.search(r"\| … (\d+) more groups \|", text)
    shown = len([line for line in text.splitlines() if line.startswith("| `cn-shanghai/group_")])
    assert more is not None and shown + int(more.group(1)) == groups
    assert f"the table rows of {more.group(1)} groups" in text


def test_many_plan_warnings_take_an_eighth_of_the_comment_and_are_counted() -> None:
    plan = many(3)
    warnings = tuple(PlanWarning(code=WarningCode.UNKNOWN_GROUP, region="cn-shanghai", group=f"nope_{i}",
                                 message=f"no group nope_{i} is declared or live: check the name") for i in range(3000))
    text = render_markdown(plan.model_copy(update={"warnings": warnings}))
    assert len(text) <= COMMENT_BUDGET
    kept = text.count("> ⚠️ no group nope_")
    assert kept > 0 and kept * 60 <= COMMENT_BUDGET // 8 + 60
    assert f"{3000 - kept} plan warnings" in text.splitlines()[-1]
    assert all(f"`cn-shanghai/group_{i:03d}`" in text for i in range(3))


def test_truncated_comment_golden_and_its_full_summary() -> None:
    plan = many(6, unchanged=2, members=3)
    comment = render_markdown(plan, limit=MIN_LIMIT)
    assert len(comment) <= MIN_LIMIT
    golden("truncated_comment.md", comment)
    summary = github.plan_summary(plan)  # the job summary: the same plan with nothing left out
    assert "Left out" not in summary and summary.count("#### group ") == 6
    golden("job_summary.md", summary)


def test_fit_items_and_shorten() -> None:
    assert fit_items(["a", "b", "c"], 100) == "a, b, c"
    assert fit_items(["aaaa", "bbbb", "cccc"], 15) == "aaaa, +2 more"
    assert fit_items(["aaaa", "bbbb"], 0) == "+2 more"
    assert shorten("oss://bucket/models/v3.pmml") == "…/v3.pmml"
    assert shorten("registry.example.com/ns/app:1.2") == "…/app:1.2"
    assert shorten("x" * 50, 10) == "x" * 9 + "…"


# ---- the chart ----------------------------------------------------------------------------------------------


def _canary_plan() -> GroupPlan:
    return many(1).groups[0]


def test_chart_has_a_point_per_share_move_and_a_line_per_member() -> None:
    g = _canary_plan()
    lines = chart_block(g)
    assert lines[0] == "```mermaid" and lines[2] == "xychart-beta"
    moves = [t.step for prev, t in zip(g.timeline, g.timeline[1:], strict=False) if t.shares != prev.shares]
    x_axis = next(line for line in lines if line.strip().startswith("x-axis"))
    assert x_axis == '    x-axis "step" [' + ", ".join(['"now"', *(f'"{m}"' for m in moves)]) + "]"
    series = [line for line in lines if line.strip().startswith("line [")]
    assert len(series) == len(g.members_now)
    assert series[-1] == "    line [20, 0, 20]"  # the canary drained, then back
    assert "Lines: 🟦 `m0_000` · 🟧 `m1_000`" in lines


def test_chart_of_steps_without_share_moves_ends_flat() -> None:
    g = _canary_plan()
    flat = g.model_copy(update={"timeline": (g.timeline[0],)})
    assert [p.label for p in chart_points(flat)] == ["now", "end"]
    assert chart_block(flat.model_copy(update={"steps": ()})) == []


def _bake_step(index: int) -> Any:
    """A stand-in for a rollout's bake step: only its parameters matter to the chart."""
    params = SimpleNamespace(step=1, of=2, share=10.0, canary="m1_000", bake_seconds=600,
                             analysis=SimpleNamespace(metrics=[ErrorRateGate(name="error_rate", max=1.0)]))
    return Step.model_construct(index=index, action=Action.WAIT_RUNNING, service="m1_000", params=params)


def test_a_bake_step_is_a_point_with_its_gate_text() -> None:
    g = _canary_plan()
    last = g.steps[-1].index
    steps = (*g.steps, _bake_step(last + 1))
    timeline = (*g.timeline, TimelineEntry(step=last + 1, shares=g.timeline[-1].shares))
    baked = g.model_copy(update={"steps": steps, "timeline": timeline})
    points = chart_points(baked)
    assert points[-1].label == f"{last + 1} bake"
    assert points[-1].note == "rollout step 1/2, m1_000 at 10 %, bake 10m; gates: error_rate <= 1 %"
    assert f"- `{last + 1} bake`: rollout step 1/2" in "\n".join(chart_block(baked))
    assert hold_note(g.steps[0]) is None


def test_mermaid_labels_cannot_break_out_of_their_quotes() -> None:
    from reconciler.plan.render.chart import ChartPoint

    lines = mermaid_chart('a "b"', [ChartPoint('x"y', {"m": 50.0})])
    assert '    title "a \'b\'"' in lines and '"x\'y"' in lines[4]
