"""Safety rules on the simulated timeline, and the orderings they force."""

from __future__ import annotations

import itertools

import pytest

from reconciler.desired.model import TrafficState
from reconciler.errors import PlanError
from reconciler.plan import Action, build_plan
from reconciler.plan.diff import analyze
from reconciler.plan.model import DeleteParams, DrainParams, Step, TrafficStateParams, WaitParams, WarningCode
from reconciler.plan.order import initial_sim
from reconciler.plan.safety import Rule, violations
from reconciler.plan.simulate import run

from .factory import group, live, svc


def _actions(plan_group: object) -> list[tuple[str, str | None]]:
    return [(s.action.value, s.service) for s in plan_group.steps]  # type: ignore[attr-defined]


def _step(i: int, service: str, params: object) -> Step:
    return Step(index=i, action=params.action, service=service, params=params)  # type: ignore[attr-defined]


def test_black_hole_is_refused_even_with_force() -> None:
    state = live(("g", [svc("a", 2), svc("b", 1)], "auto"))
    desired = [group("g", [svc("a", 2, traffic="standalone"), svc("b", 1, traffic="standalone")])]
    for force in (False, True):
        with pytest.raises(PlanError) as err:
            build_plan(desired, state, force=force)
        text = str(err.value)
        assert "no_black_hole" in text and "group cn-shanghai/g" in text and "at step 2" in text
        assert "force" not in text.split(":")[-1]


def test_max_shift_setting_and_force() -> None:
    state = live(("g", [svc("a", 4), svc("b", 1, traffic="standalone")], "auto"))
    desired = [group("g", [svc("a", 4), svc("b", 1)])]
    assert build_plan(desired, state, max_shift=20).groups[0].timeline[-1].shares == {"a": 80.0, "b": 20.0}
    with pytest.raises(PlanError, match=r"rule max_shift .* step 1 .*b goes 0% -> 20.0% .* max_shift 19"):
        build_plan(desired, state, max_shift=19)
    forced = build_plan(desired, state, max_shift=19, force=True)
    assert [w.code.value for w in forced.groups[0].warnings] == ["forced"]
    with pytest.raises(PlanError, match="between 1 and 100"):
        build_plan(desired, state, max_shift=0)


def test_customized_join_is_split_to_stay_within_max_shift() -> None:
    state = live(("g", [svc("a", 1, weight=100), svc("b", 1, weight=100)], "customized"))
    desired = [group("g", [svc("a", 1, weight=100), svc("b", 1, weight=100), svc("c", 1, weight=600)],
                     mode="customized")]
    plan = build_plan(desired, state, max_shift=10)
    g = plan.groups[0]
    weights = [s.params.weight for s in g.steps if s.params.action is Action.SET_WEIGHT]
    assert weights[0] == 22 and weights[-1] == 600  # 22 / 222 = 9.9 % <= 10, ..., the declared weight
    assert weights == sorted(weights) and len(weights) > 2
    c = [t.shares["c"] for t in g.timeline]
    assert c[-1] == 75.0 and all(b - a <= 10.1 for a, b in itertools.pairwise(c))  # every rise (0.1: rounding)
    assert [w.code for w in g.warnings] == [WarningCode.SHARE_SPLIT, WarningCode.SHARE_SPLIT]


def test_violations_on_hand_made_unsafe_orders() -> None:
    state = live(("g", [svc("a", 2), svc("b", 1), svc("u", 1, managed=False)], "auto"))
    (delta,) = analyze([group("g", [svc("a", 2), svc("c", 1)])], state)
    steps = [
        _step(1, "b", DeleteParams()),  # deleted while it takes traffic, no drain
        _step(2, "u", DrainParams()),  # not ours
    ]
    found = violations(delta, steps, run(initial_sim(delta), steps), max_shift=50)
    assert [(v.rule, v.step.index) for v in found] == [(Rule.DRAIN_BEFORE_DELETE, 1), (Rule.OWNERSHIP, 2)]
    assert "share 25.0%" in found[0].message()


def test_share_may_not_rise_before_ready() -> None:
    state = live(("g", [svc("a", 2)], "auto"))
    (delta,) = analyze([group("g", [svc("a", 2), svc("c", 1)])], state)
    from reconciler.plan.model import CreateParams

    create = _step(1, "c", CreateParams(config={}, labels={}, replicas=1))
    join = _step(2, "c", TrafficStateParams(traffic_state=TrafficState.GROUPING, before=TrafficState.STANDALONE))
    wait = _step(2, "c", WaitParams(replicas=1))
    early = [create, join, wait.model_copy(update={"index": 3})]
    found = violations(delta, early, run(initial_sim(delta), early), max_shift=100)
    assert [v.rule for v in found] == [Rule.READY_BEFORE_TRAFFIC]
    assert found[0].step.index == 3 and "while its instances start" in found[0].detail and not found[0].forceable
    ordered = [create, wait, join.model_copy(update={"index": 3})]
    assert violations(delta, ordered, run(initial_sim(delta), ordered), max_shift=100) == []


