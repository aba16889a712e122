"""The emulator's own traffic math, kept apart from the planner's on purpose.

Eligible member: TrafficState grouping and RunningInstance > 0. Its weight w is RunningInstance in
`auto` mode and the stored Weight in `customized` mode (-1 per `weight_minus_one`). share(m) =
w(m) / Σ w over eligible members; a group whose eligible weights sum to 0 is a black hole (503).
The gateway spreads requests with smooth weighted round robin, which over any window of Σw
requests gives each member exactly w of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction

from reconciler.emulator.models import TrafficMode, TrafficState
from reconciler.emulator.settings import WeightMinusOne


@dataclass(frozen=True)
class Member:
    name: str
    state: TrafficState
    running: int
    weight: int  # stored weight


def effective_weights(mode: TrafficMode, members: Iterable[Member], minus_one: WeightMinusOne) -> dict[str, int]:
    """w per member; 0 for every ineligible member."""
    out: dict[str, int] = {}
    for m in members:
        if m.state is not TrafficState.GROUPING or m.running <= 0:
            out[m.name] = 0
        elif mode is TrafficMode.AUTO:
            out[m.name] = m.running
        elif m.weight == -1:
            out[m.name] = m.running if minus_one == "running_instances" else 0
        else:
            out[m.name] = max(0, m.weight)
    return out


def shares(weights: Mapping[str, int]) -> dict[str, Fraction]:
    total = sum(weights.values())
    return {name: Fraction(w, total) if total else Fraction(0) for name, w in weights.items()}


def is_black_hole(weights: Mapping[str, int]) -> bool:
    return sum(weights.values()) == 0


def percent_weights(weights: Mapping[str, int]) -> dict[str, int]:
    """Shares in whole percent, largest remainder first (ties by name), summing to 100 unless all 0."""
    total = sum(weights.values())
    if not total:
        return dict.fromkeys(weights, 0)
    exact = {name: Fraction(100 * w, total) for name, w in weights.items()}
    floors = {name: int(value) for name, value in exact.items()}
    left = 100 - sum(floors.values())
    order = sorted(exact, key=lambda n: (-(exact[n] - floors[n]), n))
    for name in order[:left]:
        floors[name] += 1
    return floors


def listed_weights(mode: TrafficMode, members: list[Member], minus_one: WeightMinusOne) -> dict[str, int]:
    """The `Weight` ListServices shows: share percent in auto mode, the stored weight in customized mode."""
    if mode is TrafficMode.CUSTOMIZED:
        return {m.name: m.weight for m in members}
    return percent_weights(effective_weights(mode, members, minus_one))


class SmoothRoundRobin:
    """Deterministic smooth weighted round robin (nginx style) over one group's members.

    State resets when the set of weights changes, so a new split takes effect at once.
    """

    def __init__(self) -> None:
        self._weights: dict[str, int] = {}
        self._current: dict[str, int] = {}

    def pick(self, weights: Mapping[str, int]) -> str | None:
        live = {name: w for name, w in sorted(weights.items()) if w > 0}
        if not live:
            return None
        if live != self._weights:
            self._weights = live
            self._current = dict.fromkeys(live, 0)
        total = sum(live.values())
        for name, w in live.items():
            self._current[name] += w
        best = ""
        for name in live:  # first maximum in name order: deterministic
            if not best or self._current[name] > self._current[best]:
                best = name
        self._current[best] -= total
        return best
