"""The steps of a release (`reconciler.plan.rollout` says what a release is): mixed into GroupOrderer.

Run after `prepare` (scale-ups, other members' new versions, creates) and before the traffic phase:

1. switch   in auto mode, every serving member's weight at today's share (still auto, nothing moves),
            then `set_mode customized` (nothing moves): a ramp needs weights
2. canary   the progress label at step 0 and the version to return to (before any change to the
            canary, so an apply killed from here on is recognised as this release), the canary
            drained when it serves, its new version, wait Running, smoke test, its labels
3. ramp     per rollout step k (from the one a resumed release reached): the canary's weight (and
            grouping at the first) so its share is at most step k's share, then `bake` k
4. promote  each primary with a new version, one after the other, in place while the canary carries
            its last share: new version, wait Running, smoke test, labels

The traffic phase then settles the group on the declared shares (declared weights, or back to
auto mode), and the very last step deletes the progress labels (`finish_release`).

Every step is an ordinary step: the simulation and the safety rules check it like any other. On
top, each ramp step is checked against `max_shift` here with the way out (a step in between, or
`--max-shift`), and the abort path (`abort_steps`, run only when a bake, the canary or its smoke
test fails) is checked from every bake: the canary leaving must never black-hole the group.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from reconciler.desired.model import MAX_WEIGHT, TrafficMode, TrafficState
from reconciler.desired.rollout import PREVIOUS_LABEL, PROGRESS_LABEL, OnFailure, ProgressLabel
from reconciler.desired.shares import percent
from reconciler.errors import PlanError
from reconciler.live.model import SPEC_HASH_LABEL, ServiceStatus
from reconciler.plan import rollout as rules
from reconciler.plan.diff import GroupDelta, MemberDelta
from reconciler.plan.model import (
    Action,
    BakeParams,
    DeleteLabelsParams,
    DrainParams,
    Expect,
    LabelsParams,
    ModeParams,
    RolloutPlan,
    RolloutStepPlan,
    SmokeTestParams,
    Step,
    StepParams,
    VersionParams,
    WaitParams,
)
from reconciler.plan.simulate import Frame, SimGroup, SimMember


class ReleaseOrderer(Protocol):
    """What the release steps use of the orderer."""

    sim: SimGroup
    max_shift: int
    steps: list[Step]
    declared: list[MemberDelta]
    release: rules.Release | None

    @property
    def delta(self) -> GroupDelta: ...
    def add(self, service: str | None, params: StepParams, reason: str, expect: Expect | None = None) -> None: ...
    def member(self, m: MemberDelta) -> SimMember: ...
    def set_weight(self, m: MemberDelta, weight: int, reason: str) -> None: ...
    def set_state(self, m: MemberDelta, state: TrafficState, reason: str) -> None: ...
    def wait(self, m: MemberDelta, reason: str = ...) -> None: ...
    def update(self, m: MemberDelta) -> None: ...
    def relabel(self, m: MemberDelta) -> None: ...
    def smoke(self, m: MemberDelta) -> None: ...
    def release_weights(self) -> list[int]: ...
    def check_rise(self, k: int, weight: int) -> None: ...


def _where(delta: GroupDelta) -> str:
    return f"group {delta.region}/{delta.name}"


class ReleaseSteps:
    """The release phase of a group (see the module docstring)."""

    def release_phase(self: ReleaseOrderer) -> None:
        r = self.release
        if r is None or r.finished:
            return
        if self.sim.mode is TrafficMode.AUTO:
            _switch(self, r)
        _ready_canary(self, r)
        weights = self.release_weights()
        spec, canary = r.spec, r.canary
        for k in range(r.start, len(spec.steps) + 1):
            step = spec.steps[k - 1]
            self.check_rise(k, weights[k - 1])
            if self.member(canary).weight != weights[k - 1]:
                self.set_weight(canary, weights[k - 1],
                                f"rollout step {k}: the canary's share at most {step.share:g} %")
            if self.member(canary).state is not TrafficState.GROUPING:
                self.set_state(canary, TrafficState.GROUPING, f"rollout step {k}: the canary joins group traffic")
            shares = self.sim.shares()
            baseline = [n for n, m in self.sim.members.items() if n != canary.name and m.eligible]
            self.add(canary.name, BakeParams(step=k, of=len(spec.steps), share=percent(shares[canary.name]),
                                             bake_seconds=step.bake, canary=canary.name, baseline=baseline,
                                             analysis=spec.analysis),
                     f"rollout step {k} of {len(spec.steps)}: judged against {', '.join(baseline)}")
        for m in r.promotes:  # one after the other: the canary and the other primaries carry the traffic
            self.update(m)
            self.wait(m, "promotion: the new version Running while the canary carries its share")
            self.smoke(m)
            self.relabel(m)

    def release_weights(self: ReleaseOrderer) -> list[int]:
        """The canary's weight per step; scales the baseline's weights first where they are too coarse."""
        r = self.release
        assert r is not None
        shares = [s.share for s in r.spec.steps]
        others = {n: m for n, m in self.sim.members.items() if n != r.canary.name and m.eligible}
        base = sum(m.weight or 0 for m in others.values())
        weights = rules.ramp_weights(shares, base)
        if weights is not None:
            return weights
        factor = rules.baseline_factor(shares, [m.weight or 0 for m in others.values()])
        canary_out = not self.member(r.canary).eligible
        if factor is None or not canary_out or any(not m.managed for m in others.values()):
            top = max(shares)
            most = math.floor(MAX_WEIGHT * (100 - top) / top)
            raise PlanError(f"{_where(self.delta)}: on the baseline {', '.join(others) or '(none)'} of total weight "
                            f"{base}, no canary weight from 1 to {MAX_WEIGHT} gives {r.canary.name} the step shares "
                            f"{', '.join(f'{s:g} %' for s in shares)}: give the baseline a total weight between "
                            f"{math.ceil((100 - shares[0]) / shares[0])} and {most} (step {top:g} % needs at most "
                            f"{most}), or change the step shares")
        for m in self.delta.members:
            if m.name in others:
                self.set_weight(m, factor * (others[m.name].weight or 0),
                                "finer weights for the ramp, all multiplied alike (the canary is out of traffic)")
        weights = rules.ramp_weights(shares, factor * base)
        assert weights is not None  # baseline_factor
        return weights

    def check_rise(self: ReleaseOrderer, k: int, weight: int) -> None:
        """Refuse a rollout step that raises the canary's share by more than max_shift, with the way out."""
        r = self.release
        assert r is not None
        trial = self.sim.copy()
        member = trial.members[r.canary.name]
        member.weight, member.state = weight, TrafficState.GROUPING
        before, after = self.sim.shares()[r.canary.name], trial.shares()[r.canary.name]
        rise = (after - before) * 100
        if rise <= self.max_shift:
            return
        middle = (float(before) * 100 + r.spec.steps[k - 1].share) / 2
        raise PlanError(
            f"{_where(self.delta)}: rollout step {k} raises the canary {r.canary.name} from {percent(before)} % to "
            f"{percent(after)} % ({float(rise):.1f} points), more than max_shift {self.max_shift}: add a step in "
            f"between (e.g. share: {math.floor(middle)}) in spec.rollout.steps, or plan with --max-shift "
            f"{math.ceil(rise)}")

    def smoke(self: ReleaseOrderer, m: MemberDelta) -> None:
        assert m.spec is not None
        if m.spec.smoke_test is not None:
            t = m.spec.smoke_test
            self.add(m.name, SmokeTestParams(path=t.path, body=t.body, expect_status=t.expect_status),
                     "direct endpoint answers before the release goes on", Expect(http_status=t.expect_status))

    def finish_release(self: ReleaseOrderer) -> None:
        """The last step of a release: its progress labels go (the release is done). Without a release, labels
        an earlier one left behind (an abort, then a file that no longer makes the release) go too."""
        r = self.release
        if r is None:
            for m in self.declared:
                stale = tuple(k for k in (PROGRESS_LABEL, PREVIOUS_LABEL) if m.live is not None and k in m.live.labels)
                if stale:
                    self.add(m.name, DeleteLabelsParams(keys=stale), "no release is under way: leftover progress "
                                                                     "labels of an earlier one go")
            return
        written = any(s.action is Action.UPDATE_LABELS and PROGRESS_LABEL in getattr(s.params, "labels", {})
                      for s in self.steps)
        keys = (PROGRESS_LABEL, PREVIOUS_LABEL) if written else r.labels
        if keys:
            self.add(r.canary.name, DeleteLabelsParams(keys=keys), "the release is done: its progress labels go")


