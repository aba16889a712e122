"""Traffic shares, computed the way EAS computes them.

`compute_shares` is the one implementation the reconciler uses (validate, the planner's
timeline simulation); the emulator has its own, on purpose, so tests compare the two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction

from reconciler.desired.model import ServiceGroup, TrafficMode, TrafficState


@dataclass(frozen=True)
class MemberTraffic:
    """What share math needs of one member."""

    name: str
    state: TrafficState
    running: int  # running replicas
    weight: int | None  # stored weight (customized mode); None or -1 = unset, counts as 0


def compute_shares(mode: TrafficMode, members: Iterable[MemberTraffic]) -> dict[str, Fraction]:
    """Each member's share of the group in [0, 1]; all zero when the group is a black hole.

    Eligible: grouping and running > 0. w = running (auto) or weight (customized).
    share = w / sum(w over eligible members).
    """
    members = list(members)
    weights: dict[str, int] = {}
    for m in members:
        eligible = m.state is TrafficState.GROUPING and m.running > 0
        if not eligible:
            weights[m.name] = 0
        elif mode is TrafficMode.AUTO:
            weights[m.name] = m.running
        else:
            weights[m.name] = max(m.weight or 0, 0)
    total = sum(weights.values())
    return {name: (Fraction(w, total) if total else Fraction(0)) for name, w in weights.items()}


def is_black_hole(shares: dict[str, Fraction]) -> bool:
    return not any(shares.values())


def desired_members(group: ServiceGroup) -> list[MemberTraffic]:
    """Members as the desired state means them: every replica Running (autoscaled: at its minimum)."""
    return [MemberTraffic(s.name, s.traffic, s.base_replicas, s.weight) for s in group.spec.services]


def desired_shares(group: ServiceGroup) -> dict[str, Fraction]:
    """Each member's share once the desired state is reached."""
    return compute_shares(group.spec.traffic_mode, desired_members(group))


def percent(share: Fraction) -> float:
    """A share as a percentage rounded to one decimal, for display."""
    return round(float(share) * 100, 1)
