"""Auto-mode ramp (reconciler.plan.ramp): a too-big join starts with fewer replicas, then scales up while serving."""

from __future__ import annotations

from fractions import Fraction

import pytest

from reconciler.errors import PlanError
from reconciler.plan import Action, build_plan
from reconciler.plan.model import GroupPlan, WarningCode
from reconciler.plan.ramp import first_count

from .factory import group, live, svc


def _actions(g: GroupPlan) -> list[tuple[str, str | None, int | None]]:
    out = []
    for s in g.steps:
        p = s.params
        count = p.replicas if p.action in (Action.CREATE_SERVICE, Action.SCALE, Action.WAIT_RUNNING) else None
        out.append((s.action.value, s.service, count))
    return out


@pytest.mark.parametrize(("base", "target", "max_shift", "k"), [
    (1, 4, 50, 1), (3, 10, 50, 3), (4, 10, 20, 1), (9, 10, 25, 3), (1, 4, 40, None), (0, 4, 50, None),
    (4, 1, 50, None), (1, 4, 100, None), (2, 3, 50, 2),
])
def test_first_count_is_the_largest_count_within_max_shift(base: int, target: int, max_shift: int,
                                                              k: int | None) -> None:
    assert first_count(base, target, max_shift) == k
    if k is not None:
        assert Fraction(100 * k, base + k) <= max_shift < Fraction(100 * (k + 1), base + k + 1)
        assert Fraction(100 * target, base + target) > max_shift


def test_a_new_member_joins_with_fewer_replicas_then_scales_up() -> None:
    state = live(("g", [svc("a", 3)], "auto"))
    plan = build_plan([group("g", [svc("a", 3), svc("b", 10, smoke_test={"path": "/"})])], state, max_shift=50)
    g = plan.groups[0]
    assert _actions(g) == [
        ("create_service", "b", 3), ("wait_running", "b", 3), ("smoke_test", "b", None),
        ("set_traffic_state", "b", None), ("scale", "b", 10), ("wait_running", "b", 10)]
    assert g.steps[0].params.config["metadata"]["instance"] == 3  # type: ignore[union-attr]
    assert [t.shares["b"] for t in g.timeline] == [0.0, 0.0, 0.0, 0.0, 50.0, 50.0, 76.9]
    (warning,) = g.warnings
    assert warning.code is WarningCode.SHARE_SPLIT and warning.service == "b"
    assert "3 of its 10 replicas first (50.0% of the group)" in warning.message and "76.9 points" in warning.message


def test_a_member_growing_from_zero_replicas_is_scaled_in_two_steps() -> None:
    state = live(("g", [svc("a", 1), svc("b", 0, traffic="standalone")], "auto"))
    g = build_plan([group("g", [svc("a", 1), svc("b", 4)])], state).groups[0]
    assert _actions(g) == [("scale", "b", 1), ("wait_running", "b", 1), ("set_traffic_state", "b", None),
                           ("scale", "b", 4), ("wait_running", "b", 4)]
    assert g.timeline[-1].shares == {"a": 20.0, "b": 80.0}


def test_later_joins_land_on_the_ramped_members_full_count() -> None:
    state = live(("g", [svc("a", 2)], "auto"))
    g = build_plan([group("g", [svc("a", 2), svc("b", 6), svc("c", 9)])], state).groups[0]
    assert [(s.action.value, s.service) for s in g.steps if s.action in (Action.SET_TRAFFIC_STATE, Action.SCALE)] \
        == [("set_traffic_state", "b"), ("scale", "b"), ("set_traffic_state", "c"), ("scale", "c")]
    creates = {s.service: s.params.replicas for s in g.steps if s.params.action is Action.CREATE_SERVICE}
    assert creates == {"b": 2, "c": 8}  # c joins on 2 + 6 running: 8 / 16 = 50 %
    assert g.timeline[-1].shares == {"a": 11.8, "b": 35.3, "c": 52.9}


def test_no_ramp_when_even_one_replica_is_too_much() -> None:
    state = live(("g", [svc("a", 1)], "auto"))
    with pytest.raises(PlanError, match=r"rule max_shift .*b goes 0% -> 80.0% .* max_shift 40"):
        build_plan([group("g", [svc("a", 1), svc("b", 4)])], state, max_shift=40)


def test_a_standalone_member_running_all_its_replicas_is_not_scaled_down_to_join() -> None:
    state = live(("g", [svc("a", 1), svc("b", 4, traffic="standalone")], "auto"))
    with pytest.raises(PlanError, match=r"rule max_shift .*b goes 0% -> 80.0%"):
        build_plan([group("g", [svc("a", 1), svc("b", 4)])], state)


def test_an_autoscaled_member_is_not_ramped() -> None:
    state = live(("g", [svc("a", 1)], "auto"))
    scaled = svc("b", 1, autoscaling={"min": 4, "max": 8, "metric": "qps", "threshold": 10})
    del scaled["replicas"]
    with pytest.raises(PlanError, match="rule max_shift"):
        build_plan([group("g", [svc("a", 1), scaled])], state)


def test_no_ramp_when_the_join_fits_or_the_group_is_new() -> None:
    state = live(("g", [svc("a", 4)], "auto"))
    fits = build_plan([group("g", [svc("a", 4), svc("b", 4)])], state).groups[0]
    new = build_plan([group("n", [svc("a", 1), svc("b", 4)])], live()).groups[0]
    for g in (fits, new):
        assert not g.warnings and not [s for s in g.steps if s.action is Action.SCALE]
