"""Plan as Markdown: the pull-request comment (always within one comment) and the full job summary.

`render_markdown(plan)` is the comment, at most `COMMENT_BUDGET` characters:

1. a title and the summary line (`Plan: 2 of 5 groups to change; ...`), then the plan's warnings;
2. one table row per group that changes or warns (see `overview`): shares before → after and the
   versions (code) members move to, visible without opening anything;
3. the groups without changes, in one line;
4. per group, while they fit: warnings, the member table, a mermaid chart of the shares over the
   steps (see `chart`), and a collapsible `<details>` with the `+ ~ -` changes and numbered steps;
5. when anything was left out, a note saying what, and that the full plan is in the run's job
   summary and in the JSON plan.

Limits (settings, not documented by EAS): GitHub takes 65,536 characters per comment
(`COMMENT_LIMIT`); `COMMENT_MARGIN` (1,536) is kept free for what a posting action adds, e.g. the
`<!-- Sticky Pull Request Comment... -->` header marker of marocchino/sticky-pull-request-comment,
so the comment is at most `COMMENT_BUDGET` = 64,000 characters. Table rows share the room left
after the title; every changed group keeps its row (its name and step count are never cut; long
member lists end in `+N more`) until even those do not fit, which takes thousands of groups.
Sizes are Unicode code points, the unit of GitHub's limit.

`render_markdown(plan, limit=None)` is the full plan (nothing cut), for the job summary.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.desired.model import TrafficMode
from reconciler.plan.model import GroupPlan, MemberView, Plan
from reconciler.plan.render import overview
from reconciler.plan.render.chart import chart_block
from reconciler.plan.render.common import (
    change_line,
    group_title,
    headline,
    member_pairs,
    pct,
    plural,
    rollout_notes,
    rollout_rows,
    state_of,
    step_summary,
)
from reconciler.plan.render.fit import COMMENT_BUDGET as COMMENT_BUDGET
from reconciler.plan.render.fit import COMMENT_LIMIT as COMMENT_LIMIT
from reconciler.plan.render.fit import COMMENT_MARGIN as COMMENT_MARGIN
from reconciler.plan.render.fit import Budget, fit_items, text_size

FOOTER_ROOM = 2_000  # kept for the "left out" note until the details are placed
LIST_WIDTH = 1_000  # names in one-line lists (unchanged groups, groups left out)
WARNINGS_SHARE = 8  # plan-level warnings take at most 1/8 of the budget
MAX_ROW = 1_500  # a table row never grows past this, however much room there is
MIN_LIMIT = 8_000  # below this the title, the lists and the note alone could overflow
FULL_PLAN = ("The full plan is in this run's job summary and in the JSON plan (`plan --out`, "
             "kept as the run's artifact).")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _pair(before: str, after: str) -> str:
    return before if before == after else f"{before} → {after}"


def _weight(m: MemberView | None) -> str:
    return str(m.weight) if m is not None and m.exists and m.weight is not None else "–"


def _replicas(m: MemberView | None) -> str:
    return str(m.replicas) if m is not None and m.exists else "–"


def _table(group: GroupPlan) -> list[str]:
    rows = ["| member | state | replicas | weight | share % |", "|---|---|---:|---:|---:|"]
    for name, now, end in member_pairs(group):
        view = now or end
        label = f"`{name}`" + ("" if view is None or view.managed else " (unmanaged)")
        share = _pair(pct(now.share) if now else "0.0", pct(end.share) if end else "0.0")
        rows.append(f"| {label} | {_pair(state_of(now), state_of(end))} | {_pair(_replicas(now), _replicas(end))} "
                    f"| {_pair(_weight(now), _weight(end))} | {share} |")
    return rows


def _steps(group: GroupPlan) -> list[str]:
    shares = {t.step: t for t in group.timeline}
    lines = []
    prev = shares.get(0)
    for s in group.steps:
        who = _cell(s.service or "(group)")
        summary = step_summary(s)
        line = f"{s.index}. `{s.action.value}` **{who}**{': ' + _cell(summary) if summary else ''} _({s.reason})_"
        now = shares.get(s.index)
        if now is not None and prev is not None and now.shares != prev.shares:
            line += " → " + " · ".join(f"{n} {pct(v)}" for n, v in now.shares.items())
            if now.black_hole:
                line += " (no member takes traffic)"
        prev = now or prev
        lines.append(line)
    return lines


def group_details(group: GroupPlan) -> list[str]:
    """One group's section: warnings, member table, chart, and the changes and steps in `<details>`."""
    out = [f"#### {group_title(group)}", ""]
    out += [f"> ⚠️ {w.message}" for w in group.warnings]
    if group.warnings:
        out.append("")
    mode = group.mode_after or group.mode_before
    if mode is TrafficMode.AUTO:
        out += ["Shares follow running replicas (auto mode).", ""]
    out += _table(group)
    if group.rollout is not None:
        rows = rollout_rows(group)
        out += ["", "**Rollout**", "", "| " + " | ".join(rows[0]) + " |", "|---:|---:|---:|---:|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        out += ["", *(f"- {_cell(note)}" for note in rollout_notes(group))]
    chart = chart_block(group)
    if chart:
        out += ["", *chart]
    if group.steps or group.changes:
        counts = f"{plural(len(group.changes), 'change')}, {plural(len(group.steps), 'step')}"
        out += ["", f"<details><summary>{counts}</summary>", ""]
        if group.changes:
            out += ["```diff", *(" ".join(p for p in change_line(c) if p) for c in group.changes), "```", ""]
        out += _steps(group)
        out += ["", "</details>"]
    out.append("")
    return out


def _names(groups: Sequence[GroupPlan]) -> list[str]:
    return [f"`{overview.cell(g.region)}/{overview.cell(g.name)}`" for g in groups]


def _quiet_line(quiet: Sequence[GroupPlan], width: int) -> list[str]:
    if not quiet:
        return []
    return [f"No changes in {plural(len(quiet), 'group')}: {fit_items(_names(quiet), width)}.", ""]


def _table_rows(shown: Sequence[GroupPlan], budget: Budget | None) -> tuple[list[str], int]:
    """The overview table, taken from `budget` (None: every row in full); how many rows were left out."""
    if not shown:
        return [], 0
    if budget is None:
        return [*overview.HEADER, *(overview.row(g, 10**9) for g in shown), ""], 0
    width = max(min(MAX_ROW, (budget.left - text_size(overview.HEADER)) // len(shown) - 1), 0)
    rows = list(overview.HEADER)
    for index, group in enumerate(shown):
        line = overview.row(group, width)
        more = f"| … {plural(len(shown) - index, 'more group')} | | | | | |"  # the row that replaces the rest
        if not budget.fits([*rows, line, more, ""]):
            rows += [more, ""]
            budget.spend(rows)
            return rows, len(shown) - index
        rows.append(line)
    rows.append("")
    budget.spend(rows)
    return rows, 0


def _footer(details_left: Sequence[GroupPlan], rows_left: int, warnings_left: int) -> list[str]:
    parts = []
    if details_left:
        names = fit_items(_names(details_left), LIST_WIDTH)
        parts.append(f"the details of {plural(len(details_left), 'group')} ({names})")
    if rows_left:
        parts.append(f"the table rows of {plural(rows_left, 'group')}")
    if warnings_left:
        parts.append(plural(warnings_left, "plan warning"))
    if not parts:
        return []
    return ["---", "", f"_Left out to stay within GitHub's comment limit: {'; '.join(parts)}. {FULL_PLAN}_"]


def _warning_lines(plan: Plan, budget: Budget | None) -> tuple[list[str], int]:
    """The plan's warnings as quotes, at most 1/WARNINGS_SHARE of the budget; how many were left out."""
    lines = [f"> ⚠️ {w.message}" for w in plan.warnings]
    kept = lines
    if budget is not None:
        cap = Budget(budget.left // WARNINGS_SHARE)
        kept = []
        for line in lines:
            if not cap.take([line]):
                break
            kept.append(line)
    block = kept + ([""] if kept else [])
    if budget is not None:
        budget.spend(block)
    return block, len(lines) - len(kept)


def render_markdown(plan: Plan, limit: int | None = COMMENT_BUDGET) -> str:
    """The comment (at most `limit` characters, `MIN_LIMIT` or more) or, with `limit=None`, the full plan."""
    if limit is not None and limit < MIN_LIMIT:
        raise ValueError(f"a comment limit below {MIN_LIMIT} characters leaves no room for the table")
    shown = [g for g in plan.groups if g.has_changes or g.warnings]
    quiet = [g for g in plan.groups if not (g.has_changes or g.warnings)]
    out = ["### eas-gitops plan", "", headline(plan), ""]
    budget = None if limit is None else Budget(limit - text_size(out) - FOOTER_ROOM)
    warnings, warnings_left = _warning_lines(plan, budget)
    quiet_line = _quiet_line(quiet, LIST_WIDTH if budget is not None else 10**9)
    if budget is not None:
        budget.spend(quiet_line)  # at most LIST_WIDTH + 40: always within the room MIN_LIMIT leaves
    rows, rows_left = _table_rows(shown, budget)
    out += warnings + rows + quiet_line
    if budget is not None:  # from here on, keep room for the longest note the details can need
        budget.left += FOOTER_ROOM - text_size(_footer(shown, rows_left, warnings_left))
    details_left: list[GroupPlan] = []
    for group in shown:
        section = group_details(group)
        if budget is None or budget.take(section):
            out += section
        else:
            details_left.append(group)
    out += _footer(details_left, rows_left, warnings_left)
    return "\n".join(out).rstrip("\n") + "\n"
