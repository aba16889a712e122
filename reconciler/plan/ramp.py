"""Ramps within max_shift: a joining member with fewer replicas first (auto mode), and moves in steps.

In `auto` mode a member's share is its running replicas over the group's, so a join cannot be split
by weight as in `customized` mode. A member that enters traffic with replicas it does not run yet
can be split by replicas instead:

    create (or scale from 0) to k replicas -> wait Running -> smoke test -> join -> scale to its
    declared replicas -> wait Running

k is the largest count >= 1 whose share right after joining stays within `max_shift`
(k / (base + k) <= max_shift %, base = the group's running replicas when it joins). The later
scale-up raises the share of a member that already serves, so it is split too (`path`), as any
scale-up of a serving member in auto mode: the member is Running and smoke-tested, and EAS routes to
each new instance as it comes up.

Moves of a serving member (a weight in customized mode, a replica count in auto mode) go through
`path`: each step is the largest change that raises no member's share by more than `max_shift`
points (`furthest`, a binary search: a share moves monotonically with a weight or a count).

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

from reconciler.desired.model import TrafficMode
from reconciler.desired.shares import percent
from reconciler.plan.diff import MemberDelta
from reconciler.plan.simulate import SimGroup, SimMember


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


# ---- steps within max_shift for members that already serve (weights, replica counts) ------------------------


def max_rise(before: SimGroup, after: SimGroup) -> Fraction:
    """The largest rise of any member's share from `before` to `after`; 0 when the group took no
    traffic before (there is no traffic to shift: the first member takes 100 %)."""
    old, new = before.shares(), after.shares()
    if not any(old.values()):
        return Fraction(0)
    return max((share - old.get(name, Fraction(0)) for name, share in new.items()), default=Fraction(0))


def within(before: SimGroup, after: SimGroup, max_shift: int) -> bool:
    return max_rise(before, after) * 100 <= max_shift


def trial(sim: SimGroup, name: str, **facts: object) -> SimGroup:
    """A copy of `sim` with the member's fields set to `facts` (e.g. weight=, running= and replicas=)."""
    out = sim.copy()
    for key, value in facts.items():
        setattr(out.members[name], key, value)
    return out


def furthest(start: int, target: int, fits: Callable[[int], bool]) -> int | None:
    """The value in (start, target] (either direction) furthest from `start` for which `fits` holds; None when
    even the neighbour of `start` does not fit. `fits` must hold up to some distance from `start` and not
    beyond (a share moves monotonically with a weight or a replica count), so a binary search finds it."""
    if start == target or fits(target):
        return target
    way = 1 if target > start else -1
    if not fits(start + way):
        return None
    good, bad = start + way, target  # fits(good), not fits(bad)
    while abs(bad - good) > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


def split_warning(name: str, what: str, values: Sequence[int], rise: Fraction, max_shift: int) -> str:
    """A move of a serving member split into steps: `values` are the counts or weights it passes through."""
    path = " -> ".join(str(v) for v in values)
    return (f"{name}'s {what} moves in {len(values) - 1} steps ({path}): one step would move "
            f"{percent(rise)} points (max_shift {max_shift})")


def path(sim: SimGroup, name: str, start: int, target: int, facts: Callable[[int], dict[str, object]],
         max_shift: int) -> list[int]:
    """`start`, then every value (a weight, a replica count: `facts` turns it into member fields) the member
    moves through to `target`, each step raising no member's share by more than `max_shift` points on the
    group as it is in `sim` otherwise. Where even the smallest step does not fit, the rest is one step to
    `target`: the safety check then refuses it (force may overrule)."""
    values = [start]
    while values[-1] != target:
        here = trial(sim, name, **facts(values[-1]))
        step = furthest(values[-1], target,
                        lambda v, here=here: within(here, trial(here, name, **facts(v)), max_shift))  # type: ignore[misc]
        values.append(target if step is None else step)
    return values



def weight_steps(sim: SimGroup, weights: Mapping[str, int], max_shift: int) -> int:
    """How many set_weight steps moving to `weights` takes in customized mode: increases first, then
    decreases, each split within max_shift as the orderer does (`path`)."""
    sim = sim.copy()
    sim.mode = TrafficMode.CUSTOMIZED
    count = 0
    for name, weight in sorted(weights.items(), key=lambda kv: kv[1] <= (sim.members[kv[0]].weight or 0)):
        member = sim.members[name]
        if (member.weight or 0) == weight:
            continue
        values = path(sim, name, member.weight or 0, weight, lambda v: {"weight": v}, max_shift) \
            if member.eligible else [weight]
        count += max(len(values) - 1, 1)
        member.weight = weight
    return count


def ratio_scale(sim: SimGroup, replicas: Mapping[str, int], default: int, limit: int, max_shift: int) -> int:
    """The weight per replica that makes customized weights reproduce auto-mode shares (weight = scale x
    target replicas of each member in `replicas`, every weight <= `limit`): the scale whose moves take the
    fewest steps (`weight_steps`), so that few weights move and no share overshoots on its way (50/50
    towards 4/1 replicas keeps 50 and sets 200, one step; 100 per replica would pass through 89/11).
    Candidates: `default` and each serving member's weight per replica; ties: `default`, then the smaller."""
    most = max(replicas.values(), default=1) or 1
    candidates = {default} | {(m.weight or 0) // n for name, n in replicas.items()
                              if (m := sim.members[name]).eligible and n > 0 and (m.weight or 0) % n == 0}
    fitting = [c for c in candidates if c >= 1 and c * most <= limit] or [default]

    def cost(scale: int) -> tuple[int, bool, int]:
        steps = weight_steps(sim, {name: scale * n for name, n in replicas.items()}, max_shift)
        return steps, scale != default, scale

    return min(fitting, key=cost)
