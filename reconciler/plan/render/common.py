"""What every renderer shows the same way: step summaries, values, share columns.

Renderers only read the Plan. Any `${env:NAME}` reference is shown as `(sensitive)`.
"""

from __future__ import annotations

import json
from typing import Any

from reconciler.analysis.duration_text import format_duration
from reconciler.desired.rollout import OnFailure
from reconciler.plan.diff import mask
from reconciler.plan.model import Action, Change, GroupPlan, MemberView, Plan, Step


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def value(v: Any) -> str:
    """A before/after value in one line."""
    v = mask(v)
    if v is None:
        return "(none)"
    if isinstance(v, str):
        return v
    return json.dumps(v, sort_keys=True, ensure_ascii=False)


def change_line(c: Change) -> tuple[str, str, str]:
    """(op, subject, values) of one change: `~ b replicas` / `4 -> 2`."""
    subject = f"{c.service} {c.field}" if c.service else c.field
    if c.op.value == "+":
        return c.op.value, subject, value(c.after)
    if c.op.value == "-":
        return c.op.value, subject, value(c.before)
    return c.op.value, subject, f"{value(c.before)} -> {value(c.after)}"


def _smoke(step: Step) -> str:
    p = step.params
    assert p.action is Action.SMOKE_TEST
    return f"{'POST' if p.body is not None else 'GET'} {p.path} expects HTTP {p.expect_status}"


def step_summary(step: Step) -> str:
    """The parameters of a step in a few words."""
    p = step.params
    if p.action is Action.CREATE_SERVICE:
        return f"{plural(p.replicas, 'replica')}, standalone"
    if p.action is Action.UPDATE_CONFIG:
        removes = ["removes " + ", ".join(".".join(r) for r in p.removed_paths)] if p.removed_paths else []
        return "new version: " + "; ".join([*([", ".join(p.changed_paths)] if p.changed_paths else []), *removes])
    if p.action is Action.SCALE:
        return f"replicas {p.before} -> {p.replicas}"
    if p.action is Action.WAIT_RUNNING:
        return f"{p.replicas}/{p.replicas} Running" if p.replicas else "no instance left running"  # a scale to 0
    if p.action is Action.SMOKE_TEST:
        return _smoke(step)
    if p.action is Action.SET_WEIGHT:
        return f"weight {p.before} -> {p.weight}" if p.before is not None else f"weight {p.weight}"
    if p.action is Action.SET_TRAFFIC_STATE:
        return f"{p.before.value} -> {p.traffic_state.value}"
    if p.action is Action.SET_MODE:
        return f"traffic mode {p.before.value} -> {p.mode.value}"
    if p.action is Action.DRAIN:
        return "-> standalone, verified"
    if p.action is Action.UPDATE_LABELS:
        return ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items()))
    if p.action is Action.DELETE_LABELS:
        return "delete " + ", ".join(p.keys)
    if p.action is Action.BAKE:
        return (f"step {p.step}/{p.of}: {p.canary} at {pct(p.share)} % for {format_duration(p.bake_seconds)}, "
                f"a check every {format_duration(p.analysis.interval)}")
    if p.action is Action.UPDATE_VERSION:
        return f"back to version {p.version}"
    return ""


# ---- the rollout of a release ---------------------------------------------------------------------------------


def _bake_shares(group: GroupPlan) -> dict[int, tuple[float, float]]:
    """Rollout step -> (canary share, baseline share) right when its bake runs, from the timeline."""
    by_step = {t.step: t.shares for t in group.timeline}
    out: dict[int, tuple[float, float]] = {}
    for s in group.steps:
        if s.params.action is Action.BAKE:
            shares = by_step.get(s.index, {})
            out[s.params.step] = (shares.get(s.params.canary, 0.0),
                                  round(sum(shares.get(n, 0.0) for n in s.params.baseline), 1))
    return out


