"""Releases planned from files and run on the in-process emulator (virtual clock, synthetic traffic): the planner's
steps and the runner together, then a second plan shows what the contract promises."""

from __future__ import annotations

import asyncio
from typing import Any

from reconciler.apply.report import ApplyReport, GroupOutcome
from reconciler.desired.model import ServiceGroup
from reconciler.desired.rollout import PROGRESS_LABEL
from reconciler.plan.model import Action

from .rollouts import REGION, MetricsWorld, Traffic

ROLLOUT = {"steps": [{"share": 10, "bake": "40s"}, {"share": 50, "bake": "40s"}],
           "analysis": {"provider": "cloudmonitor", "interval": "10s", "min_requests": 20, "failure_limit": 2,
                        "metrics": [{"name": "error_rate", "max": 5}, {"name": "error_rate", "max_over_baseline": 5}]}}


def pmml(model: str, rollout: bool = True, canary_labels: dict[str, str] | None = None) -> ServiceGroup:
    def member(name: str, role: str, replicas: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"name": name, "role": role, "traffic": "grouping", "replicas": replicas,
                "resources": {"cpu": 1, "memory": 1000}, "labels": labels or {}, "smoke_test": {"path": "/"},
                "model": {"path": f"oss://examplebucket/models/lr_{model}.pmml", "processor": "pmml"}}
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "pmml", "region": REGION},
        "spec": {"traffic_mode": "auto", **({"rollout": ROLLOUT} if rollout else {}),
                 "services": [member("pmml_prod", "primary", 4), member("pmml_grey", "canary", 1, canary_labels)]}})


def released(world: MetricsWorld, group: ServiceGroup) -> ApplyReport:
    async def go() -> ApplyReport:
        plan, live = await world.plan([group])
        assert plan.groups[0].rollout is not None and any(s.action is Action.BAKE for s in plan.groups[0].steps)
        with Traffic(world, "pmml"):
            return await world.apply(plan, live)
    return asyncio.run(go())


def live_world() -> MetricsWorld:
    world = MetricsWorld()
    assert asyncio.run(world.converge([pmml("v3", rollout=False)])).ok
    return world


def canary_shares(world: MetricsWorld, after_seq: int) -> list[float]:
    return [snap["shares"].get("pmml_grey", 0.0) for snap in world.history(REGION)[1]["pmml"]
            if snap["event_seq"] > after_seq]


def last_seq(world: MetricsWorld) -> int:
    return max((e["seq"] for e in world.history(REGION)[0]), default=0)


def test_a_release_ramps_promotes_and_settles_on_the_file() -> None:
    world = live_world()
    start = last_seq(world)
    report = released(world, pmml("v4"))
    assert report.ok, [(g.outcome, g.error) for g in report.groups]
    assert len(report.groups[0].checks) == 8
    after, _ = asyncio.run(world.plan([pmml("v4")]))
    assert not after.has_changes
    shares = canary_shares(world, start)
    assert abs(shares[-1] - 0.2) < 1e-9 and not any(s is None for s in shares)
    assert not any(snap["black_hole"] for snap in world.history(REGION)[1]["pmml"] if snap["event_seq"] > start)


def test_a_bad_release_is_rolled_back_and_planned_again_from_step_one() -> None:
    world = live_world()
    start = last_seq(world)
    bad = pmml("v4", canary_labels={"emulator/error-rate": "0.5"})
    report = released(world, bad)
    group = report.groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK, group.error
    assert {c.step for c in group.checks} == {1}
    new_version = min(e["seq"] for e in world.writes(REGION)
                      if e["service"] == "pmml_grey" and e["action"] == "UpdateService" and e["seq"] > start)
    assert max(canary_shares(world, new_version)) <= 0.1 + 1e-9  # the new version never above step 1's share
    prod_writes = [e for e in world.writes(REGION) if e["service"] == "pmml_prod" and e["seq"] > start]
    assert all(e["action"] == "ReleaseService" for e in prod_writes)  # the switch to weights only: no new version
    again, _ = asyncio.run(world.plan([bad]))
    rollout = again.groups[0].rollout
    assert rollout is not None and rollout.resumed_from is None  # the next apply starts from the first step
    canary = next(s for s in asyncio.run(world.live([REGION])).services if s.name == "pmml_grey")
    assert canary.labels.get(PROGRESS_LABEL, "").split(";")[1] == "0"
