"""A mermaid chart of one group's shares over its steps, for pull-request comments and job summaries.

GitHub renders ```` ```mermaid ```` blocks wherever it renders Markdown. The chart is an
`xychart-beta` line chart: x is the plan's progress (`now`, then `n` = right after step n, `end`),
y is the share of group traffic in percent (0-100), one line per member. xychart draws no legend,
so the colours are fixed with an init directive (theme `base`, the only theme that takes
variables, and `plotColorPalette`) and a legend line under the chart shows a matching coloured
square per member.

Which steps get a point: `now`, every step that moves a share, every step that holds the shares for
a while (a rollout's bake: any step whose parameters carry `bake_seconds`, labelled with its gate
text), and the end of the plan. Steps are read generically (their parameters, not their action
names), so a new kind of holding step shows without a change here, and a plan without any rollout
charts its share moves only.

Labels are quoted; a `"` inside a name is replaced (mermaid strings cannot escape it). More than
`MAX_LINES` members share the last colour (a setting: the palette has that many distinct colours).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.analysis.duration_text import format_duration
from reconciler.plan.model import GroupPlan, Step

# (hex colour for mermaid, the emoji square that looks like it, for the legend)
PALETTE: tuple[tuple[str, str], ...] = (
    ("#1f77b4", "🟦"), ("#ff7f0e", "🟧"), ("#2ca02c", "🟩"), ("#d62728", "🟥"),
    ("#9467bd", "🟪"), ("#8c564b", "🟫"), ("#e6b800", "🟨"), ("#333333", "⬛"),
)
MAX_LINES = len(PALETTE)


@dataclass(frozen=True)
class ChartPoint:
    """One x position: its label, every member's share there, and a note (a bake's duration and gates)."""

    label: str
    shares: Mapping[str, float]
    note: str = ""


def hold_note(step: Step) -> str | None:
    """`rollout step 1/3, c at 10 %, bake 10m; gates: error_rate <= 1 %` for a step that holds the shares for a
    while (every part but the duration only when the parameters carry it); None for any other step."""
    params: Any = step.params
    seconds = getattr(params, "bake_seconds", None)
    if not isinstance(seconds, int | float):
        return None
    gates = [g.describe() for g in getattr(getattr(params, "analysis", None), "metrics", ()) or ()]
    share, canary = getattr(params, "share", None), getattr(params, "canary", None)
    number, total = getattr(params, "step", None), getattr(params, "of", None)
    parts = [f"rollout step {number}/{total}"] if isinstance(number, int) and isinstance(total, int) else []
    if isinstance(share, int | float) and canary:
        parts.append(f"{canary} at {share:g} %")
    parts.append(f"bake {format_duration(float(seconds))}")
    return ", ".join(parts) + (f"; gates: {', '.join(gates)}" if gates else "")


def chart_points(group: GroupPlan) -> list[ChartPoint]:
    """`now`, each share move, each holding step, and the end: the shares the chart draws."""
    by_step = {t.step: t.shares for t in group.timeline}
    shares = dict(by_step.get(0, {m.name: m.share for m in group.members_now}))
    points = [ChartPoint("now", shares)]
    charted = 0  # the step of the last point (0 = now)
    for step in group.steps:
        after = by_step.get(step.index, shares)
        note = hold_note(step)
        if after != shares or note is not None:
            label = f"{step.index}" + (" bake" if note is not None else "")
            points.append(ChartPoint(label, after, note or ""))
            charted = step.index
        shares = dict(after)
    if not group.steps or charted != group.steps[-1].index:
        points.append(ChartPoint("end", shares))
    return points


def _quoted(text: str) -> str:
    return '"' + text.replace('"', "'") + '"'


def _number(share: float) -> str:
    return f"{share:.1f}".rstrip("0").rstrip(".")


def members_of(points: list[ChartPoint]) -> list[str]:
    """Every member that appears in any point, in first-seen order."""
    seen: dict[str, None] = {}
    for p in points:
        seen.update(dict.fromkeys(p.shares))
    return list(seen)


def mermaid_chart(title: str, points: list[ChartPoint]) -> list[str]:
    """The fenced mermaid block (lines), one line series per member; no legend (see `legend`)."""
    members = members_of(points)
    colours = ", ".join(PALETTE[min(i, MAX_LINES - 1)][0] for i in range(len(members)))
    out = ["```mermaid",
           '%%{init: {"theme": "base", "themeVariables": {"xyChart": {"plotColorPalette": "' + colours + '"}}}}%%',
           "xychart-beta",
           f"    title {_quoted(title)}",
           '    x-axis "step" [' + ", ".join(_quoted(p.label) for p in points) + "]",
           '    y-axis "share %" 0 --> 100']
    out += ["    line [" + ", ".join(_number(p.shares.get(m, 0.0)) for p in points) + "]" for m in members]
    out.append("```")
    return out


def legend(points: list[ChartPoint]) -> str:
    """`🟦 pmml_prod · 🟧 pmml_grey`: which line is which member."""
    return " · ".join(f"{PALETTE[min(i, MAX_LINES - 1)][1]} `{m}`" for i, m in enumerate(members_of(points)))


def chart_block(group: GroupPlan) -> list[str]:
    """Chart, legend and the notes of holding steps, as Markdown lines (empty for a group without steps)."""
    if not group.steps:
        return []
    points = chart_points(group)
    out = mermaid_chart(f"{group.region}/{group.name}: share % per step", points)
    out += ["", f"Lines: {legend(points)}"]
    notes = [f"- `{p.label}`: {p.note}" for p in points if p.note]
    return out + (["", *notes] if notes else [])
