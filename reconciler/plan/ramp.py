"""Auto-mode ramp: a member entering group traffic joins with fewer replicas first (DESIGN.md §3, max_shift).

In `auto` mode a member's share is its running replicas over the group's, so a join cannot be split
by weight as in `customized` mode. A member that enters traffic with replicas it does not run yet
can be split by replicas instead:

    create (or scale from 0) to k replicas -> wait Running -> smoke test -> join -> scale to its
    declared replicas -> wait Running

k is the largest count >= 1 whose share right after joining stays within `max_shift`
(k / (base + k) <= max_shift %, base = the group's running replicas when it joins). The later
scale-up raises the share of a member that already serves, which `max_shift` allows (it limits
moves from 0 %); it is the same as any scale-up of a serving member in auto mode: the member is
Running and smoke-tested, and EAS routes to each new instance as it comes up.

The ramp applies only to a managed member with a fixed replica count that does not exist yet or
has 0 replicas, joining while the group stays in auto mode. It does not apply, and the safety check
keeps refusing the jump (`--force` or a higher `--max-shift` may overrule), when:

- even k = 1 is more than `max_shift` (e.g. base 1 and max_shift below 50);
- the member already runs its replicas standalone: scaling it down to join would cut the capacity
  its direct endpoint serves now, so the planner does not do it behind the user's back;
- the member autoscales: the autoscaler keeps it at its minimum, the ramp could not hold k.

`base` is predicted from the group as prepared for the joins: members that serve then run their
target replicas (scale-ups and settling members are waited for before the first share moves).
Joins go in the order of `join_order`; a ramped member reaches its declared replicas before the
next one joins, so every later join lands on the bigger base. Where the prediction is off, the
safety check on the simulated timeline still refuses the plan: the ramp never weakens a rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor

from reconciler.plan.diff import MemberDelta
from reconciler.plan.simulate import SimGroup, SimMember
from reconciler.spec.shares import percent


@dataclass(frozen=True)
class Ramp:
    """`name` joins with `first` replicas on a group running `base`, then scales to `target`."""

    name: str
    first: int
    target: int
    base: int

    def warning(self, max_shift: int) -> str:
        return (f"{self.name} joins with {self.first} of its {self.target} replicas first "
                f"({percent(Fraction(self.first, self.base + self.first))}% of the group), then scales to "
                f"{self.target} while it serves: joining with all {self.target} would move "
                f"{percent(Fraction(self.target, self.base + self.target))} points in one step "
                f"(max_shift {max_shift})")


def weight_warning(name: str, first: int, weight: int, base: int, max_shift: int) -> str:
    """The customized-mode split: `first` is the weight it joins with on a group of weight `base`."""
    return (f"{name} enters traffic at weight {first} first, then {weight}: one step to weight {weight} would "
            f"move {percent(Fraction(weight, base + weight))} points (max_shift {max_shift})")


def join_order(joiners: Iterable[MemberDelta], size: Callable[[MemberDelta], int], empty: bool) -> list[MemberDelta]:
    """Smallest first, so every later join lands on a bigger base (stable: declared order among equals);
    into a group with no traffic the biggest goes first: it takes 100 %, there is no traffic to shift."""
    ordered = sorted(joiners, key=size)
    if ordered and empty:
        biggest = max(ordered, key=size)
        ordered = [biggest] + [j for j in ordered if j is not biggest]
    return ordered


def first_count(base: int, target: int, max_shift: int, most: int | None = None) -> int | None:
    """The largest k in [1, target), at most `most`, with k / (base + k) <= max_shift %; None when joining
    with `target` fits already (or the group has no traffic to shift) and when even k = 1 does not fit.

    Replicas in auto mode, weights in customized mode (the customized split uses it too)."""
    if base == 0 or max_shift >= 100 or 100 * target <= max_shift * (base + target):
        return None
    k = floor(Fraction(max_shift * base, 100 - max_shift))
    k = min(k, most) if most is not None else k
    return k if 1 <= k < target else None


def rampable(m: MemberDelta, sim: SimMember) -> bool:
    """Enters traffic with replicas it does not run yet: new, or at 0 replicas; fixed count, managed."""
    assert m.spec is not None
    return m.managed and m.spec.autoscaling is None and (not sim.exists or (sim.replicas == 0 and sim.running == 0))


def base_at_joins(sim: SimGroup, targets: Mapping[str, int], settling: Iterable[str]) -> int:
    """Running replicas of the serving members once the group is prepared for the joins.

    `targets`: members the plan scales up before any traffic step (they run the target then);
    `settling`: members EAS is bringing up, waited for before the first share move.
    """
    trial = sim.copy()
    for name, replicas in targets.items():
        trial.members[name].running = trial.members[name].replicas = replicas
    for name in settling:
        member = trial.members[name]
        member.running = max(member.running, member.replicas)
    return trial.eligible_weight()


def plan_ramps(joiners: Sequence[MemberDelta], sim: SimGroup, size: Callable[[MemberDelta], int], max_shift: int,
               targets: Mapping[str, int], settling: Iterable[str]) -> dict[str, Ramp]:
    """The ramp of every joiner that needs one and can have one, walking the joins in order
    (`targets`, `settling`: see `base_at_joins`)."""
    ramps: dict[str, Ramp] = {}
    base = base_at_joins(sim, targets, settling)
    for m in join_order(joiners, size, empty=base == 0):
        target = size(m)
        k = first_count(base, target, max_shift) if rampable(m, sim.members[m.name]) else None
        if k is not None:
            ramps[m.name] = Ramp(m.name, k, target, base)
        base += target  # a ramped member reaches its target before the next join
    return ramps
