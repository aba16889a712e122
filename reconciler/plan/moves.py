"""Moves of members that serve, within max_shift: mixed into `reconciler.plan.order.GroupOrderer`.

- `out_for_update`: a serving member that gets a new version leaves group traffic first (a drain, read
  back) when the others can carry it within max_shift, or when its file takes it out anyway; otherwise
  its version rolls out in place under traffic, with an `in_place_update` warning.
- `scale_within` / `replica_path`: a serving member's replica count in auto mode moves in scale + wait
  steps, each raising no member's share by more than max_shift (`ramp.path`).
- `move_weight`: likewise a serving member's weight in customized mode (a decrease raises the others).
- `switch_at_current_shares`: auto -> customized where the declared weights would jump: weights that
  keep today's shares, the switch (no share moves), then the declared weights in steps.

The methods name `self` by the `Orderer` protocol: the state and step helpers GroupOrderer defines.
"""

from __future__ import annotations

import math
from typing import Protocol

from reconciler.desired.model import MAX_WEIGHT, TrafficMode, TrafficState
from reconciler.desired.shares import percent
from reconciler.plan import ramp
from reconciler.plan.diff import GroupDelta, MemberDelta
from reconciler.plan.model import DrainParams, Expect, ModeParams, ScaleParams, StepParams, WarningCode
from reconciler.plan.simulate import SimGroup, SimMember

EQUALISE_SCALE = 100  # weight per replica when moving customized weights to the auto ratio


class Orderer(Protocol):
    """What the moves use of the orderer."""

    sim: SimGroup
    max_shift: int
    declared: list[MemberDelta]

    @property
    def delta(self) -> GroupDelta: ...
    def add(self, service: str | None, params: StepParams, reason: str, expect: Expect | None = None) -> None: ...
    def warn(self, code: WarningCode, service: str | None, message: str) -> None: ...
    def member(self, m: MemberDelta) -> SimMember: ...
    def target_replicas(self, m: MemberDelta) -> int: ...
    def target_weight(self, m: MemberDelta) -> int | None: ...
    def set_weight(self, m: MemberDelta, weight: int, reason: str) -> None: ...
    def wait(self, m: MemberDelta, reason: str = ...) -> None: ...
    def leavers(self) -> list[tuple[MemberDelta, bool]]: ...
    def replica_path(self, m: MemberDelta, target: int | None = None) -> list[int]: ...
    def kept_shares(self) -> dict[str, int]: ...


