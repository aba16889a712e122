"""`build_plan`: the single entry point from desired + live state to a checked Plan (pure).

It runs with the cyclic garbage collector paused (`reconciler.gcpause`): at 10,000 services the
collector's full passes over the live state and the loaded files were half of the planning time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from reconciler.defaults import DEFAULT_MAX_SHIFT
from reconciler.desired.model import ServiceGroup
from reconciler.errors import PlanError, StalePlanError
from reconciler.gcpause import paused_gc
from reconciler.live.model import LiveState, fingerprint
from reconciler.plan.diff import GroupDelta, MemberKind, analyze, change_key
from reconciler.plan.model import (
    GroupPlan,
    GroupStatus,
    Plan,
    PlanCommit,
    PlanOptions,
    PlanWarning,
    Summary,
    WarningCode,
)
from reconciler.plan.order import GroupOrderer
from reconciler.plan.release import rollout_plan
from reconciler.plan.safety import check
from reconciler.plan.simulate import member_views, run, timeline


def _group_plan(delta: GroupDelta, max_shift: int, force: bool) -> GroupPlan:
    orderer = GroupOrderer(delta, max_shift)
    steps = orderer.build()
    frames = run(orderer.initial, steps)
    forced = check(delta, steps, frames, max_shift=max_shift, force=force)
    # no field differs, yet a member not ready must be parked and waited for: the group does change
    status = GroupStatus.UPDATE if delta.status is GroupStatus.UNCHANGED and steps else delta.status
    return GroupPlan(
        region=delta.region, name=delta.name, status=status,
        mode_before=delta.mode_before, mode_after=delta.mode_after,
        warnings=(*delta.warnings, *orderer.warnings, *forced),
        changes=tuple(sorted(delta.changes, key=change_key)),
        steps=tuple(steps), timeline=timeline(frames),
        members_now=member_views(frames[0]), members_final=member_views(frames[-1]), commit=delta.commit,
        rollout=rollout_plan(delta, orderer.release, steps, frames),
    )


def _summary(deltas: Sequence[GroupDelta], groups: Sequence[GroupPlan], unknown: Sequence[PlanWarning]) -> Summary:
    kinds = [m.kind for d in deltas for m in d.members]
    return Summary(
        groups=len(groups),
        groups_changed=sum(1 for g in groups if g.has_changes),
        groups_to_delete=sum(1 for g in groups if g.status is GroupStatus.DELETE and g.mode_after is None),
        services_to_create=kinds.count(MemberKind.CREATE),
        services_to_update=kinds.count(MemberKind.UPDATE),
        services_to_delete=kinds.count(MemberKind.DELETE),
        steps=sum(len(g.steps) for g in groups),
        warnings=sum(len(g.warnings) for g in groups) + len(unknown),
    )


@paused_gc()
def build_plan(desired: Sequence[ServiceGroup], live: LiveState, *, prune: bool = False,
               groups: set[str] | None = None, max_shift: int = DEFAULT_MAX_SHIFT, force: bool = False,
               adopt: bool = False, commits: Mapping[tuple[str, str], str] | None = None,
               source: PlanCommit | None = None) -> Plan:
    """Diff, order, simulate and check every group in scope; raise PlanError when a rule breaks.

    `groups` limits the plan to group names (or "region/name"); `prune` deletes managed groups no
    file declares; `adopt` takes over declared services that exist without the ownership label;
    `max_shift` (1-100) bounds every rise of a member's share in one step (a join, a weight
    change, a scale; taking a member out of traffic is not bounded); `force` overrules
    the rules listed in `reconciler.plan.safety`. `commits` is the `eas-gitops/commit` label value
    per declared (region, name), written with every member the plan writes to; `source` is the commit
    the plan was made from (`reconciler.gitops.commit`; both None outside git).
    """
    if not 1 <= max_shift <= 100:
        raise PlanError(f"max_shift must be between 1 and 100 percentage points, not {max_shift}")
    deltas = analyze(desired, live, prune=prune, groups=groups, adopt=adopt, commits=commits)
    plans = [_group_plan(d, max_shift, force) for d in deltas]
    scope = [(d.region, d.name) for d in deltas]
    unknown = _unknown(groups, deltas)
    options = PlanOptions(prune=prune, max_shift=max_shift, force=force,
                          groups=tuple(sorted(groups)) if groups is not None else None)
    return Plan(live_fingerprint=fingerprint(live.only(scope)), options=options,
                summary=_summary(deltas, plans, unknown), warnings=unknown, groups=tuple(plans), commit=source)


def _unknown(groups: set[str] | None, deltas: Sequence[GroupDelta]) -> tuple[PlanWarning, ...]:
    """A warning for every name in `groups` that matched nothing (a typo must not look like 'no changes')."""
    known = {d.name for d in deltas} | {f"{d.region}/{d.name}" for d in deltas}
    return tuple(PlanWarning(code=WarningCode.UNKNOWN_GROUP, region="", group=name,
                             message=f"no group {name} is declared or live: nothing planned for it")
                 for name in sorted(groups or ()) if name not in known)


def ensure_fresh(plan: Plan, live: LiveState, what: str = "the saved plan") -> None:
    """Raise StalePlanError unless `live` (read now) is the live state `plan` was computed from.

    Only the groups the plan covers count, so an unrelated group moving does not stale a plan.
    `what` names the plan in the message (a saved file, the plan a person just confirmed).
    """
    now = fingerprint(live.only(plan.group_keys()))
    if now != plan.live_fingerprint:
        raise StalePlanError(
            f"{what} is stale: it was made from live state {plan.live_fingerprint[:19]}, but live state is now "
            f"{now[:19]} (a console edit, an autoscaler or another apply changed it): run plan again")
