"""Live members that are not ready and that the plan does not otherwise change (ready before traffic).

A live member can be `grouping` while it is not Running with every replica: still Creating,
Waiting for resources, Updating, Scaling (an autoscaler), or Failed. Its share must still rise only
once it is ready, also when the plan changes nothing about it:

- no running replica, on its way up (a `SETTLING` status): it would take traffic instance by
  instance as EAS starts them, whatever the plan does in the meantime. It is *parked* (standalone,
  no share moves: it has none) before any other step, then waited for, smoke-tested and joined
  like a new member. A managed member the plan deletes is drained at that point instead.
- some running replicas, on its way up: it already takes traffic, and only EAS can finish. It
  gets a `wait_running` right before the first step that moves any share of the group (so no step
  raises its share before it is ready, and the shares shown after that step are the ones EAS will
  route by); none when no step moves a share (an autoscaler scaling a member is not drift, and a
  label refresh need not wait).
- A group the plan writes to ends settled: a managed member still coming up that no step waited
  for (e.g. parked and declared standalone) gets a last `wait_running`, so the apply ends with the
  state the plan shows. A plan with no step adds none.
- stuck (Failed, Stopped, any status outside `SETTLING`), declared to take traffic, and the plan
  neither gives it a new version nor changes its replicas: nothing in the plan can make it ready, so the
  plan is refused with a PlanError naming every such member, its status and reason. `force` does
  not overrule it: waiting would time out at apply, and joining would break promise 2. Ways out:
  a new version or other replicas (the plan then waits for it), declaring it standalone, removing
  it, or planning other groups with `--group`. A stuck member the plan does change (or deletes)
  and that serves is parked (drained) before anything else when another member keeps serving; a
  share rise of a stuck member the plan cannot park is refused by the safety check.

Unmanaged members are never touched: the safety check refuses (force may overrule) a plan that
raises the share of one that is not ready.
"""

from __future__ import annotations

from collections.abc import Sequence

from reconciler.desired.model import TrafficState
from reconciler.errors import PlanError
from reconciler.live.model import SETTLING, ServiceStatus
from reconciler.plan.diff import GroupDelta, MemberDelta, MemberKind
from reconciler.plan.simulate import SimGroup, SimMember


def changed(m: MemberDelta) -> bool:
    """The plan makes a new version or changes the replica count: it waits for the member anyway."""
    return bool(m.config_paths) or m.target_replicas is not None


def refuse_stuck(delta: GroupDelta, wanting: Sequence[MemberDelta]) -> None:
    """Raise PlanError when a member of `wanting` (declared to take traffic) is stuck and unchanged."""
    stuck = [m.live for m in wanting
             if m.live is not None and not m.live.ready and not m.live.settling and not changed(m)]
    if not stuck:
        return
    found = "; ".join(
        f"{s.name} is {s.status_text or s.status.value}{f' ({s.reason})' if s.reason else ''}, "
        f"{s.running}/{s.replicas} running" for s in stuck if s is not None)
    raise PlanError(
        f"group {delta.region}/{delta.name}: {found}. It is declared to take traffic but the plan does not change "
        "it, so it cannot become ready (refused even with force). Give it a new version or other replicas (the "
        "plan then waits for it), declare it standalone or remove it; or plan the other groups with --group")


def must_park(m: MemberDelta, sim: SimMember, target: int) -> bool:
    """A grouping member with no running replica that will get some: standalone until it is ready.

    Replicas come from EAS on its own (a settling member with a replica count) or from the plan:
    a new version waits for the current count, a scale for `target`.
    """
    if not (m.managed and sim.exists and sim.state is TrafficState.GROUPING and sim.running == 0):
        return False
    by_eas = m.live is not None and m.live.settling and m.live.replicas > 0
    if m.kind is MemberKind.DELETE:  # drained here, deleted after the traffic steps
        return by_eas
    by_plan = (bool(m.config_paths) and sim.replicas > 0) or (m.target_replicas is not None and target > 0)
    return by_eas or by_plan


def takes_traffic_wrongly(m: MemberDelta, sim: SimMember) -> bool:
    """A stuck (e.g. Failed) member serving with some replicas that the plan changes or deletes: parked
    first, when the group keeps another serving member, so a new version never rolls out under traffic."""
    return (m.managed and m.live is not None and not m.live.settling and not m.live.ready and sim.eligible
            and (m.kind is MemberKind.DELETE or changed(m)))


def coming_up(sim: SimMember) -> bool:
    """Exists, EAS is bringing it up by itself and not every replica runs yet."""
    return (sim.exists and sim.status in SETTLING and sim.replicas > 0
            and (sim.status is not ServiceStatus.RUNNING or sim.running < sim.replicas))


def others_serve(sim: SimGroup, name: str) -> bool:
    """True when the group keeps an eligible member with `name` standalone (parking it is no black hole)."""
    trial = sim.copy()
    trial.members[name].state = TrafficState.STANDALONE
    return trial.eligible_weight() > 0


def settling(delta: GroupDelta, sim: SimGroup) -> set[str]:
    """Managed grouping members that serve with some but not every replica: waited for before their share rises."""
    return {m.name for m in delta.members
            if m.managed and m.live is not None and m.live.settling and not m.live.ready
            and sim.members[m.name].state is TrafficState.GROUPING and sim.members[m.name].running > 0}


def moves(before: SimGroup, after: SimGroup) -> bool:
    """True when any member's share differs between the two."""
    return before.shares() != after.shares()
