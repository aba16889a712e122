"""Safety rules, checked on the simulated timeline of every group.

    no_black_hole         a group with an eligible member now keeps one after every step, unless
                          the desired state removes the whole group (prune)
    ready_before_traffic  a member's share rises only while it is ready: Running with every target
                          replica and smoke-tested since its last create or new version; a member
                          that gets its first traffic while waiting for its instances (grouping
                          during start-up) breaks it too: instances join one by one
    max_shift             one step never raises a member's share by more than `max_shift` points
                          (from 0 % or any share); not bounded: a group with no traffic before the
                          step (none to shift), the gains of the others when a member leaves
                          (drain, standalone, delete: declared, onto members that serve and are
                          ready), and a member EAS finishes bringing up by itself (`_exempt`)
    ownership             no step writes to a service eas-gitops does not manage
    drain_before_delete   a delete comes after a drain of that service, at 0 % and standalone

`force` overrules only what a person can reasonably judge from the plan: `max_shift` (e.g. an
emergency move onto a member in auto mode that the planner cannot ramp, see `reconciler.plan.ramp`) and
`ready_before_traffic` for members the plan does not touch (in practice unmanaged ones: the
orderer parks or waits for managed members that are not ready, see `reconciler.plan.readiness`).
A forced plan carries a `forced` warning per overruled finding. The other rules, and readiness
of members the plan itself changes, are never overruled.

Every refusal names the rule, the group, the step, the numbers, and what would make the plan safe
(`HINTS`, plus `--force` where it may overrule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from reconciler.desired.model import TrafficState
from reconciler.desired.shares import percent
from reconciler.errors import PlanError
from reconciler.plan.diff import GroupDelta, MemberKind
from reconciler.plan.model import Action, GroupStatus, PlanWarning, Step, WarningCode
from reconciler.plan.simulate import Frame


class Rule(StrEnum):
    NO_BLACK_HOLE = "no_black_hole"
    READY_BEFORE_TRAFFIC = "ready_before_traffic"
    MAX_SHIFT = "max_shift"
    OWNERSHIP = "ownership"
    DRAIN_BEFORE_DELETE = "drain_before_delete"


# A rise of a member that already serves (the planner splits those where it can: this one it could not).
RISE_HINT = ("the planner cannot split this step further (one replica, or one unit of weight, moves more than "
             "that): allow it with --max-shift {need}, or use customized mode with larger weights for finer steps")

# What would make the plan safe, per rule ({name}: the step's service, {need}: the max_shift it needs).
HINTS = {
    Rule.NO_BLACK_HOLE: "keep at least one member grouping with running replicas (and a weight above 0 in "
                        "customized mode); to remove the whole group, delete its file and apply with --prune",
    Rule.READY_BEFORE_TRAFFIC: "wait until {name} is Running with all its replicas, or keep it standalone for now",
    Rule.MAX_SHIFT: "give {name} fewer replicas in a first change and raise them in a second, use customized "
                    "mode (the planner then ramps its weight), or allow it with --max-shift {need}",
    Rule.OWNERSHIP: "adopt it with --adopt (the plan then adds the ownership labels), or remove it from the file",
    Rule.DRAIN_BEFORE_DELETE: "this is a planner bug: please report it with the plan (--format json)",
}


@dataclass(frozen=True)
class Violation:
    rule: Rule
    region: str
    group: str
    step: Step
    detail: str
    forceable: bool = False
    need: int = 0  # max_shift: the smallest limit this step fits in
    hint: str | None = None  # instead of the rule's hint in `HINTS`

    def finding(self) -> str:
        target = f" {self.step.service}" if self.step.service else ""
        return (f"unsafe plan: rule {self.rule.value} broken in group {self.region}/{self.group} at step "
                f"{self.step.index} ({self.step.action.value}{target}): {self.detail}")

    def message(self) -> str:
        """The finding and what would make the plan safe (and whether --force may overrule it)."""
        hint = (self.hint or HINTS[self.rule]).format(name=self.step.service or "the member", need=self.need)
        overrule = "; or overrule with --force after reading the plan" if self.forceable else ""
        return f"{self.finding()}. To fix: {hint}{overrule}"


def _touched(steps: Sequence[Step]) -> set[str]:
    return {s.service for s in steps if s.service is not None}


def _black_holes(delta: GroupDelta, steps: Sequence[Step], frames: Sequence[Frame]) -> list[Violation]:
    if frames[0].black_hole or delta.status is GroupStatus.DELETE:
        return []
    return [Violation(Rule.NO_BLACK_HOLE, delta.region, delta.name, step,
                      "no member is left taking group traffic (every share 0 %): the group would answer 503")
            for step, frame in zip(steps, frames[1:], strict=True) if frame.black_hole]


def _shares(delta: GroupDelta, steps: Sequence[Step], frames: Sequence[Frame], max_shift: int) -> list[Violation]:
    found: list[Violation] = []
    touched = _touched(steps)
    for step, before, after in zip(steps, frames, frames[1:], strict=False):
        for name, share in after.shares.items():
            old = before.shares[name]
            if share > old and old == 0 and step.action is Action.WAIT_RUNNING and step.service == name:
                # grouping while its instances start: each one takes traffic as it comes up,
                # before the member as a whole is ready (or smoke-tested)
                found.append(Violation(
                    Rule.READY_BEFORE_TRAFFIC, delta.region, delta.name, step,
                    f"{name} goes 0% -> {percent(share)}% while its instances start (it is grouping before it is "
                    "ready)"))
            elif share > old and not after.ready[name]:
                m = after.group.members[name]
                found.append(Violation(
                    Rule.READY_BEFORE_TRAFFIC, delta.region, delta.name, step,
                    f"{name} goes {percent(old)}% -> {percent(share)}% while not ready "
                    f"({m.status.value if m.status else 'absent'}, {m.running}/{m.replicas} running"
                    f"{', smoke test pending' if m.smoke_pending else ''})",
                    forceable=name not in touched))
            if (share - old) * 100 > max_shift and not before.black_hole and not _exempt(step, steps):
                was = "0%" if old == 0 else f"{percent(old)}%"
                found.append(Violation(
                    Rule.MAX_SHIFT, delta.region, delta.name, step,
                    f"{name} goes {was} -> {percent(share)}% in one step, more than max_shift {max_shift} points",
                    forceable=True, need=math.ceil((share - old) * 100), hint=None if old == 0 else RISE_HINT))
    return found


def _exempt(step: Step, steps: Sequence[Step]) -> bool:
    """Rises max_shift does not bound: those of the members that stay when another leaves group traffic
    (a drain, standalone, a delete: what the file declares, onto members that serve and are ready), and a
    member finishing on its own the replicas it had before the plan (a wait the plan made no scale for)."""
    if step.action in (Action.DRAIN, Action.DELETE_SERVICE):
        return True
    if step.params.action is Action.SET_TRAFFIC_STATE:
        return step.params.traffic_state is TrafficState.STANDALONE
    if step.action is Action.WAIT_RUNNING:
        return not any(s.service == step.service and s.action in (Action.SCALE, Action.CREATE_SERVICE)
                       for s in steps[:step.index - 1])
    return False


def _ownership(delta: GroupDelta, steps: Sequence[Step], frames: Sequence[Frame]) -> list[Violation]:
    kinds = {m.name: m.kind for m in delta.members}
    found: list[Violation] = []
    drained: set[str] = set()
    for step, before in zip(steps, frames, strict=False):
        name = step.service
        if name is None:
            continue
        if kinds.get(name) is MemberKind.UNMANAGED:
            found.append(Violation(Rule.OWNERSHIP, delta.region, delta.name, step,
                                   f"{name} is not managed by eas-gitops"))
        if step.action is Action.DRAIN:
            drained.add(name)
        if step.action is Action.DELETE_SERVICE:
            m = before.group.members[name]
            if name not in drained or before.shares[name] or m.state is not TrafficState.STANDALONE:
                found.append(Violation(Rule.DRAIN_BEFORE_DELETE, delta.region, delta.name, step,
                                       f"{name} is deleted without a drain before it "
                                       f"(share {percent(before.shares[name])}%, {m.state.value})"))
    return found


def violations(delta: GroupDelta, steps: Sequence[Step], frames: Sequence[Frame], max_shift: int) -> list[Violation]:
    """Every broken rule, in step order."""
    found = [*_black_holes(delta, steps, frames), *_shares(delta, steps, frames, max_shift),
             *_ownership(delta, steps, frames)]
    return sorted(found, key=lambda v: (v.step.index, list(Rule).index(v.rule)))


def check(delta: GroupDelta, steps: Sequence[Step], frames: Sequence[Frame], *, max_shift: int,
          force: bool) -> list[PlanWarning]:
    """Raise PlanError on the first violation that `force` cannot (or did not) overrule.

    Returns a `forced` warning for every violation `force` overruled.
    """
    warnings: list[PlanWarning] = []
    for v in violations(delta, steps, frames, max_shift):
        if not (force and v.forceable):
            raise PlanError(v.message())
        warnings.append(PlanWarning(code=WarningCode.FORCED, region=v.region, group=v.group,
                                    service=v.step.service, message=f"forced: {v.finding()}"))
    return warnings
