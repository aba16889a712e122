"""Plan as text: per group, warnings first, then `+ ~ -` changes, the ordered steps, and the shares.

`render_text` returns plain text (deterministic: golden files compare it byte for byte);
`render_rich` returns the same lines as a rich renderable with colour, for a terminal. Neither
prints: the CLI decides where output goes.

Share table: one row per member, columns `now`, then one per step that moved a share (`#n` is
the share right after step n), then `final`. Unmanaged members are marked `*`.
"""

from __future__ import annotations

from rich.console import Group as RichGroup
from rich.text import Text

from reconciler.plan.model import GroupPlan, Plan
from reconciler.plan.render.common import (
    change_line,
    group_title,
    headline,
    member_pairs,
    pct,
    rollout_notes,
    rollout_rows,
    share_columns,
    state_of,
    step_summary,
)

Line = tuple[str, str]  # (text, rich style)

_OP_STYLE = {"+": "green", "~": "yellow", "-": "red"}


def _table(rows: list[list[str]], indent: str = "    ") -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for r in rows:
        cells = [r[0].ljust(widths[0]), r[1].ljust(widths[1])] + [c.rjust(w) for c, w in zip(r[2:], widths[2:],
                                                                                             strict=True)]
        out.append((indent + "  ".join(cells)).rstrip())
    return out


def _shares(group: GroupPlan) -> list[str]:
    cols = share_columns(group)
    by_step = {t.step: t for t in group.timeline}
    final = group.timeline[-1] if group.timeline else None
    rows = [["member", "state", *["now" if c == 0 else f"#{c}" for c in cols], "final"]]
    for name, now, end in member_pairs(group):
        view = now or end
        marker = " *" if view is not None and not view.managed else ""
        state = state_of(now) if state_of(now) == state_of(end) else f"{state_of(now)} -> {state_of(end)}"
        cells = [pct(by_step[c].shares.get(name, 0.0)) for c in cols]
        rows.append([name + marker, state, *cells, pct(final.shares.get(name, 0.0) if final else 0.0)])
    lines = _table(rows)
    if group.timeline and not group.timeline[0].black_hole:
        holes = [t.step for t in group.timeline[1:] if t.black_hole]
        if holes:
            lines.append(f"    the group endpoint takes no traffic from step {holes[0]} on (the group is removed)")
    return lines


def _steps(group: GroupPlan) -> list[str]:
    width_action = max(len(s.action.value) for s in group.steps)
    width_service = max(len(s.service or "(group)") for s in group.steps)
    return [f"  {s.index:>3}. {s.action.value.ljust(width_action)}  {(s.service or '(group)').ljust(width_service)}"
            f"  {step_summary(s) + '  ' if step_summary(s) else ''}({s.reason})" for s in group.steps]


def _group_lines(group: GroupPlan) -> list[Line]:
    lines: list[Line] = [(group_title(group), "bold")]
    if not group.has_changes and not group.warnings:
        return [(group_title(group) + " (no changes)", "dim")]
    for w in group.warnings:
        lines.append((f"  ! {w.message}", "bold yellow"))
    if group.changes:
        lines.append(("  changes:", "bold"))
        width = max(len(change_line(c)[1]) for c in group.changes)
        for c in group.changes:
            op, subject, values = change_line(c)
            lines.append((f"    {op} {subject.ljust(width)}  {values}", _OP_STYLE[op]))
    if group.steps:
        lines.append((f"  steps ({len(group.steps)}):", "bold"))
        lines.extend((s, "") for s in _steps(group))
    lines.append(("  shares (%), * = not managed by eas-gitops:" if any(not m.managed for m in group.members_now)
                  else "  shares (%):", "bold"))
    lines.extend((s, "cyan") for s in _shares(group))
    if group.rollout is not None:
        lines.append(("  rollout:", "bold"))
        rows = rollout_rows(group)
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.extend(("    " + "  ".join(c.rjust(w) for c, w in zip(r, widths, strict=True)), "") for r in rows)
        lines.extend((f"    {note}", "") for note in rollout_notes(group))
    return lines


def _lines(plan: Plan) -> list[Line]:
    lines: list[Line] = [(headline(plan), "bold")]
    if plan.has_changes:
        lines.append((f"Live fingerprint {plan.live_fingerprint[:19]}: a saved plan applies only to this live state.",
                      "dim"))
    for w in plan.warnings:
        lines.append((f"! {w.message}", "bold yellow"))
    for group in plan.groups:
        lines.append(("", ""))
        lines.extend(_group_lines(group))
    return lines


def render_text(plan: Plan) -> str:
    """Plain text, no colour, ending in a newline."""
    return "\n".join(text for text, _ in _lines(plan)) + "\n"


def render_rich(plan: Plan) -> RichGroup:
    """The same lines, coloured, as a rich renderable (no markup parsing of plan content)."""
    return RichGroup(*(Text(text, style=style, no_wrap=True) for text, style in _lines(plan)))
