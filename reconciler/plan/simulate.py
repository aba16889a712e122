"""Timeline simulation: apply each step to a copy of the live model, record every share after it.

The share math is `reconciler.desired.shares.compute_shares`, the one planner implementation of
the EAS traffic rules. A step's effect is modelled as its converged end state, which is what the executor
verifies by read-back before it moves on:

    create_service  exists, standalone, 0 running (instances still starting)
    update_config   new version rolling: status Updating, running unchanged (EAS rolls in place)
    scale           replica target set; a scale-down removes running instances at once,
                    a scale-up adds them only at the following wait_running
    wait_running    every target replica Running
    smoke_test      the member passed its declared smoke test
    set_weight / set_traffic_state / drain / set_mode   as named
    delete_service  gone (counted as 0)
    update_labels   no traffic effect
    bake            no traffic effect (the canary holds its share while it is judged)
    update_version  like update_config: an earlier version rolling in place

A member is *ready* when it exists, is Running with every target replica, and has passed its
declared smoke test since its last create or config update (ready before traffic).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, percent
from reconciler.live.model import LiveService, ServiceStatus
from reconciler.plan.model import Action, MemberView, Step, TimelineEntry


@dataclass
class SimMember:
    name: str
    managed: bool
    exists: bool
    state: TrafficState = TrafficState.STANDALONE
    running: int = 0
    replicas: int = 0
    weight: int | None = None  # stored weight; None = unknown or unset (counts as 0)
    status: ServiceStatus | None = None
    smoke_declared: bool = False
    smoke_pending: bool = False

    @property
    def ready(self) -> bool:
        return (self.exists and self.status is ServiceStatus.RUNNING and self.running > 0
                and self.running >= self.replicas and not self.smoke_pending)

    @property
    def eligible(self) -> bool:
        return self.exists and self.state is TrafficState.GROUPING and self.running > 0

    def clone(self) -> SimMember:
        """A copy without `__init__` (every field is an immutable value); the simulation copies a lot."""
        twin = object.__new__(SimMember)
        twin.__dict__.update(self.__dict__)
        return twin

    @classmethod
    def from_live(cls, live: LiveService, mode: TrafficMode | None, smoke_declared: bool) -> SimMember:
        stored = live.weight if mode is TrafficMode.CUSTOMIZED else None
        return cls(name=live.name, managed=live.managed, exists=True, state=live.traffic_state,
                   running=live.running, replicas=live.replicas, weight=stored, status=live.status,
                   smoke_declared=smoke_declared)


@dataclass
class SimGroup:
    """A group as the planner sees it between steps; `apply` mutates it."""

    mode: TrafficMode
    members: dict[str, SimMember] = field(default_factory=dict)

    def copy(self) -> SimGroup:
        """An independent copy: members hold only immutable values, so a shallow copy of each suffices
        (a deepcopy per simulated step was most of the simulation's time)."""
        return SimGroup(self.mode, {n: m.clone() for n, m in self.members.items()})

    def shares(self) -> dict[str, Fraction]:
        traffic = [MemberTraffic(m.name, m.state if m.exists else TrafficState.STANDALONE,
                                 m.running if m.exists else 0, m.weight) for m in self.members.values()]
        return compute_shares(self.mode, traffic)

    def eligible_weight(self) -> int:
        """Σ w over eligible members under the current mode (0 = black hole)."""
        return sum((m.running if self.mode is TrafficMode.AUTO else max(m.weight or 0, 0))
                   for m in self.members.values() if m.eligible)

    def apply(self, step: Step) -> None:
        if step.action is Action.SET_MODE:
            assert step.params.action is Action.SET_MODE
            self.mode = step.params.mode
            return
        assert step.service is not None
        m = self.members[step.service]
        _APPLY[step.action](m, step)


def _create(m: SimMember, step: Step) -> None:
    assert step.params.action is Action.CREATE_SERVICE
    m.exists, m.state, m.running, m.weight = True, TrafficState.STANDALONE, 0, None
    m.replicas, m.status, m.smoke_pending = step.params.replicas, ServiceStatus.CREATING, m.smoke_declared


def _update(m: SimMember, step: Step) -> None:
    m.status, m.smoke_pending = ServiceStatus.UPDATING, m.smoke_declared


def _scale(m: SimMember, step: Step) -> None:
    assert step.params.action is Action.SCALE
    m.replicas = step.params.replicas
    m.running = min(m.running, m.replicas)
    m.status = ServiceStatus.SCALING


def _wait(m: SimMember, step: Step) -> None:
    assert step.params.action is Action.WAIT_RUNNING
    m.running = m.replicas = step.params.replicas
    m.status = ServiceStatus.RUNNING


def _smoke(m: SimMember, step: Step) -> None:
    m.smoke_pending = False


def _weight(m: SimMember, step: Step) -> None:
    assert step.params.action is Action.SET_WEIGHT
    m.weight = step.params.weight


def _state(m: SimMember, step: Step) -> None:
    assert step.params.action in (Action.SET_TRAFFIC_STATE, Action.DRAIN)
    m.state = step.params.traffic_state


def _delete(m: SimMember, step: Step) -> None:
    m.exists, m.running, m.state, m.status = False, 0, TrafficState.STANDALONE, None


def _nothing(m: SimMember, step: Step) -> None:
    return None


_APPLY = {
    Action.CREATE_SERVICE: _create, Action.UPDATE_CONFIG: _update, Action.SCALE: _scale,
    Action.WAIT_RUNNING: _wait, Action.SMOKE_TEST: _smoke, Action.SET_WEIGHT: _weight,
    Action.SET_TRAFFIC_STATE: _state, Action.DRAIN: _state, Action.DELETE_SERVICE: _delete,
    Action.UPDATE_LABELS: _nothing, Action.DELETE_LABELS: _nothing, Action.BAKE: _nothing,
    Action.UPDATE_VERSION: _update,
}


@dataclass(frozen=True)
class Frame:
    """The group after step `step` (0 = now): exact shares and who is ready."""

    step: int
    shares: dict[str, Fraction]
    ready: dict[str, bool]
    group: SimGroup

    @property
    def black_hole(self) -> bool:
        return not any(self.shares.values())


def run(initial: SimGroup, steps: Sequence[Step]) -> list[Frame]:
    """Frames for now and after every step; `initial` is not modified."""
    sim = initial.copy()
    frames = [_frame(0, sim)]
    for step in steps:
        sim.apply(step)
        frames.append(_frame(step.index, sim))
    return frames


def _frame(index: int, sim: SimGroup) -> Frame:
    ready = {n: m.ready for n, m in sim.members.items()}
    return Frame(index, sim.shares(), ready, sim.copy())


def timeline(frames: Iterable[Frame]) -> tuple[TimelineEntry, ...]:
    return tuple(TimelineEntry(step=f.step, shares={n: percent(s) for n, s in f.shares.items()},
                               black_hole=f.black_hole) for f in frames)


def member_views(frame: Frame) -> tuple[MemberView, ...]:
    views = []
    for name, m in frame.group.members.items():
        weight = m.weight if frame.group.mode is TrafficMode.CUSTOMIZED else None
        views.append(MemberView(
            name=name, managed=m.managed, exists=m.exists, traffic_state=m.state if m.exists else None,
            replicas=m.running if m.exists else 0, weight=weight if m.exists else None,
            share=percent(frame.shares[name]), status=m.status if m.exists else None))
    return tuple(views)
