"""Property: for random live and desired groups (and max_shift), the simulated timeline keeps the safety rules.

- never a black hole when the group had an eligible member (the group is not removed here),
- a member's share rises only after a wait_running (and a smoke test when declared) that follows
  its last create, new version or scale, or for a member that was ready and untouched,
- the plan ends at the desired shares (`reconciler.desired.shares`), an unmanaged member counted
  and never touched,
- planning again on the state the plan leaves behind shows no changes (promise 5),
- a refused plan names max_shift, the only rule force may overrule for managed, ready members, or a
  Failed member the plan would need to take traffic without changing it (refused even with force).

Live members may be on their way to Running (Creating, Waiting, Updating, Scaling, Starting with
fewer running than desired instances) or Failed.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.shares import MemberTraffic, compute_shares, desired_members, percent
from reconciler.errors import PlanError
from reconciler.live.model import LiveGroup, LiveService, LiveState
from reconciler.plan import Action, Plan, build_plan

from .factory import group, live, svc

NAMES = ["m0", "m1", "m2", "m3"]


# Running most of the time; else on its way there (EAS brings it up by itself) or stuck (Failed).
STATUSES = ["Running", "Running", "Running", "Creating", "Waiting", "Updating", "Scaling", "Starting", "Failed"]
STUCK = {"Failed"}


@st.composite
def _progress(draw: st.DrawFn, replicas: int) -> dict[str, Any]:
    """Live status and instance counts: fewer running than desired unless Running."""
    status = draw(st.sampled_from(STATUSES))
    running = replicas if status == "Running" else draw(st.integers(0, replicas))
    return {"status": status, "running": running, "pending": replicas - running}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], str | None, list[dict[str, Any]], str]:
    """Live members, live mode, desired members (always serving: one drawn member takes traffic with a
    replica, so no example is discarded) and the desired mode."""
    live_mode = draw(st.sampled_from(["auto", "customized", None]))
    want_mode = draw(st.sampled_from(["auto", "customized"]))
    anchor = draw(st.sampled_from(NAMES))
    live_members, want_members = [], []
    for name in NAMES:
        if live_mode is not None and draw(st.booleans()):
            replicas = draw(st.integers(0, 4))
            live_members.append(svc(name, replicas, draw(st.sampled_from(["grouping", "standalone"])),
                                    weight=draw(st.integers(0, 500)), version=draw(st.sampled_from(["v1", "v2"])),
                                    **draw(_progress(replicas))))
        if name == anchor or draw(st.booleans()):
            traffic = "grouping" if name == anchor else draw(st.sampled_from(["grouping", "standalone"]))
            weight = draw(st.integers(1, 500)) if want_mode == "customized" else None
            smoke = {"smoke_test": {"path": "/"}} if draw(st.booleans()) else {}
            want_members.append(svc(name, draw(st.integers(1 if name == anchor else 0, 4)), traffic, weight=weight,
                                    version=draw(st.sampled_from(["v1", "v2"])), **smoke))
    if live_mode is not None and draw(st.booleans()):  # a member eas-gitops does not manage
        live_members.append(svc("u", draw(st.integers(1, 3)), draw(st.sampled_from(["grouping", "standalone"])),
                                weight=draw(st.integers(0, 500)), managed=False))
    return live_members, live_mode, want_members, want_mode


def _unready(live_members: list[dict[str, Any]]) -> set[str]:
    """Live members not Running with every replica: their share may rise only after a wait for them."""
    return {m["name"] for m in live_members
            if m.get("status", "Running") != "Running" or m.get("running", m["replicas"]) < m["replicas"]}


def _stuck(live_members: list[dict[str, Any]], want_members: list[dict[str, Any]]) -> set[str]:
    """Failed live members declared to take traffic that the plan does not change (no new version, same
    replicas): nothing the plan does can make them ready."""
    wanted = {m["name"]: m for m in want_members}
    return {m["name"] for m in live_members
            if m.get("status") in STUCK and m["name"] in wanted and wanted[m["name"]]["traffic"] == "grouping"
            and wanted[m["name"]]["replicas"] == m["replicas"] > 0
            and wanted[m["name"]]["model"] == m["model"]}


def _failed_gains(error: str) -> bool:
    """A refusal to raise the share of a Failed member that the plan changes (a scale-down comes only
    after the traffic steps): it may recover, or not; the plan does not bet on it."""
    return "rule ready_before_traffic" in error and "while not ready (Failed" in error


def _check_readiness(plan: Plan, smoke: set[str], unready: set[str]) -> None:
    g = plan.groups[0]
    # created / new version / scaled / live not ready, not yet waited for (and smoke-tested)
    dirty: set[str] = {f"{name}:wait" for name in unready}
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


# Steps whose share rises max_shift bounds whatever else happens (a leave or a wait may be exempt).
_BOUNDED = {Action.SET_WEIGHT, Action.SET_MODE, Action.SCALE, Action.SMOKE_TEST, Action.UPDATE_LABELS}


def _check_max_shift(plan: Plan, max_shift: int) -> None:
    """An unforced plan: no bounded step, nor a join, raises a share by more than max_shift (0.1: rounding)."""
    g = plan.groups[0]
    if g.timeline[0].black_hole:
        return
    for step, before, after in zip(g.steps, g.timeline, g.timeline[1:], strict=False):
        joins = step.params.action is Action.SET_TRAFFIC_STATE and step.params.traffic_state is TrafficState.GROUPING
        if (step.action in _BOUNDED or joins) and not before.black_hole:
            assert all(after.shares[n] - before.shares[n] <= max_shift + 0.1 for n in after.shares), (step, max_shift)


@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])  # examples: tests/conftest.py profile
@given(scenarios(), st.sampled_from([5, 10, 25, 50, 100]))
def test_timeline_is_safe_and_reaches_the_desired_shares(scenario: tuple[Any, ...], max_shift: int) -> None:
    live_members, live_mode, want_members, want_mode = scenario
    state = live(("g", live_members, live_mode)) if live_mode is not None and live_members else live()
    desired = group("g", want_members, mode=want_mode)
    stuck = _stuck(live_members, want_members)
    for force in (False, True):
        try:
            unforced = build_plan([desired], state, force=force, max_shift=max_shift)
        except PlanError as exc:
            if _failed_gains(str(exc)):
                return
            assert stuck or ("rule max_shift" in str(exc) and not force), str(exc)
            assert not stuck or f"{min(stuck)} is Failed" in str(exc), str(exc)
        else:
            assert not stuck, f"a plan although {stuck} are Failed"
            if not force:
                _check_max_shift(unforced, max_shift)
    if stuck:
        return
    plan = build_plan([desired], state, force=True, max_shift=max_shift)
    g = plan.groups[0]
    if not g.timeline[0].black_hole:
        assert not any(t.black_hole for t in g.timeline), g.timeline
    _check_readiness(plan, {m["name"] for m in want_members if "smoke_test" in m}, _unready(live_members))
    final = g.timeline[-1].shares
    members = desired_members(desired)
    if not g.steps:  # nothing written: EAS finishes what it is doing, the shares are the live ones
        running = {m["name"]: m.get("running", m["replicas"]) for m in live_members}
        members = [MemberTraffic(m.name, m.state, running.get(m.name, m.running), m.weight) for m in members]
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
    again = build_plan([desired], state, force=True, max_shift=max_shift)
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
    targets = {s.service: s.params.replicas for s in g.steps
               if s.params.action in (Action.CREATE_SERVICE, Action.SCALE, Action.WAIT_RUNNING)}
    services = []
    for m in g.members_final:
        if not m.exists:
            continue
        old = before.service(g.region, m.name)
        replicas = targets.get(m.name, old.replicas if old else m.replicas)  # EAS finishes what it started
        config = configs.get(m.name) or (old.config if old else {})
        config = {**config, "metadata": {**config.get("metadata", {}), "instance": replicas}}
        weight = m.weight if g.mode_after is TrafficMode.CUSTOMIZED else round(final[m.name])
        services.append(LiveService(name=m.name, region=g.region, group=g.name, running=replicas, total=replicas,
                                    traffic_state=m.traffic_state, weight=weight or 0, config=config,
                                    labels=labels[m.name]))
    mode = g.mode_after or TrafficMode.AUTO
    return LiveState(services=tuple(services), groups=(LiveGroup(name=g.name, region=g.region, traffic_mode=mode),))
