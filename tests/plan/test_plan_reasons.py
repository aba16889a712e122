"""Plan text says only what is true: a join claims a smoke test only when one is declared; a wait for 0 says so."""

from __future__ import annotations

from reconciler.plan import build_plan
from reconciler.plan.model import Action
from reconciler.plan.render import render_text

from .factory import group, live, svc


def _join_reasons(services: list[dict[str, object]]) -> dict[str, str]:
    plan = build_plan([group("g", services)], live())
    return {s.service or "": s.reason for s in plan.groups[0].steps if s.action is Action.SET_TRAFFIC_STATE}


def test_a_join_claims_a_test_only_when_a_smoke_test_is_declared() -> None:
    reasons = _join_reasons([svc("a", 2), svc("b", 1, smoke_test={"path": "/health"})])
    assert reasons["a"] == "joins group traffic: Running"
    assert reasons["b"] == "joins group traffic: Running and tested"


def test_a_wait_for_a_scale_to_zero_reads_as_such() -> None:
    state = live(("g", [svc("a", 1, weight=100), svc("b", 2, weight=100)], "customized"))
    plan = build_plan([group("g", [svc("a", 1, weight=100), svc("b", 0, weight=100)], mode="customized")], state)
    waits = [line for line in render_text(plan).splitlines() if "wait_running" in line]
    assert len(waits) == 1 and "no instance left running" in waits[0] and "0 replicas" not in waits[0]