class Moves:
    """Share moves of serving members within max_shift (see the module docstring)."""

    def out_for_update(self: Orderer, m: MemberDelta) -> None:
        """A serving member that gets a new version leaves group traffic first, so the new version takes
        traffic only once it is Running and tested (it rejoins in the traffic phase): always when its file
        takes it out anyway, else when the others' shares rise by at most max_shift. Otherwise (or when
        it is the only member serving) the version rolls out in place under traffic, with a warning."""
        sim = self.member(m)
        assert m.spec is not None
        if not (m.managed and sim.eligible and self.sim.shares()[m.name]):
            return
        out = ramp.trial(self.sim, m.name, state=TrafficState.STANDALONE)
        if out.eligible_weight() == 0:
            return  # the only member serving: `update` warns
        leaves = m.spec.traffic is TrafficState.STANDALONE or self.target_replicas(m) == 0
        if leaves or ramp.within(self.sim, out, self.max_shift):
            self.add(m.name, DrainParams(), "new version: out of group traffic until it is Running and tested",
                     Expect(traffic_state=TrafficState.STANDALONE))
            return
        share, rise = self.sim.shares()[m.name], ramp.max_rise(self.sim, out)
        self.warn(WarningCode.IN_PLACE_UPDATE, m.name,
                  f"{m.name} carries {percent(share)}% of the group: draining it would move {percent(rise)} points "
                  f"onto the others (max_shift {self.max_shift}), so its new version rolls out in place under "
                  f"traffic (EAS replaces the instances one by one); --max-shift {math.ceil(rise * 100)} drains it "
                  "first")

    def scale_within(self: Orderer, m: MemberDelta, reason: str, target: int | None = None,
                     done: str = "every replica Running before the next step") -> None:
        """Scale (and wait for) a member to `target` (default its target), in steps where it serves in auto
        mode, so no member's share rises by more than max_shift in one step (`ramp.path`)."""
        values = self.replica_path(m, target)
        if len(values) > 2:
            rise = ramp.max_rise(self.sim, ramp.trial(self.sim, m.name, running=values[-1], replicas=values[-1]))
            self.warn(WarningCode.SHARE_SPLIT, m.name, ramp.split_warning(m.name, "replicas", values, rise,
                                                                          self.max_shift))
        for count in values[1:]:
            self.add(m.name, ScaleParams(replicas=count, before=self.member(m).replicas), reason, Expect())
            self.wait(m, done)

    def replica_path(self: Orderer, m: MemberDelta, target: int | None = None) -> list[int]:
        """Replica counts from now to `target` (default: its target); steps only for a member serving in auto mode."""
        sim, goal = self.member(m), self.target_replicas(m) if target is None else target
        if self.sim.mode is not TrafficMode.AUTO or not sim.eligible:
            return [sim.replicas, goal]
        return ramp.path(self.sim, m.name, sim.replicas, goal, lambda v: {"running": v, "replicas": v},
                         self.max_shift)

    def move_weight(self: Orderer, m: MemberDelta, weight: int, reason: str) -> None:
        """Set a weight, in steps where the member serves in customized mode, so that no member's share
        rises by more than max_shift in one step (`ramp.path`; a decrease raises the others)."""
        sim = self.member(m)
        values = [sim.weight or 0, weight]
        if self.sim.mode is TrafficMode.CUSTOMIZED and sim.eligible:
            values = ramp.path(self.sim, m.name, values[0], weight, lambda v: {"weight": v}, self.max_shift)
        if len(values) > 2:
            rise = ramp.max_rise(self.sim, ramp.trial(self.sim, m.name, weight=weight))
            self.warn(WarningCode.SHARE_SPLIT, m.name, ramp.split_warning(m.name, "weight", values, rise,
                                                                          self.max_shift))
        for value in values[1:-1]:
            self.set_weight(m, value, "ramp: within max_shift of the group")
        self.set_weight(m, weight, reason)

    def switch_at_current_shares(self: Orderer) -> bool:
        """auto -> customized where writing the declared weights and switching would raise a share by more
        than max_shift: weights that keep today's shares (`EQUALISE_SCALE` x running replicas), the switch
        (no share moves), and the declared weights in steps after it (`move_weights`). False (nothing
        added) where the one switch fits, or a member eas-gitops does not manage serves (its weight is
        not ours to set)."""
        serving = [m for m in self.delta.members if self.member(m).eligible]
        if not serving or any(not m.managed for m in serving):
            return False
        direct = self.sim.copy()
        direct.mode = TrafficMode.CUSTOMIZED
        for m in self.declared:
            if (w := self.target_weight(m)) is not None:
                direct.members[m.name].weight = w
        for name, keep in self.kept_shares().items():
            direct.members[name].weight = keep
        if ramp.within(self.sim, direct, self.max_shift):
            return False
        scale = max(1, min(EQUALISE_SCALE, MAX_WEIGHT // max(self.member(m).running for m in serving)))
        for m in serving:
            self.set_weight(m, scale * self.member(m).running, "today's share, set while still auto: the switch "
                                                                "moves no traffic, the declared weights follow")
        self.add(None, ModeParams(mode=TrafficMode.CUSTOMIZED, before=TrafficMode.AUTO),
                 "weights take effect: shares unchanged", Expect(mode=TrafficMode.CUSTOMIZED))
        return True

    def kept_shares(self: Orderer) -> dict[str, int]:
        """auto -> customized: the weight each serving leaver keeps until it is taken out (about its share)."""
        shares = self.sim.shares()
        return {m.name: max(1, round(float(shares[m.name]) * 100))
                for m, _ in self.leavers() if self.member(m).eligible}