def rollout_rows(group: GroupPlan) -> list[list[str]]:
    """One row per rollout step: step, canary %, primary % (the baseline), bake; `done` before a resumed step."""
    r = group.rollout
    assert r is not None
    shares = _bake_shares(group)
    rows = [["step", "canary %", "primary %", "bake"]]
    for k, step in enumerate(r.steps, start=1):
        canary, primary = (pct(shares[k][0]), pct(shares[k][1])) if k in shares else ("done", "done")
        rows.append([str(k), canary, primary, format_duration(step.bake_seconds)])
    return rows


def abort_text(group: GroupPlan) -> str:
    """`pmml_grey standalone -> 100/0 (pmml_prod/pmml_grey), pmml_grey back to version 3`."""
    r = group.rollout
    assert r is not None
    first = next((s for s in group.steps if s.params.action is Action.BAKE), None)
    by_step = {t.step: t.shares for t in group.timeline}
    shares = by_step.get(first.index, {}) if first is not None else {}
    total = sum(shares.get(n, 0.0) for n in r.baseline) or 1.0
    after = [pct(100 * shares.get(n, 0.0) / total).removesuffix(".0") for n in r.baseline]
    text = f"{r.canary} standalone -> {'/'.join([*after, '0'])} ({'/'.join([*r.baseline, r.canary])})"
    if any(s.action is Action.UPDATE_VERSION for s in r.abort_steps):
        text += f", {r.canary} back to version {r.previous_version}"
    elif r.on_failure is OnFailure.ROLLBACK:
        text += " (its previous version is unknown: it stays standalone on the new one)"
    return text


def rollout_notes(group: GroupPlan) -> list[str]:
    """The release in sentences: canary and baseline, time, gates, promotion, the abort path."""
    r = group.rollout
    assert r is not None
    a = r.analysis
    gates = ", ".join(g.describe() for g in a.metrics)
    notes = [f"canary {r.canary} against {', '.join(r.baseline)}; at least {format_duration(r.min_duration_seconds)} "
             "(the sum of the bakes still to run)"]
    if r.resumed_from is not None:
        notes.append(f"resumes at step {r.resumed_from}: the part of its bake already served counts (it is "
                     "subtracted from that minimum at apply time: the plan has no clock)")
    notes.append(f"gates, a check every {format_duration(a.interval)} from {a.provider}: {gates}; "
                 f"min_requests {a.min_requests}; {a.failure_limit} failed checks in a row abort")
    if r.promotes:
        notes.append(f"promotion after step {len(r.steps)}: {', '.join(r.promotes)} get"
                     f"{'s' if len(r.promotes) == 1 else ''} the new version")
    notes.append(f"on failure at any step: {abort_text(group)}")
    return notes


def share_columns(group: GroupPlan) -> list[int]:
    """Timeline entries worth a column: now, then every step that moved a share."""
    cols = [0]
    for prev, entry in zip(group.timeline, group.timeline[1:], strict=False):
        if entry.shares != prev.shares:
            cols.append(entry.step)
    return cols


def pct(share: float) -> str:
    return f"{share:.1f}"


def state_of(m: MemberView | None) -> str:
    if m is None or not m.exists:
        return "-"
    return m.traffic_state.value if m.traffic_state else "-"


def member_pairs(group: GroupPlan) -> list[tuple[str, MemberView | None, MemberView | None]]:
    now = {m.name: m for m in group.members_now}
    final = {m.name: m for m in group.members_final}
    names = [m.name for m in group.members_now]
    return [(n, now.get(n), final.get(n)) for n in names]


def headline(plan: Plan) -> str:
    s = plan.summary
    warnings = f", {plural(s.warnings, 'warning')}" if s.warnings else ""
    if not plan.has_changes:
        return f"No changes ({plural(s.groups, 'group')} checked{warnings})."
    return (f"Plan: {s.groups_changed} of {plural(s.groups, 'group')} to change; services: "
            f"{s.services_to_create} to create, {s.services_to_update} to update, {s.services_to_delete} to delete; "
            f"{plural(s.steps, 'step')}{warnings}.")


def group_title(group: GroupPlan) -> str:
    before = group.mode_before.value if group.mode_before else "(new)"
    after = group.mode_after.value if group.mode_after else "(gone)"
    mode = before if before == after else f"{before} -> {after}"
    return f"group {group.region}/{group.name}: {group.status.value}, mode {mode}"
