"""Live model: closed status enum, ownership, lookups, and the stale-plan fingerprint."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.live.model import (
    MANAGED_BY_LABEL,
    LiveGroup,
    LiveService,
    LiveState,
    ServiceStatus,
    fingerprint,
)


def _svc(name: str = "a", **kw: object) -> LiveService:
    base: dict[str, object] = {"name": name, "region": "cn-shanghai", "group": "g", "running": 2, "total": 2,
                               "traffic_state": "grouping", "weight": 50, "config": {"metadata": {"instance": 2}},
                               "labels": {MANAGED_BY_LABEL: "eas-gitops"}}
    base.update(kw)
    return LiveService.model_validate(base)


def _state(*services: LiveService, mode: str = "auto") -> LiveState:
    return LiveState(services=services, groups=(LiveGroup(name="g", region="cn-shanghai", traffic_mode=mode),))


def test_status_is_closed_and_keeps_unknown_text() -> None:
    assert _svc(status="running").status is ServiceStatus.RUNNING
    odd = _svc(status="Hibernating")
    assert (odd.status, odd.status_text) == (ServiceStatus.OTHER, "Hibernating")
    assert _svc(status="HotUpdate").status_text == "HotUpdate"


def test_ownership_readiness_and_lookups() -> None:
    mine, theirs = _svc("a"), _svc("b", labels={}, running=1)
    state = _state(mine, theirs)
    assert mine.managed and not theirs.managed
    assert mine.ready and not theirs.ready  # b: 1 of 2 replicas running
    assert state.service("cn-shanghai", "b") is theirs and state.service("cn-beijing", "b") is None
    assert [s.name for s in state.members("cn-shanghai", "g")] == ["a", "b"]
    assert state.group_keys() == [("cn-shanghai", "g")]
    assert state.only([("cn-shanghai", "other")]).services == ()
    with pytest.raises(ValidationError, match="duplicate service"):
        LiveState(services=(mine, mine))


def test_frozen() -> None:
    with pytest.raises(ValidationError):
        _svc().running = 3  # type: ignore[misc]


@pytest.mark.parametrize("change", [
    {"weight": 40}, {"running": 1}, {"pending": 1}, {"total": 3}, {"traffic_state": "standalone"},
    {"current_version": 2}, {"latest_version": 2}, {"config": {"metadata": {"instance": 3}}},
    {"labels": {}}, {"status": "Updating"}, {"group": "h"},
])
def test_fingerprint_moves_with_every_planned_fact(change: dict[str, object]) -> None:
    assert fingerprint(_state(_svc(**change))) != fingerprint(_state(_svc()))


def test_fingerprint_is_order_independent_and_ignores_display_text() -> None:
    a, b = _svc("a"), _svc("b")
    assert fingerprint(_state(a, b)) == fingerprint(_state(b, a))
    assert fingerprint(_state(_svc(reason="RUNNING"))) == fingerprint(_state(_svc(reason="whatever")))
    assert fingerprint(_state(a)) != fingerprint(_state(a, mode="customized"))
    assert fingerprint(_state(a)).startswith("sha256:") and len(fingerprint(_state(a))) == 71
    assert TrafficState(_svc().traffic_state) is TrafficState.GROUPING and TrafficMode("auto") is TrafficMode.AUTO


def test_ensure_fresh_refuses_a_plan_when_its_groups_moved() -> None:
    from reconciler.errors import StalePlanError
    from reconciler.plan import build_plan, ensure_fresh

    from .factory import group, live, svc

    state = live(("g", [svc("a", 2), svc("b", 1)], "auto"), ("other", [svc("x", 1)], "auto"))
    plan = build_plan([group("g", [svc("a", 2)])], state, groups={"g"})
    ensure_fresh(plan, state)
    unrelated = live(("g", [svc("a", 2), svc("b", 1)], "auto"), ("other", [svc("x", 3)], "auto"))
    ensure_fresh(plan, unrelated)  # another group moving does not stale this plan
    moved = live(("g", [svc("a", 2), svc("b", 1, running=0)], "auto"), ("other", [svc("x", 1)], "auto"))
    with pytest.raises(StalePlanError, match="stale"):
        ensure_fresh(plan, moved)
