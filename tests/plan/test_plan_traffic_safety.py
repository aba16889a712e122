"""Traffic safety of serving members: drain before a new version, every share rise within max_shift, mode
switches that move no share past its target."""

from __future__ import annotations

import itertools

import pytest

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.errors import PlanError
from reconciler.plan import Action, build_plan
from reconciler.plan.model import GroupPlan, WarningCode
from reconciler.plan.ramp import furthest, ratio_scale
from reconciler.plan.simulate import SimGroup, SimMember

from .factory import group, live, svc


def _actions(g: GroupPlan) -> list[tuple[str, str | None]]:
    return [(s.action.value, s.service) for s in g.steps]


def _shares(g: GroupPlan, name: str) -> list[float]:
    return [t.shares[name] for t in g.timeline]


def _rises(g: GroupPlan) -> list[float]:
    """Every member's rise at every step (timeline shares are rounded to 0.1)."""
    return [after.shares[n] - before.shares[n] for before, after in itertools.pairwise(g.timeline)
            for n in after.shares]


def test_canary_declared_standalone_with_a_new_version_is_drained_before_it_changes() -> None:
    state = live(("g", [svc("a", 1), svc("b", 4)], "auto"))  # b serves 80 %
    g = build_plan([group("g", [svc("a", 1), svc("b", 4, traffic="standalone", version="v2")])], state).groups[0]
    assert _actions(g) == [("drain", "b"), ("update_config", "b"), ("wait_running", "b"), ("update_labels", "b")]
    assert _shares(g, "b") == [80.0, 0.0, 0.0, 0.0, 0.0]  # the new version never serves


def test_serving_canary_with_a_new_version_drains_is_tested_and_rejoins() -> None:
    state = live(("g", [svc("a", 4), svc("b", 1)], "auto"))
    desired = [group("g", [svc("a", 4), svc("b", 1, version="v2", smoke_test={"path": "/"})])]
    g = build_plan(desired, state).groups[0]
    assert _actions(g) == [("drain", "b"), ("update_config", "b"), ("wait_running", "b"), ("smoke_test", "b"),
                           ("update_labels", "b"), ("set_traffic_state", "b")]
    assert g.steps[2].expect.min_version == 2
    assert _shares(g, "b") == [20.0, 0.0, 0.0, 0.0, 0.0, 0.0, 20.0]
    assert not g.warnings


def test_customized_member_with_a_new_version_rejoins_at_its_weight() -> None:
    state = live(("g", [svc("a", 1, weight=300), svc("b", 1, weight=100)], "customized"))
    desired = [group("g", [svc("a", 1, weight=300), svc("b", 1, weight=100, version="v2")], mode="customized")]
    g = build_plan(desired, state).groups[0]
    assert _actions(g)[:3] == [("drain", "b"), ("update_config", "b"), ("wait_running", "b")]
    assert _actions(g)[-1] == ("set_traffic_state", "b")
    assert _shares(g, "b")[1] == 0.0 and _shares(g, "b")[-1] == 25.0


def test_member_too_big_to_drain_within_max_shift_updates_in_place_with_a_warning() -> None:
    state = live(("g", [svc("a", 1), svc("b", 4)], "auto"))
    desired = [group("g", [svc("a", 1), svc("b", 4, version="v2")])]
    g = build_plan(desired, state).groups[0]  # draining b would raise a 20 -> 100 %
    assert _actions(g) == [("update_config", "b"), ("wait_running", "b"), ("update_labels", "b")]
    (warning,) = g.warnings
    assert warning.code is WarningCode.IN_PLACE_UPDATE and warning.service == "b"
    assert "80.0 points" in warning.message and "--max-shift 80 drains it first" in warning.message
    drained = build_plan(desired, state, max_shift=80).groups[0]
    assert _actions(drained)[:2] == [("drain", "b"), ("update_config", "b")] and not drained.warnings


def test_only_serving_member_updates_in_place_with_the_sole_member_warning() -> None:
    state = live(("g", [svc("a", 2), svc("b", 1, traffic="standalone")], "auto"))
    g = build_plan([group("g", [svc("a", 2, version="v2"), svc("b", 1, traffic="standalone")])], state).groups[0]
    assert _actions(g)[0] == ("update_config", "a")
    assert [w.code for w in g.warnings] == [WarningCode.SOLE_MEMBER_UPDATE]


def test_a_weight_rise_of_a_serving_member_is_split_within_max_shift() -> None:
    state = live(("g", [svc("a", 1, weight=80), svc("b", 1, weight=20)], "customized"))
    desired = [group("g", [svc("a", 1, weight=20), svc("b", 1, weight=80)], mode="customized")]
    assert len(build_plan(desired, state).groups[0].steps) == 2  # +30 points each: within 50
    g = build_plan(desired, state, max_shift=20).groups[0]
    assert len(g.steps) > 2 and {a for a, _ in _actions(g)} == {"set_weight"}
    assert max(_rises(g)) <= 20.1 and g.timeline[-1].shares == {"a": 20.0, "b": 80.0}
    assert {w.code for w in g.warnings} == {WarningCode.SHARE_SPLIT}