def test_untouched_member_not_ready_is_waited_for_before_its_share_rises() -> None:
    state = live(("g", [svc("a", 2, status="Scaling", running=1, pending=1), svc("b", 2)], "auto"))
    plan = build_plan([group("g", [svc("a", 2)])], state)
    assert _actions(plan.groups[0]) == [("wait_running", "a"), ("drain", "b"), ("delete_service", "b")]
    assert [t.shares for t in plan.groups[0].timeline] == [
        {"a": 33.3, "b": 66.7}, {"a": 50.0, "b": 50.0}, {"a": 100.0, "b": 0.0}, {"a": 100.0, "b": 0.0}]


def test_unmanaged_member_not_ready_needs_force() -> None:
    state = live(("g", [svc("a", 2, status="Scaling", running=1, managed=False), svc("b", 2)], "auto"))
    desired = [group("g", [svc("c", 1)])]
    with pytest.raises(PlanError, match=r"ready_before_traffic .*a goes 25\.0% -> 50\.0% while not ready"):
        build_plan(desired, state, max_shift=100)
    plan = build_plan(desired, state, force=True, max_shift=100)
    assert [w.code.value for w in plan.groups[0].warnings] == ["unmanaged_member", "forced"]


def test_scale_to_zero_drains_first_and_restores_grouping() -> None:
    state = live(("g", [svc("a", 1, weight=100), svc("b", 2, weight=100)], "customized"))
    plan = build_plan([group("g", [svc("a", 1, weight=100), svc("b", 0, weight=100)], mode="customized")], state)
    assert _actions(plan.groups[0]) == [("drain", "b"), ("scale", "b"), ("wait_running", "b"),
                                        ("set_traffic_state", "b")]
    assert plan.groups[0].timeline[-1].shares == {"a": 100.0, "b": 0.0}


def test_auto_to_customized_with_a_leaver_keeps_traffic_flowing() -> None:
    state = live(("g", [svc("a", 1), svc("old", 3)], "auto"))
    plan = build_plan([group("g", [svc("a", 1, weight=100), svc("n", 1, weight=100)], mode="customized")], state)
    g = plan.groups[0]
    assert _actions(g) == [
        ("create_service", "n"), ("wait_running", "n"), ("set_weight", "a"), ("set_weight", "n"),
        ("set_weight", "old"), ("set_mode", None), ("set_traffic_state", "n"), ("drain", "old"),
        ("delete_service", "old")]
    assert not any(t.black_hole for t in g.timeline)
    assert g.timeline[-1].shares == {"a": 50.0, "old": 0.0, "n": 50.0}


def test_grouping_member_without_replicas_is_parked_before_it_grows() -> None:
    state = live(("g", [svc("a", 2), svc("b", 0)], "auto"))
    plan = build_plan([group("g", [svc("a", 2), svc("b", 2)])], state)
    assert _actions(plan.groups[0]) == [("set_traffic_state", "b"), ("scale", "b"), ("wait_running", "b"),
                                        ("set_traffic_state", "b")]
    assert [t.shares["b"] for t in plan.groups[0].timeline] == [0.0, 0.0, 0.0, 0.0, 50.0]


def test_customized_to_auto_with_a_joiner() -> None:
    state = live(("g", [svc("a", 3, weight=10), svc("b", 1, weight=990)], "customized"))
    plan = build_plan([group("g", [svc("a", 3), svc("b", 1), svc("c", 2)])], state)
    g = plan.groups[0]
    assert g.steps[-1].action is Action.SET_MODE
    assert g.timeline[-2].shares == g.timeline[-1].shares == {"a": 50.0, "b": 16.7, "c": 33.3}
    assert not any(t.black_hole for t in g.timeline)


def test_scale_up_and_new_version_wait_for_each_in_turn() -> None:
    state = live(("g", [svc("a", 1, version="v1"), svc("b", 2)], "auto"))
    plan = build_plan([group("g", [svc("a", 3, version="v2"), svc("b", 2)])], state)
    g = plan.groups[0]
    assert _actions(g)[:4] == [("scale", "a"), ("wait_running", "a"), ("update_config", "a"), ("wait_running", "a")]
    assert [s.expect.min_version for s in g.steps[:4]] == [None, None, None, 2]
    assert g.timeline[2].shares == {"a": 60.0, "b": 40.0}  # more replicas of the serving version first
    assert g.timeline[3].shares == g.timeline[4].shares  # nothing moves while the new version rolls out