def _switch(o: ReleaseOrderer, r: rules.Release) -> None:
    """auto -> customized for the ramp at today's shares: weights first (no effect while auto), then the mode."""
    serving = {n: m for n, m in o.sim.members.items() if m.eligible}
    if any(not m.managed for m in serving.values()):
        raise PlanError(f"{_where(o.delta)}: a release in auto mode needs weights, and a member eas-gitops does not "
                        "manage serves (its weight is not ours to set): adopt it with --adopt, or take it out of "
                        "group traffic first")
    scale = rules.switch_scale([s.share for s in r.spec.steps], {n: m.running for n, m in serving.items()},
                               r.canary.name)
    if scale is None:
        raise PlanError(f"{_where(o.delta)}: no weights from 1 to 1000 reproduce today's shares and give the canary "
                        f"{r.canary.name} its step shares: choose step shares between 1 and 90")
    for m in o.delta.members:
        if m.name in serving:
            o.set_weight(m, scale * serving[m.name].running,
                         "today's share, set while still auto: the ramp needs weights, the switch moves nothing")
    o.add(None, ModeParams(mode=TrafficMode.CUSTOMIZED, before=TrafficMode.AUTO),
          "the ramp runs on weights: shares unchanged", Expect(mode=TrafficMode.CUSTOMIZED))


