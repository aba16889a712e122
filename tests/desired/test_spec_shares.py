"""Desired shares: the documented examples (4 + 1 replicas, weights 100 / 400), standalone members, black holes."""

from __future__ import annotations

from fractions import Fraction

import pytest

from desired.helpers import EXAMPLES
from reconciler.desired.loader import load_paths
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, desired_shares, is_black_hole, percent

G, S = TrafficState.GROUPING, TrafficState.STANDALONE


def shares(mode: TrafficMode, *members: tuple[str, TrafficState, int, int | None]) -> dict[str, float]:
    result = compute_shares(mode, [MemberTraffic(*m) for m in members])
    return {name: percent(value) for name, value in result.items()}


@pytest.mark.parametrize(
    ("replicas", "want"), [((4, 1), (80.0, 20.0)), ((1, 3), (25.0, 75.0)), ((2, 2), (50.0, 50.0))]
)
def test_auto_shares_follow_replicas(replicas: tuple[int, int], want: tuple[float, float]) -> None:
    got = shares(TrafficMode.AUTO, ("x", G, replicas[0], None), ("y", G, replicas[1], None))
    assert (got["x"], got["y"]) == want


def test_customized_shares_follow_weights_not_replicas() -> None:
    got = shares(TrafficMode.CUSTOMIZED, ("x", G, 4, 100), ("y", G, 1, 400))
    assert got == {"x": 20.0, "y": 80.0}


def test_standalone_member_counts_for_neither_mode() -> None:
    assert shares(TrafficMode.AUTO, ("x", G, 4, None), ("y", S, 1, None)) == {"x": 100.0, "y": 0.0}
    assert shares(TrafficMode.CUSTOMIZED, ("x", G, 1, 100), ("y", S, 1, 400)) == {"x": 100.0, "y": 0.0}


def test_members_without_running_replicas_take_nothing() -> None:
    assert shares(TrafficMode.CUSTOMIZED, ("x", G, 0, 900), ("y", G, 2, 100)) == {"x": 0.0, "y": 100.0}


def test_unset_weight_counts_as_zero() -> None:
    assert shares(TrafficMode.CUSTOMIZED, ("x", G, 1, -1), ("y", G, 1, 10)) == {"x": 0.0, "y": 100.0}


def test_black_hole_when_nothing_is_eligible() -> None:
    result = compute_shares(TrafficMode.AUTO, [MemberTraffic("x", S, 3, None), MemberTraffic("y", G, 0, None)])
    assert is_black_hole(result)
    assert not is_black_hole(compute_shares(TrafficMode.AUTO, [MemberTraffic("x", G, 1, None)]))


def test_shares_are_exact_fractions_summing_to_one() -> None:
    result = compute_shares(TrafficMode.AUTO, [MemberTraffic(n, G, 1, None) for n in "abc"])
    assert result["a"] == Fraction(1, 3)
    assert sum(result.values()) == 1
    assert percent(result["a"]) == 33.3


def test_desired_shares_of_the_examples() -> None:
    state = load_paths([EXAMPLES])
    got = {g.name: {n: percent(v) for n, v in desired_shares(g.group).items()} for g in state}
    assert got["pmml"] == {"pmml_prod": 80.0, "pmml_grey": 20.0}
    assert got["ranker"] == {"ranker_blue": 20.0, "ranker_green": 80.0}
    assert got["fraud"] == {"fraud_v2": 100.0, "fraud_v3": 0.0}
    assert got["recsys"] == {"recsys_base": 100.0, "recsys_burst": 0.0}  # autoscaled member planned at its min
