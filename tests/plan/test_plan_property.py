"""Property: for random live and desired groups, the simulated timeline keeps DESIGN.md §3.

- never a black hole when the group had an eligible member (the group is not removed here),
- a member's share rises only after a wait_running (and a smoke test when declared) that follows
  its last create, new version or scale, or for a member that was ready and untouched,
- the plan ends at the desired shares (`reconciler.spec.shares`), an unmanaged member counted
  and never touched,
- planning again on the state the plan leaves behind shows no changes (promise 5),
- a refused plan names max_shift, the only rule force may overrule for managed, ready members.
"""

from __future__ import annotations

import os
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from reconciler.errors import PlanError
from reconciler.live.model import LiveGroup, LiveService, LiveState
from reconciler.plan import Action, Plan, build_plan
from reconciler.spec.model import TrafficMode, TrafficState
from reconciler.spec.shares import MemberTraffic, compute_shares, desired_members, percent

from .factory import group, live, svc

NAMES = ["m0", "m1", "m2", "m3"]


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]], str]:
    live_mode = draw(st.sampled_from(["auto", "customized", None]))
    want_mode = draw(st.sampled_from(["auto", "customized"]))
    live_members, want_members = [], []
    for name in NAMES:
        if live_mode is not None and draw(st.booleans()):
            live_members.append(svc(name, draw(st.integers(0, 4)), draw(st.sampled_from(["grouping", "standalone"])),
                                    weight=draw(st.integers(0, 500)), version=draw(st.sampled_from(["v1", "v2"]))))
        if draw(st.booleans()):
            traffic = draw(st.sampled_from(["grouping", "standalone"]))
            weight = draw(st.integers(1, 500)) if want_mode == "customized" else None
            smoke = {"smoke_test": {"path": "/"}} if draw(st.booleans()) else {}
            want_members.append(svc(name, draw(st.integers(0, 4)), traffic, weight=weight,
                                    version=draw(st.sampled_from(["v1", "v2"])), **smoke))
    if live_mode is not None and draw(st.booleans()):  # a member eas-gitops does not manage
        live_members.append(svc("u", draw(st.integers(1, 3)), draw(st.sampled_from(["grouping", "standalone"])),
                                weight=draw(st.integers(0, 500)), managed=False))
    return live_members, live_mode, want_members, want_mode


def _serves(members: list[dict[str, Any]]) -> bool:
    return any(m["traffic"] == "grouping" and m["replicas"] > 0 and m.get("weight", 1) > 0 for m in members)


def _check_readiness(plan: Plan, smoke: set[str]) -> None:
    g = plan.groups[0]
    dirty: set[str] = set()  # created / new version / scaled, not yet waited for (and smoke-tested)
    for step, before, after in zip(g.steps, g.timeline, g.timeline[1:], strict=False):
        name = step.service
        if step.action in (Action.CREATE_SERVICE, Action.UPDATE_CONFIG, Action.SCALE):
            dirty.add(f"{name}:wait")
            if step.action is not Action.SCALE and name in smoke:
                dirty.add(f"{name}:smoke")
        if step.action is Action.WAIT_RUNNING:
            dirty.discard(f"{name}:wait")
            if step.expect.min_version is not None:  # a new version is awaited only after it was asked for
                assert any(s.action is Action.UPDATE_CONFIG and s.service == name for s in g.steps[:step.index]), step
        if step.action is Action.SMOKE_TEST:
            dirty.discard(f"{name}:smoke")
        for member, share in after.shares.items():
            if share > before.shares[member]:
                scaling_up = step.action is Action.WAIT_RUNNING and step.service == member and before.shares[member] > 0
                assert f"{member}:wait" not in dirty or scaling_up, (member, step)
                assert f"{member}:smoke" not in dirty, (member, step)


EXAMPLES = int(os.environ.get("PLAN_PROPERTY_EXAMPLES", "150"))  # raise it locally to search harder


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_timeline_is_safe_and_reaches_the_desired_shares(scenario: tuple[Any, ...]) -> None:
    live_members, live_mode, want_members, want_mode = scenario
    if not want_members or not _serves(want_members):
        assume(False)  # the loader refuses a desired group that black-holes
    state = live(("g", live_members, live_mode)) if live_mode is not None and live_members else live()
    desired = group("g", want_members, mode=want_mode)
    try:
        build_plan([desired], state)
    except PlanError as exc:
        assert "rule max_shift" in str(exc), str(exc)
    plan = build_plan([desired], state, force=True)
    g = plan.groups[0]
    if not g.timeline[0].black_hole:
        assert not any(t.black_hole for t in g.timeline), g.timeline
    _check_readiness(plan, {m["name"] for m in want_members if "smoke_test" in m})
    final = g.timeline[-1].shares
    members = desired_members(desired)
    for m in live_members:
        if m.get("managed") is False:
            stored = m["weight"] if live_mode == "customized" else None
            members.append(MemberTraffic(m["name"], TrafficState(m["traffic"]), m["replicas"], stored))
    expected = {n: percent(s) for n, s in compute_shares(TrafficMode(want_mode), members).items()}
    assert {n: final[n] for n in expected} == expected
    assert all(v == 0 for n, v in final.items() if n not in expected)
    assert not any(s.service == "u" for s in g.steps)
    states = {m.name: m.traffic_state for m in g.members_final if m.exists}
    assert {m["name"]: states[m["name"]].value for m in want_members} == {m["name"]: m["traffic"] for m in want_members}
    assert g.mode_after is TrafficMode(want_mode)
    again = build_plan([desired], state, force=True)
    assert again == plan  # deterministic
    after = applied(plan, state)
    replan = build_plan([desired], after)
    assert not replan.groups[0].changes and not replan.groups[0].steps, replan.groups[0].changes


def applied(plan: Plan, before: LiveState) -> LiveState:
    """The live state an executor leaves behind when every step does exactly what it says."""
    g = plan.groups[0]
    configs: dict[str, dict[str, Any]] = {}
    labels: dict[str, dict[str, str]] = {s.name: dict(s.labels) for s in before.services}
    for step in g.steps:
        p = step.params
        if p.action is Action.CREATE_SERVICE:
            configs[step.service or ""], labels[step.service or ""] = dict(p.config), dict(p.labels)
        elif p.action is Action.UPDATE_CONFIG:
            configs[step.service or ""] = dict(p.config)
        elif p.action is Action.UPDATE_LABELS:
            labels[step.service or ""].update(p.labels)
    final = {t.step: t for t in g.timeline}[g.timeline[-1].step].shares
    services = []
    for m in g.members_final:
        if not m.exists:
            continue
        old = before.service(g.region, m.name)
        config = configs.get(m.name) or (old.config if old else {})
        config = {**config, "metadata": {**config.get("metadata", {}), "instance": m.replicas}}
        weight = m.weight if g.mode_after is TrafficMode.CUSTOMIZED else round(final[m.name])
        services.append(LiveService(name=m.name, region=g.region, group=g.name, running=m.replicas, total=m.replicas,
                                    traffic_state=m.traffic_state, weight=weight or 0, config=config,
                                    labels=labels[m.name]))
    mode = g.mode_after or TrafficMode.AUTO
    return LiveState(services=tuple(services), groups=(LiveGroup(name=g.name, region=g.region, traffic_mode=mode),))