def test_auto_scale_up_and_down_of_serving_members_are_split_by_replicas() -> None:
    state = live(("g", [svc("a", 1), svc("b", 1)], "auto"))
    up = build_plan([group("g", [svc("a", 1), svc("b", 4)])], state, max_shift=20).groups[0]
    assert [s.params.replicas for s in up.steps if s.params.action is Action.SCALE] == [2, 4]  # 67 %, then 80 %
    assert max(_rises(up)) <= 20.1 and up.timeline[-1].shares == {"a": 20.0, "b": 80.0}
    state = live(("g", [svc("a", 1), svc("b", 4)], "auto"))
    down = build_plan([group("g", [svc("a", 1), svc("b", 1)])], state, max_shift=20).groups[0]
    assert [s.params.replicas for s in down.steps if s.params.action is Action.SCALE] == [2, 1]  # a 33 %, 50 %
    assert max(_rises(down)) <= 20.1 and down.timeline[-1].shares == {"a": 50.0, "b": 50.0}


def test_a_rise_the_planner_cannot_split_is_refused_with_the_way_out() -> None:
    state = live(("g", [svc("a", 1), svc("b", 2)], "auto"))
    desired = [group("g", [svc("a", 1), svc("b", 1)])]
    with pytest.raises(PlanError, match=r"rule max_shift .* a goes 33\.3% -> 50\.0% in one step.*--max-shift 17"):
        build_plan(desired, state, max_shift=10)
    forced = build_plan(desired, state, max_shift=10, force=True).groups[0]
    assert [w.code for w in forced.warnings] == [WarningCode.FORCED]


def test_taking_a_member_out_is_not_bounded_by_max_shift() -> None:
    """A drain moves traffic onto members that serve and are ready: what the file asks for, not split."""
    state = live(("g", [svc("a", 1), svc("b", 4)], "auto"))
    g = build_plan([group("g", [svc("a", 1)])], state, max_shift=10).groups[0]
    assert _actions(g) == [("drain", "b"), ("delete_service", "b")]
    assert _shares(g, "a") == [20.0, 100.0, 100.0]


def test_auto_to_customized_keeps_todays_shares_across_the_switch_when_the_declared_weights_jump() -> None:
    state = live(("g", [svc("a", 4), svc("b", 1)], "auto"))  # 80 / 20
    desired = [group("g", [svc("a", 4, weight=100), svc("b", 1, weight=900)], mode="customized")]  # 10 / 90
    g = build_plan(desired, state).groups[0]
    switch = next(s.index for s in g.steps if s.action is Action.SET_MODE)
    assert g.timeline[switch].shares == g.timeline[0].shares  # the switch itself moves nothing
    assert max(_rises(g)) <= 50 and g.timeline[-1].shares == {"a": 10.0, "b": 90.0}
    small = [group("g", [svc("a", 4, weight=300), svc("b", 1, weight=200)], mode="customized")]  # 60 / 40
    direct = build_plan(small, state).groups[0]
    assert _actions(direct)[-1] == ("set_mode", None)  # +20 points: the declared weights, then one switch


@pytest.mark.parametrize("canary", ["grouping", "standalone"])
def test_customized_back_to_auto_never_overshoots_the_target_shares(canary: str) -> None:
    state = live(("g", [svc("a", 4, weight=50), svc("b", 1, weight=50, traffic=canary)], "customized"))
    g = build_plan([group("g", [svc("a", 4), svc("b", 1)])], state).groups[0]
    b = _shares(g, "b")
    assert b[-1] == 20.0 and g.timeline[-1].shares == {"a": 80.0, "b": 20.0}
    # monotonic: straight from where it is to 20 %, never through 50 % or 11 %
    assert b == sorted(b, reverse=canary == "grouping")
    assert g.steps[-1].action is Action.SET_MODE


def test_furthest_finds_the_last_value_that_fits_in_either_direction() -> None:
    assert furthest(0, 10, lambda v: v <= 6) == 6
    assert furthest(10, 0, lambda v: v >= 3) == 3
    assert furthest(0, 10, lambda v: True) == 10
    assert furthest(0, 10, lambda v: v <= 0) is None
    assert furthest(4, 4, lambda v: False) == 4


def test_ratio_scale_keeps_a_serving_weight_when_that_moves_fewer_weights() -> None:
    sim = SimGroup(TrafficMode.CUSTOMIZED, {
        "a": SimMember("a", True, True, TrafficState.GROUPING, running=4, replicas=4, weight=50),
        "b": SimMember("b", True, True, TrafficState.GROUPING, running=1, replicas=1, weight=50)})
    assert ratio_scale(sim, {"a": 4, "b": 1}, 100, 1000, 50) == 50  # b keeps 50, a gets 200: one move
    assert ratio_scale(sim, {"a": 4, "b": 300}, 3, 1000, 50) == 3  # 50 per replica would exceed 1000


def test_a_member_eas_brings_up_by_itself_is_not_bounded_by_max_shift() -> None:
    """pmml a runs 1 of its 10 replicas (Creating): the wait for it raises it 50 -> 91 %, EAS's doing, not a step
    the plan could split; b then leaves as declared."""
    state = live(("g", [svc("a", 10, status="Creating", running=1, pending=9), svc("b", 1)], "auto"))
    g = build_plan([group("g", [svc("a", 10), svc("b", 1, traffic="standalone")])], state, max_shift=20).groups[0]
    assert _actions(g) == [("wait_running", "a"), ("set_traffic_state", "b")]
    assert _shares(g, "a") == [50.0, 90.9, 100.0]
