"""Live members that are not ready and that the plan does not otherwise change (reconciler.plan.readiness)."""

from __future__ import annotations

import pytest

from reconciler.errors import PlanError
from reconciler.plan import Action, GroupPlan, GroupStatus, build_plan

from .factory import group, live, svc


def _actions(g: GroupPlan) -> list[tuple[str, str | None]]:
    return [(s.action.value, s.service) for s in g.steps]


def _rises_only_when_ready(g: GroupPlan, name: str) -> None:
    """`name`'s share rises only at or after a wait_running for it."""
    waited = False
    for step, before, after in zip(g.steps, g.timeline, g.timeline[1:], strict=False):
        waited = waited or (step.action is Action.WAIT_RUNNING and step.service == name)
        if after.shares[name] > before.shares[name]:
            assert waited, (name, step)


def test_creating_member_with_no_replica_is_parked_then_joins_when_ready() -> None:
    # the integration reproduction: `a` grouping, still Creating with 0 of 3 running, `b` joins the group
    state = live(("g", [svc("a", 3, status="Creating", running=0, pending=3)], "auto"))
    plan = build_plan([group("g", [svc("a", 3), svc("b", 3)])], state)
    g = plan.groups[0]
    assert _actions(g) == [
        ("set_traffic_state", "a"), ("create_service", "b"), ("wait_running", "b"), ("wait_running", "a"),
        ("set_traffic_state", "a"), ("set_traffic_state", "b")]
    assert g.steps[0].expect.traffic_state == "standalone"
    assert [t.shares for t in g.timeline][-1] == {"a": 50.0, "b": 50.0}
    _rises_only_when_ready(g, "a")


def test_member_creating_alone_is_parked_even_when_nothing_else_changes() -> None:
    state = live(("g", [svc("a", 2, status="Creating", running=0, pending=2), svc("b", 2)], "auto"))
    plan = build_plan([group("g", [svc("a", 2), svc("b", 2)])], state)
    g = plan.groups[0]
    assert g.status is GroupStatus.UPDATE and not g.changes
    assert _actions(g) == [("set_traffic_state", "a"), ("wait_running", "a"), ("set_traffic_state", "a")]
    assert g.timeline[-1].shares == {"a": 50.0, "b": 50.0}


def test_serving_member_still_creating_is_waited_for_before_shares_move() -> None:
    state = live(("g", [svc("a", 3, status="Creating", running=1, pending=2)], "auto"))
    g = build_plan([group("g", [svc("a", 3), svc("b", 2)])], state, max_shift=100).groups[0]
    assert _actions(g) == [("create_service", "b"), ("wait_running", "b"), ("wait_running", "a"),
                           ("set_traffic_state", "b")]
    assert g.timeline[-1].shares == {"a": 60.0, "b": 40.0}  # what EAS routes once a is up, not 33 / 67


def test_autoscaler_scaling_a_member_is_not_drift() -> None:
    state = live(("g", [svc("a", 3, status="Scaling", running=2, pending=1), svc("b", 1)], "auto"))
    plan = build_plan([group("g", [svc("a", 3), svc("b", 1)])], state)
    assert not plan.has_changes


def test_settling_member_waits_before_its_own_new_version() -> None:
    state = live(("g", [svc("a", 2, status="Updating", running=1, pending=1), svc("b", 2)], "auto"))
    g = build_plan([group("g", [svc("a", 2, version="v2"), svc("b", 2)])], state).groups[0]
    # a is out of group traffic while its new version rolls out (b carries it: +33 points, within max_shift)
    assert _actions(g)[:4] == [("wait_running", "a"), ("drain", "a"), ("update_config", "a"), ("wait_running", "a")]
    _rises_only_when_ready(g, "a")


def test_failed_member_the_plan_does_not_change_is_refused_even_with_force() -> None:
    state = live(("g", [svc("a", 2, status="Failed", running=0, pending=2), svc("b", 2)], "auto"))
    desired = [group("g", [svc("a", 2), svc("b", 2), svc("c", 1)])]
    for force in (False, True):
        with pytest.raises(PlanError, match=r"g: a is Failed, 0/2 running\. It is declared to take traffic"):
            build_plan(desired, state, force=force)


def test_failed_member_declared_standalone_or_with_a_new_version_is_planned() -> None:
    state = live(("g", [svc("a", 2, status="Failed", running=1, pending=1), svc("b", 2)], "auto"))
    out = build_plan([group("g", [svc("a", 2, traffic="standalone"), svc("b", 2)])], state).groups[0]
    assert _actions(out) == [("set_traffic_state", "a")]
    fixed = build_plan([group("g", [svc("a", 2, version="v2"), svc("b", 2)])], state).groups[0]
    assert _actions(fixed) == [
        ("set_traffic_state", "a"), ("update_config", "a"), ("wait_running", "a"), ("update_labels", "a"),
        ("set_traffic_state", "a")]
    assert fixed.steps[0].reason.startswith("serves while Failed")
    _rises_only_when_ready(fixed, "a")


def test_member_being_deleted_while_creating_is_drained_first() -> None:
    state = live(("g", [svc("a", 2, status="Creating", running=0, pending=2), svc("b", 2)], "auto"))
    g = build_plan([group("g", [svc("b", 2), svc("c", 1)])], state, max_shift=100).groups[0]
    assert _actions(g)[0] == ("drain", "a")
    assert [a for a in _actions(g) if a[1] == "a"] == [("drain", "a"), ("delete_service", "a")]
