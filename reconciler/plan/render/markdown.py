"""Plan as Markdown for a pull-request comment: compact, the same content as the text form.

Per group: a heading, warnings as a quote, one table (member | state | replicas | weight |
share now -> final), then a collapsible `<details>` with the `+ ~ -` changes and the numbered
steps, each share-moving step followed by the shares after it. GitHub caps a comment at 65,535
characters: this renderer does not cut; nothing checks that limit yet (posting comments is a later
issue's work), so a very large plan belongs in the job summary or an artifact.
"""

from __future__ import annotations

from reconciler.plan.model import GroupPlan, MemberView, Plan
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
from reconciler.spec.model import TrafficMode


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


def _group(group: GroupPlan) -> list[str]:
    out = [f"#### {group_title(group)}", ""]
    if not group.has_changes and not group.warnings:
        return [f"#### {group_title(group)} — no changes", ""]
    out += [f"> ⚠️ {w.message}" for w in group.warnings]
    if group.warnings:
        out.append("")
    mode = group.mode_after or group.mode_before
    if mode is TrafficMode.AUTO:
        out.append("Shares follow running replicas (auto mode).")
        out.append("")
    out += _table(group)
    if group.rollout is not None:
        rows = rollout_rows(group)
        out += ["", "**Rollout**", "", "| " + " | ".join(rows[0]) + " |", "|---:|---:|---:|---:|"]
        out += ["| " + " | ".join(r) + " |" for r in rows[1:]]
        out += ["", *(f"- {_cell(note)}" for note in rollout_notes(group))]
    if group.steps or group.changes:
        counts = f"{plural(len(group.changes), 'change')}, {plural(len(group.steps), 'step')}"
        out += ["", f"<details><summary>{counts}</summary>", ""]
        if group.changes:
            out += ["```diff", *(" ".join(p for p in change_line(c) if p) for c in group.changes), "```", ""]
        out += _steps(group)
        out += ["", "</details>"]
    out.append("")
    return out


def render_markdown(plan: Plan) -> str:
    out = ["### eas-gitops plan", "", headline(plan), ""]
    out += [f"> ⚠️ {w.message}" for w in plan.warnings]
    for group in plan.groups:
        out += _group(group)
    return "\n".join(out).rstrip("\n") + "\n"