def _ready_canary(o: ReleaseOrderer, r: rules.Release) -> None:
    """The canary on the new version, Running and tested, out of group traffic unless a resumed ramp kept it in."""
    c = r.canary
    if o.member(c).replicas == 0:
        raise PlanError(f"{_where(o.delta)}: the canary {c.name} has no replica to carry the release: declare "
                        "replicas: 1 or more (it may scale down again in a later change)")
    if c.config_paths:
        labels = {PROGRESS_LABEL: ProgressLabel(r.release_id, 0, 0).format()}
        if r.previous is not None:
            labels[PREVIOUS_LABEL] = r.previous.format()
        o.add(c.name, LabelsParams(labels=labels),
              "release: its progress is kept on the canary from now on (a later apply resumes it)",
              Expect(labels=labels))
        if o.member(c).eligible:
            o.add(c.name, DrainParams(), "release: out of group traffic until the new version is Running and tested",
                  Expect(traffic_state=TrafficState.STANDALONE))
        o.update(c)
        o.wait(c, "release: the new version Running before any traffic")
    elif not o.member(c).ready:
        o.wait(c, "release: Running with every replica before any traffic")
    if c.config_paths or not o.member(c).eligible:
        o.smoke(c)
    o.relabel(c)


# ---- the release as the plan shows it ------------------------------------------------------------------------


def abort_steps(r: rules.Release, replicas: int) -> list[Step]:
    """What an abort runs: the canary out of group traffic (read back), back on its previous version for
    `on_failure: rollback` (and its spec hash, so the next plan sees the new version missing), then the
    progress label at step 0: the next apply starts the release from the first step."""
    name = r.canary.name
    params: list[tuple[StepParams, str, Expect]] = [
        (DrainParams(), "abort: out of group traffic first, verified by read-back",
         Expect(traffic_state=TrafficState.STANDALONE))]
    labels = {PROGRESS_LABEL: ProgressLabel(r.release_id, 0, 0).format()}
    if r.spec.on_failure is OnFailure.ROLLBACK and r.previous is not None:
        params.append((VersionParams(version=r.previous.version), "abort: back on the version before the release",
                       Expect()))
        params.append((WaitParams(replicas=replicas), "abort: the previous version Running",
                       Expect(status=ServiceStatus.RUNNING if replicas else None, running=replicas)))
        if r.previous.spec_hash:
            labels[SPEC_HASH_LABEL] = r.previous.spec_hash
    params.append((LabelsParams(labels=labels), "abort: the next apply starts the release from step 1",
                   Expect(labels=labels)))
    return [Step(index=i, action=p.action, service=name, params=p, reason=why, expect=expect)
            for i, (p, why, expect) in enumerate(params, start=1)]


def rollout_plan(delta: GroupDelta, r: rules.Release | None, steps: Sequence[Step], frames: Sequence[Frame]
                 ) -> RolloutPlan | None:
    """The release summary of a group plan; PlanError when an abort from some bake would black-hole the group."""
    bakes = [s for s in steps if s.params.action is Action.BAKE]
    if r is None or not bakes:
        return None
    first = bakes[0].params
    assert first.action is Action.BAKE
    replicas = frames[bakes[0].index].group.members[r.canary.name].replicas
    abort = abort_steps(r, replicas)
    for bake in bakes:
        _check_abort(delta, r, bake, frames[bake.index])
    return RolloutPlan(
        canary=r.canary.name, baseline=first.baseline, release=r.release_id,
        steps=[RolloutStepPlan(share=s.share, bake_seconds=s.bake) for s in r.spec.steps],
        analysis=r.spec.analysis, on_failure=r.spec.on_failure,
        previous_version=r.previous.version if r.previous else None, abort_steps=abort,
        min_duration_seconds=sum(s.bake for s in r.spec.steps[r.start - 1:]),
        resumed_from=r.start if r.resumed else None, promotes=[m.name for m in r.promotes])


def _check_abort(delta: GroupDelta, r: rules.Release, bake: Step, frame: Frame) -> None:
    after = frame.group.copy()
    after.members[r.canary.name].state = TrafficState.STANDALONE
    if not any(after.shares().values()):
        raise PlanError(f"{_where(delta)}: an abort at step {bake.index} would take {r.canary.name} out of group "
                        "traffic with no other member serving (the group would answer 503): keep a primary serving "
                        "during the release")
