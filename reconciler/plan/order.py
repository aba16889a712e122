"""Ordering: turn one group's delta into steps: capacity and tests before traffic, traffic before removal.

Phases, in this order (each step is applied to a simulated copy of the group as it is added,
so later decisions see the shares earlier steps produce):

1. adopt     ownership label on adopted services, before any other write to them
2. park      a grouping member with no running replica that is about to get capacity (from the
             plan or from EAS: still Creating...) goes standalone first, so its share cannot
             rise replica by replica before it is ready; see `reconciler.plan.readiness`, which
             also decides the waits for members that serve while not ready yet
3. prepare   create (standalone) and scale up, wait for them; then members that serve and get a
             new version leave group traffic (`moves.out_for_update`: when the others can carry it within
             max_shift, else in place with a warning); then new versions, wait for them (no share
             moves while a version rolls out); then smoke tests; then label refreshes (capacity
             before traffic; no share moves except scale-ups of serving members and those drains)
4. traffic   by target mode, see `_traffic_customized` / `_traffic_auto`
             joins before weight changes before leaves (traffic in before traffic out)
5. shrink    scale-downs (a traffic change in auto mode, after the traffic-in steps), scale to
             zero only after a drain
6. remove    delete only after a verified drain

Joins go in `ramp.join_order` (smallest first; the biggest first into a group without traffic). Every
move that would raise a member's share by more than `max_shift` points in one step is split where the
planner can (`reconciler.plan.ramp`): a join in customized mode first at the largest weight within the
limit; in auto mode a member entering with replicas it does not run yet joins with fewer replicas; a
serving member's weight (customized) or replica count (auto, up or down) moves in steps
(`move_weight`, `scale_within` in `reconciler.plan.moves`). What cannot be split is refused by the
safety check (force may overrule): we never switch a group's mode unasked. Leaving traffic is not
split (see safety.py).

Mode switches keep shares continuous: auto -> customized sets every weight while still auto (no
share change), then switches, when that switch stays within max_shift; else it sets weights that keep
today's shares, switches (nothing moves) and moves the weights in steps
(`moves.switch_at_current_shares`).
customized -> auto first moves the weights to the replica ratio, joiners' included before they join
(`ramp.ratio_scale` picks the weight per replica that moves the fewest weights, so no share overshoots
its target), then switches, so the switch itself moves no traffic.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.desired.model import MAX_WEIGHT, TrafficMode, TrafficState
from reconciler.live.model import COMMIT_LABEL, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SPEC_HASH_LABEL, ServiceStatus
from reconciler.plan import ramp, readiness, rollout
from reconciler.plan.diff import GroupDelta, MemberDelta, MemberKind, dotted, without_instance
from reconciler.plan.model import (
    Action,
    CreateParams,
    DeleteLabelsParams,
    DeleteParams,
    DrainParams,
    Expect,
    GroupStatus,
    LabelsParams,
    ModeParams,
    PlanWarning,
    ScaleParams,
    SmokeTestParams,
    Step,
    StepParams,
    TrafficStateParams,
    UpdateConfigParams,
    WaitParams,
    WarningCode,
    WeightParams,
)
from reconciler.plan.moves import EQUALISE_SCALE, Moves
from reconciler.plan.record import RECORD_LABEL
from reconciler.plan.release import ReleaseSteps
from reconciler.plan.simulate import SimGroup, SimMember

_DECLARED = (MemberKind.CREATE, MemberKind.UPDATE, MemberKind.KEEP)


def initial_sim(delta: GroupDelta) -> SimGroup:
    """The group as live shows it (new groups start in auto mode, as EAS creates them)."""
    sim = SimGroup(mode=delta.mode_before or TrafficMode.AUTO)
    for m in delta.members:
        smoke = m.spec is not None and m.spec.smoke_test is not None
        if m.live is not None:
            sim.members[m.name] = SimMember.from_live(m.live, delta.mode_before, smoke)
        else:
            sim.members[m.name] = SimMember(name=m.name, managed=True, exists=False, smoke_declared=smoke)
    return sim


class GroupOrderer(Moves, ReleaseSteps):
    """Builds the steps of one group; `sim` always holds the state after the last step."""

    def __init__(self, delta: GroupDelta, max_shift: int) -> None:
        self.delta, self.max_shift = delta, max_shift
        self.initial = initial_sim(delta)
        self.sim = self.initial.copy()
        self.steps: list[Step] = []
        self.warnings: list[PlanWarning] = []
        self.declared = [m for m in delta.members if m.spec is not None and m.kind in _DECLARED]
        # live members serving with some replicas, not all: waited for right before the first share move
        self.settling = readiness.settling(delta, self.initial)
        self.ramps: dict[str, ramp.Ramp] = {}  # auto-mode joins split by replicas, decided in `prepare`
        # a release carries new versions through the canary (reconciler.plan.release), after `prepare`
        self.release = rollout.detect(delta) if delta.status is not GroupStatus.DELETE else None

    # ---- helpers ------------------------------------------------------------------------------------------

    def add(self, service: str | None, params: StepParams, reason: str, expect: Expect | None = None) -> None:
        step = Step(index=len(self.steps) + 1, action=params.action, service=service, params=params,
                    reason=reason, expect=expect or Expect())
        if self.settling and self.wait_before(step):
            self.add(service, params, reason, expect)  # renumbered after the waits
            return
        self.steps.append(step)
        self.sim.apply(step)

    def wait_before(self, step: Step) -> bool:
        """Wait for settling members before `step` when it needs them settled; True when a wait was added.

        Every settling member before the first step that moves a share; one before its own new
        version or scale (EAS finishes what it is doing first, and the wait after the change then
        moves no share).
        """
        if step.service in self.settling and step.action in (Action.UPDATE_CONFIG, Action.SCALE):
            names = [step.service]
        else:
            trial = self.sim.copy()
            trial.apply(step)
            if not readiness.moves(self.sim, trial):
                return False
            names = sorted(self.settling)
        for name in names:
            self.wait(self.delta.member(name), "Running with every replica before any share moves")
        return True

    def warn(self, code: WarningCode, service: str | None, message: str) -> None:
        self.warnings.append(PlanWarning(code=code, region=self.delta.region, group=self.delta.name,
                                         service=service, message=message))

    def member(self, m: MemberDelta) -> SimMember:
        return self.sim.members[m.name]

    def target_replicas(self, m: MemberDelta) -> int:
        return m.target_replicas if m.target_replicas is not None else self.member(m).replicas

    def target_weight(self, m: MemberDelta) -> int | None:
        return m.spec.weight if m.spec is not None and self.delta.mode_after is TrafficMode.CUSTOMIZED else None

    def wants_traffic(self, m: MemberDelta) -> bool:
        assert m.spec is not None
        return m.spec.traffic is TrafficState.GROUPING and self.target_replicas(m) > 0

    def joiners(self) -> list[MemberDelta]:
        return [m for m in self.declared if self.wants_traffic(m)
                and (not self.member(m).exists or self.member(m).state is TrafficState.STANDALONE)]

    def set_state(self, m: MemberDelta, state: TrafficState, reason: str) -> None:
        before = self.member(m).state
        self.add(m.name, TrafficStateParams(traffic_state=state, before=before), reason,
                 Expect(traffic_state=state))

    def set_weight(self, m: MemberDelta, weight: int, reason: str) -> None:
        sim = self.member(m)
        customized = self.sim.mode is TrafficMode.CUSTOMIZED
        self.add(m.name, WeightParams(weight=weight, before=sim.weight if customized else None), reason,
                 Expect(weight=weight if customized else None))

    def capped(self, weight: int, name: str) -> int:
        """The first weight for a member entering traffic from 0: within max_shift of the group."""
        cap = ramp.first_count(base := self.sim.eligible_weight(), weight, self.max_shift, MAX_WEIGHT)
        if cap is not None:  # else it fits, or cannot be split: the safety check reports it
            self.warn(WarningCode.SHARE_SPLIT, name, ramp.weight_warning(name, cap, weight, base, self.max_shift))
        return weight if cap is None else cap

    # ---- phases -------------------------------------------------------------------------------------------

    def build(self) -> list[Step]:
        if self.delta.status is GroupStatus.DELETE:
            self.prune()
        elif self.delta.status is not GroupStatus.ORPHANED:
            readiness.refuse_stuck(self.delta, [m for m in self.declared if self.wants_traffic(m)])
            self.adopt()
            self.park()
            self.prepare()
            self.release_phase()
            if self.delta.mode_after is TrafficMode.CUSTOMIZED:
                self.traffic_customized()
            else:
                self.traffic_auto()
            self.remove()
            self.settle()
            self.finish_release()
        return self.steps

    def in_release(self, m: MemberDelta) -> bool:
        """Its new version and labels are the release phase's (not prepare's)."""
        return self.release is not None and not self.release.finished and m.name in self.release.members

    def settle(self) -> None:
        """A group the plan writes to ends settled: members still on their way up are waited for last."""
        for m in self.delta.members:
            if self.steps and m.managed and readiness.coming_up(self.member(m)):
                self.wait(m, "the group ends with every member Running")

    def adopt(self) -> None:
        for m in self.declared:
            if MANAGED_BY_LABEL in m.labels:
                labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE}
                self.add(m.name, LabelsParams(labels=labels), "adopt: eas-gitops manages it from now on",
                         Expect(labels=labels))

    def park(self) -> None:
        for m in self.delta.members:
            sim = self.member(m)
            if readiness.must_park(m, sim, self.target_replicas(m)):
                why = "no replica serves yet: standalone until it is ready"
            elif readiness.takes_traffic_wrongly(m, sim) and readiness.others_serve(self.sim, m.name):
                status = sim.status.value if sim.status else "not ready"
                why = f"serves while {status}: out of group traffic before it changes"
            else:
                continue
            if m.kind is MemberKind.DELETE:
                self.add(m.name, DrainParams(), why, Expect(traffic_state=TrafficState.STANDALONE))
            else:
                self.set_state(m, TrafficState.STANDALONE, why)

    def prepare(self) -> None:
        joiners = {m.name for m in self.joiners()}
        created = [m for m in self.declared if m.kind is MemberKind.CREATE]
        grown = [m for m in self.declared if m.kind is not MemberKind.CREATE
                 and m.target_replicas is not None and m.target_replicas > self.member(m).replicas]
        updated = [m for m in self.declared if m.config_paths and not self.in_release(m)]
        if self.sim.mode is TrafficMode.AUTO and self.delta.mode_after is TrafficMode.AUTO and self.release is None:
            self.ramps = ramp.plan_ramps(self.joiners(), self.sim, self.target_replicas, self.max_shift,
                                         {m.name: self.target_replicas(m) for m in grown}, self.settling)
        for r in self.ramps.values():
            self.warn(WarningCode.SHARE_SPLIT, r.name, r.warning(self.max_shift))
        for m in created:
            self.create(m)
        stepped = [m for m in grown if m.name not in self.ramps and len(self.replica_path(m)) > 2]
        for m in (m for m in grown if m not in stepped):  # more replicas of the version that serves now
            count = self.ramps[m.name].first if m.name in self.ramps else self.target_replicas(m)
            self.add(m.name, ScaleParams(replicas=count, before=self.member(m).replicas),
                     "capacity before traffic", Expect())
        first = {m.name for m in [*created, *grown]}
        for m in self.declared:
            if m.name in first and m not in stepped:
                self.wait(m)
        for m in stepped:  # serving in auto mode: its share rises with every replica, within max_shift
            self.scale_within(m, "capacity before traffic, its share within max_shift")
        for m in updated:  # out of traffic first where the others can carry it (see `out_for_update`)
            self.out_for_update(m)
        for m in updated:  # after the scale-ups, so no share moves while a new version rolls out
            self.update(m)
        for m in self.declared:
            if m in updated or (m.name in joiners and m.name not in first and not self.member(m).ready):
                self.wait(m)
        touched = {m.name for m in [*created, *updated, *grown]}
        for m in self.declared:
            assert m.spec is not None
            if m.spec.smoke_test is not None and (m.name in touched or m.name in joiners):
                t = m.spec.smoke_test
                self.add(m.name, SmokeTestParams(path=t.path, body=t.body, expect_status=t.expect_status),
                         "direct endpoint answers before any group traffic", Expect(http_status=t.expect_status))
        for m in self.declared:
            if not self.in_release(m):
                self.relabel(m)

    def relabel(self, m: MemberDelta) -> None:
        """Label writes of one member, after its new version: removed labels go first, then the labels
        and the declared-keys record are written, then record pieces left over are deleted. The record
        is written last of all but the leftovers, so an interruption never forgets a key still live."""
        if m.removed_labels:
            self.add(m.name, DeleteLabelsParams(keys=m.removed_labels), "removed from the file")
        labels = {k: v for k, v in m.labels.items() if k != MANAGED_BY_LABEL}
        if labels:
            self.add(m.name, LabelsParams(labels=labels), _labels_reason(labels), Expect(labels=labels))
        if m.stale_record:
            self.add(m.name, DeleteLabelsParams(keys=m.stale_record), "the declared-keys record got shorter")

    def create(self, m: MemberDelta) -> None:
        assert m.spec is not None and m.config is not None and m.spec_hash is not None
        labels = {**m.spec.labels, MANAGED_BY_LABEL: MANAGED_BY_VALUE, SPEC_HASH_LABEL: m.spec_hash, **m.record,
                  **({COMMIT_LABEL: m.commit} if m.commit else {})}
        # a ramp starts with fewer replicas; the spec hash stays the declared one, where the ramp ends
        replicas = self.ramps[m.name].first if m.name in self.ramps else m.spec.base_replicas
        config = {**m.config, "metadata": {**m.config.get("metadata", {}), "instance": replicas}}
        params = CreateParams(config=config, labels=labels, replicas=replicas, sensitive_paths=m.sensitive_paths)
        self.add(m.name, params, "new member, standalone: no group traffic until it is ready",
                 Expect(traffic_state=TrafficState.STANDALONE))

    def update(self, m: MemberDelta) -> None:
        assert m.config is not None
        sim = self.member(m)
        if sim.eligible and all(not o.eligible for o in self.sim.members.values() if o.name != m.name):
            self.warn(WarningCode.SOLE_MEMBER_UPDATE, m.name,
                      f"{m.name} is the only member taking group traffic: its new version rolls out under all of "
                      "the group's traffic (no canary); add a canary member to test it first")
        removed = set(dotted(m.removed_config))
        params = UpdateConfigParams(config=without_instance(m.config),
                                    changed_paths=tuple(p for p in m.config_paths if p not in removed),
                                    sensitive_paths=m.sensitive_paths, removed_paths=m.removed_config)
        self.add(m.name, params, "new version; EAS replaces the instances in place")

    def wait(self, m: MemberDelta, reason: str = "Running with every replica before any traffic") -> None:
        self.settling.discard(m.name)
        replicas = self.member(m).replicas  # the replica target as of now (a later shrink waits again)
        updated = any(s.action is Action.UPDATE_CONFIG and s.service == m.name for s in self.steps)
        version = m.live.latest_version + 1 if m.live is not None and updated else None
        self.add(m.name, WaitParams(replicas=replicas), reason,
                 Expect(status=ServiceStatus.RUNNING if replicas else None, running=replicas, min_version=version))

    # ---- traffic --------------------------------------------------------------------------------------------

    def join_all(self, weight_of: Callable[[MemberDelta], int]) -> None:
        auto = self.sim.mode is TrafficMode.AUTO
        size: Callable[[MemberDelta], int] = self.target_replicas if auto else weight_of
        for m in ramp.join_order(self.joiners(), size, empty=self.sim.eligible_weight() == 0):
            if not auto:
                first = self.capped(weight_of(m), m.name)
                if self.member(m).weight != first:
                    self.set_weight(m, first, "weight before joining")
            tested = " and tested" if m.spec is not None and m.spec.smoke_test is not None else ""  # claim no test
            self.set_state(m, TrafficState.GROUPING, f"joins group traffic: Running{tested}")
            if auto and m.name in self.ramps:  # serving and ready: new instances join as they come up
                self.scale_within(m, "ramp: the rest of its replicas, now that it serves within max_shift",
                                  self.ramps[m.name].target)

    def move_weights(self, weight_of: Callable[[MemberDelta], int | None], reason: str) -> None:
        """Increases first (traffic in), then decreases; a 0-share member ramps within max_shift."""
        pending = [(m, w) for m in self.declared if (w := weight_of(m)) is not None and self.member(m).weight != w]
        ups = [(m, w) for m, w in pending if w > (self.member(m).weight or 0)]
        downs = [(m, w) for m, w in pending if (m, w) not in ups]
        for m, w in [*ups, *downs]:
            self.move_weight(m, w, reason)

    def leavers(self) -> list[tuple[MemberDelta, bool]]:
        """Members to take out of traffic, with True when it is a drain (delete or scale to zero)."""
        out = []
        for m in self.delta.members:
            sim = self.member(m)
            if m.kind is MemberKind.DELETE:
                if not any(s.action is Action.DRAIN and s.service == m.name for s in self.steps):
                    out.append((m, True))
            elif m in self.declared and sim.state is TrafficState.GROUPING and sim.exists:
                assert m.spec is not None
                if m.spec.traffic is TrafficState.STANDALONE:
                    out.append((m, False))
                elif self.target_replicas(m) == 0 and sim.running > 0:
                    out.append((m, True))
        return out

    def leave_all(self) -> None:
        for m, drain in self.leavers():
            if drain:
                self.add(m.name, DrainParams(), "traffic out, verified by read-back, before it shrinks or goes",
                         Expect(traffic_state=TrafficState.STANDALONE))
            else:
                self.set_state(m, TrafficState.STANDALONE, "declared standalone: out of group traffic")

    def shrink(self) -> None:
        for m in self.declared:
            target, sim = self.target_replicas(m), self.member(m)
            if target < sim.replicas:
                self.scale_within(m, "scale down after traffic moved" if target else "scale to zero after its drain",
                                  done="the scale-down is done before the next step")
        for m in self.declared:  # declared grouping without replicas: the state is restored, no share moves
            assert m.spec is not None
            sim = self.member(m)
            if m.spec.traffic is TrafficState.GROUPING and sim.exists and sim.state is TrafficState.STANDALONE \
                    and self.target_replicas(m) == 0:
                self.set_state(m, TrafficState.GROUPING, "declared grouping; takes traffic once it has replicas")

    def traffic_customized(self) -> None:
        if self.sim.mode is TrafficMode.AUTO and not self.switch_at_current_shares():
            self.move_weights(self.target_weight, "set while still auto: shares do not move yet")
            for m, _ in self.leavers():
                if (keep := self.kept_shares().get(m.name)) is not None:
                    self.set_weight(m, keep, "keeps about its share until it is taken out")
            trial = self.sim.copy()
            trial.mode = TrafficMode.CUSTOMIZED
            if trial.eligible_weight() == 0 and self.sim.eligible_weight() > 0:
                # only members without a known weight serve now (e.g. unmanaged): join first, still in auto
                self.join_all(lambda m: self.target_weight(m) or 0)
            self.add(None, ModeParams(mode=TrafficMode.CUSTOMIZED, before=TrafficMode.AUTO),
                     "weights take effect", Expect(mode=TrafficMode.CUSTOMIZED))
        self.join_all(lambda m: self.target_weight(m) or 0)
        self.move_weights(self.target_weight, "declared weight")
        self.leave_all()
        self.shrink()

    def traffic_auto(self) -> None:
        if self.sim.mode is TrafficMode.AUTO:
            self.join_all(self.target_replicas)
            self.leave_all()
            self.shrink()
            return

        most = max(max((self.target_replicas(m) for m in self.declared), default=1), 1)
        wanting = {m.name: self.target_replicas(m) for m in self.declared if self.wants_traffic(m)}
        scale = ramp.ratio_scale(self.sim, wanting, max(1, min(EQUALISE_SCALE, MAX_WEIGHT // most)), MAX_WEIGHT,
                                 self.max_shift)

        def ratio(m: MemberDelta) -> int | None:
            return scale * self.target_replicas(m) if self.wants_traffic(m) else None

        # the weights that reproduce the auto shares first (a joiner's has no effect yet): no share overshoots
        self.move_weights(ratio, "weights follow replicas, so the switch to auto moves no traffic")
        self.join_all(lambda m: ratio(m) or 0)
        self.move_weights(ratio, "weights follow replicas, so the switch to auto moves no traffic")
        self.leave_all()
        self.shrink()
        self.add(None, ModeParams(mode=TrafficMode.AUTO, before=TrafficMode.CUSTOMIZED),
                 "shares follow replicas from now on", Expect(mode=TrafficMode.AUTO))

    # ---- removal --------------------------------------------------------------------------------------------

    def remove(self) -> None:
        for m in self.delta.members:
            if m.kind is MemberKind.DELETE:
                self.add(m.name, DeleteParams(), "drained and verified: safe to delete", Expect(exists=False))

    def prune(self) -> None:
        shares = self.sim.shares()
        doomed = sorted((m for m in self.delta.members if m.kind is MemberKind.DELETE),
                        key=lambda m: (shares[m.name], m.name))
        for m in doomed:
            self.add(m.name, DrainParams(), "group removed (prune): traffic out first",
                     Expect(traffic_state=TrafficState.STANDALONE))
        self.remove()


def _labels_reason(labels: dict[str, str]) -> str:
    ours = {SPEC_HASH_LABEL, COMMIT_LABEL} | {k for k in labels if k.startswith(RECORD_LABEL)}
    return "record the applied spec" if set(labels) <= ours else "declared labels"
