"""Property: random groups, rollouts, good and bad canaries and injected faults, planned from files and applied on
the virtual clock with synthetic traffic. Whatever the draw:

- the group never black-holes;
- the canary on its new version never takes more than the rollout step it is in allows (the step's planned
  share before the promotion; a bad canary never more than the first step's);
- a bad canary is never promoted (no primary gets the new version) and ends in the documented abort state:
  out of group traffic, back on its previous version for `rollback`, progress label at step 0;
- a good canary is always promoted and the group ends exactly as the files say (the next plan is empty).
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.apply.report import GroupOutcome
from reconciler.desired.model import ServiceGroup, TrafficState
from reconciler.desired.rollout import PROGRESS_LABEL
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.plan.model import Action

from .rollouts import REGION, MetricsWorld, Traffic

GROUP = "prop"


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    primaries = draw(st.lists(st.integers(1, 3), min_size=1, max_size=2))
    shares = sorted(draw(st.sets(st.sampled_from([5, 10, 20, 30, 50]), min_size=1, max_size=3)))
    return {"mode": draw(st.sampled_from(["auto", "customized"])), "primaries": primaries,
            "shares": shares, "bad": draw(st.booleans()),
            "on_failure": draw(st.sampled_from(["rollback", "standalone"])),
            "faults": draw(st.booleans()), "seed": draw(st.integers(0, 1000))}


def group_file(s: dict[str, Any], model: str, canary_labels: dict[str, str] | None = None) -> ServiceGroup:
    customized = s["mode"] == "customized"

    def member(name: str, replicas: int, weight: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"name": name, "traffic": "grouping", "replicas": replicas, "labels": labels or {},
                **({"weight": weight} if customized else {}), "resources": {"cpu": 1, "memory": 1000},
                "model": {"path": f"oss://b/{GROUP}/{model}.pmml", "processor": "pmml"}}
    services = [member(f"{GROUP}_p{i}", r, 50 * r) for i, r in enumerate(s["primaries"])]
    services.append({**member(f"{GROUP}_grey", 1, 20, canary_labels), "role": "canary"})
    rollout = {"steps": [{"share": share, "bake": "30s"} for share in s["shares"]], "on_failure": s["on_failure"],
               "analysis": {"interval": "10s", "min_requests": 10, "failure_limit": 2,
                            "metrics": [{"name": "error_rate", "max": 5},
                                        {"name": "error_rate", "max_over_baseline": 5}]}}
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": GROUP, "region": REGION},
        "spec": {"traffic_mode": s["mode"], "rollout": rollout, "services": services}})


def faults(seed: int) -> list[Fault]:
    return [Fault("*", FaultKind.THROTTLE, rate=1.0, retry_after_ms=100, remaining=2, seed=seed),
            Fault("ReleaseService", FaultKind.ERROR500, rate=0.5, remaining=1, seed=seed, after=True),
            Fault("DescribeMetricList", FaultKind.ERROR503, rate=0.3, remaining=2, seed=seed)]


def reached(events: list[dict[str, Any]], canary: str, seq: int) -> int:
    """The rollout step the canary's progress label recorded last before event `seq` (0: none yet)."""
    step = 0
    for e in events:
        label = (e["detail"].get("Labels") or {}).get(PROGRESS_LABEL) if e["action"] == "UpdateServiceLabel" else None
        if e["service"] == canary and e["seq"] <= seq and label:
            step = int(label.split(";")[1])
    return step


async def scenario(s: dict[str, Any]) -> None:
    world = MetricsWorld()
    assert (await world.converge([group_file(s, "v1")])).ok
    start = max(e["seq"] for e in world.history(REGION)[0])
    release = group_file(s, "v2", {"emulator/error-rate": "0.6"} if s["bad"] else None)
    plan, live = await world.plan([release])
    group = plan.groups[0]
    assert group.rollout is not None
    planned = [step.share for step in group.rollout.steps]  # as declared: the planner rounds weights down
    assert sum(1 for step in group.steps if step.action is Action.BAKE) == len(planned)
    injected = faults(s["seed"]) if s["faults"] else []
    for fault in injected:
        world.emulator(REGION).faults.add(fault)
    with Traffic(world, GROUP, rate=60, seed=s["seed"]):
        report = await world.apply(plan, live)
    world.emulator(REGION).faults.clear()
    assert all(f.fired == 2 for f in injected[:1])  # the faults did strike
    outcome = report.groups[0]
    events, timeline = world.history(REGION)
    snaps = [x for x in timeline[GROUP] if x["event_seq"] > start]
    assert not any(x["black_hole"] for x in snaps)
    canary, primaries = f"{GROUP}_grey", [f"{GROUP}_p{i}" for i in range(len(s["primaries"]))]
    new = min(e["seq"] for e in events
              if e["service"] == canary and e["action"] == "UpdateService" and e["seq"] > start)
    promoted = [e["seq"] for e in events if e["service"] in primaries and e["action"] == "UpdateService"
                and e["seq"] > start]
    ramp = [x["shares"].get(canary, 0.0) * 100 for x in snaps if new < x["event_seq"] < min(promoted, default=1 << 60)]
    for x in snaps:  # the current step: the one after the last bake the label records (it moves only up)
        if new < x["event_seq"] < min(promoted, default=1 << 60):
            step = reached(events, canary, x["event_seq"])
            assert x["shares"].get(canary, 0.0) * 100 <= planned[min(step, len(planned) - 1)] + 1e-6, (step, x)
    if s["bad"]:
        assert outcome.outcome is GroupOutcome.ROLLED_BACK, outcome.error
        assert promoted == []  # never promoted
        assert max(ramp, default=0.0) <= planned[0] + 1e-6  # aborted in the first step
        services = {x.name: x for x in (await world.live([REGION])).services}
        grey = services[canary]
        assert grey.traffic_state is TrafficState.STANDALONE
        assert grey.labels[PROGRESS_LABEL].split(";")[1] == "0"
        assert grey.current_version == (1 if s["on_failure"] == "rollback" else 2)
        assert all(services[p].current_version == 1 for p in primaries)
    else:
        assert outcome.outcome is GroupOutcome.DONE, (outcome.error, [c.result.reason for c in outcome.checks])
        assert max(ramp, default=0.0) <= max(planned) + 1e-6
        again, _ = await world.plan([release])
        assert not again.has_changes


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_rollouts_end_promoted_or_in_the_abort_state(s: dict[str, Any]) -> None:
    asyncio.run(scenario(s))
