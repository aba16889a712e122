"""The drift policy at plan time: a field changed by hand is kept live unless its policy says revert.

`plan_with_policy` finds the drift of the declared groups (`reconciler.plan.drift`), puts the live
values of every by-hand field whose action is `report` or `ignore` into the desired state
(`reconciler.plan.overlay`) and plans from that, so no step touches those fields. Each `report`
field becomes a `drift` warning of its group (an `ignore` field is silent); a `revert` field stays
an ordinary change. When a live value cannot be said in the file (a live config the model cannot
express), the group is planned from its file as written and a warning says apply will set the
file's values.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler.desired.drift_policy import DriftAction
from reconciler.desired.model import ServiceGroup
from reconciler.errors import ConfigError, PlanError
from reconciler.live.model import LiveState
from reconciler.plan.build import build_plan
from reconciler.plan.drift import DriftItem, find_drift
from reconciler.plan.model import GroupPlan, Plan, PlanWarning, WarningCode
from reconciler.plan.overlay import overlaid

Key = tuple[str, str]


def _warning(item: DriftItem) -> PlanWarning:
    what = f"{item.service} {item.field}" if item.service else item.field
    return PlanWarning(
        code=WarningCode.DRIFT, region=item.region, group=item.group, service=item.service,
        message=f"drift: {what} was changed outside eas-gitops (file {item.file!r}, live {item.live!r}): kept live "
                "(drift policy report); `eas-gitops drift --write` records it in the file, or set it to revert")


def _kept(items: Sequence[DriftItem]) -> dict[Key, list[DriftItem]]:
    found: dict[Key, list[DriftItem]] = {}
    for item in items:
        if item.kept_live:
            found.setdefault((item.region, item.group), []).append(item)
    return found


def plan_with_policy(desired: Sequence[ServiceGroup], live: LiveState, *, groups: set[str] | None = None,
                     **options: Any) -> Plan:
    """`build_plan` (same options) with the groups' drift policies applied (see the module docstring).

    Drift can only be where the plain plan has changes, so the plain plan comes first and only its
    changed groups are classified; the plan is made again only when a live value must be kept (or
    when the plain plan is refused: a kept value may be what made it unsafe)."""
    try:
        plain = build_plan(desired, live, groups=groups, **options)
    except PlanError:
        plain = None
    if plain is not None:
        changed = {(g.region, g.name) for g in plain.groups if g.changes}
        suspects = [g for g in desired if (g.region, g.name) in changed]
        kept = _kept(find_drift(suspects, live)) if suspects else {}
        if not kept:
            return plain
    else:
        kept = _kept(find_drift(desired, live, groups=groups))
    return _replanned(desired, live, kept, groups, options)


def _replanned(desired: Sequence[ServiceGroup], live: LiveState, kept: dict[Key, list[DriftItem]],
               groups: set[str] | None, options: dict[str, Any]) -> Plan:
    notes: dict[Key, list[PlanWarning]] = {}
    planned: list[ServiceGroup] = []
    for group in desired:
        items = kept.get((group.region, group.name), [])
        try:
            planned.append(overlaid(group, live, items))
            notes[(group.region, group.name)] = [_warning(i) for i in items if i.action is DriftAction.REPORT]
        except ConfigError as exc:
            planned.append(group)
            notes[(group.region, group.name)] = [PlanWarning(
                code=WarningCode.DRIFT, region=group.region, group=group.name,
                message=f"drift cannot be kept live ({exc}): apply sets the file's values")]
    plan = build_plan(planned, live, groups=groups, **options)
    if not any(notes.values()):
        return plan
    updated = tuple(_with_notes(g, notes.get((g.region, g.name), [])) for g in plan.groups)
    added = sum(len(v) for v in notes.values())
    return plan.model_copy(update={"groups": updated,
                                   "summary": plan.summary.model_copy(
                                       update={"warnings": plan.summary.warnings + added})})


def _with_notes(group: GroupPlan, notes: list[PlanWarning]) -> GroupPlan:
    return group.model_copy(update={"warnings": (*notes, *group.warnings)}) if notes else group
