"""Rollout plans for runner tests, built by hand in the shape the planner gives them, and a world that serves metrics.

The runner only reads a plan, so its tests give it the steps of a release directly: a group in
customized mode, the canary drained, given the new version, waited for, put at each step's share
and baked; then the primaries promoted and the canary set to its declared weight. The abort path
is the planner's: the canary standalone, back to its previous version (`rollback`), label at 0.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.analysis.gates import AnalysisSpec
from reconciler.desired.model import ServiceGroup, TrafficMode, TrafficState
from reconciler.desired.rollout import PROGRESS_LABEL, OnFailure
from reconciler.emulator.gateway import ERROR_RATE_LABEL
from reconciler.live.model import ServiceStatus
from reconciler.plan.model import (
    Action,
    BakeParams,
    DeleteLabelsParams,
    DrainParams,
    Expect,
    GroupPlan,
    GroupStatus,
    LabelsParams,
    Plan,
    RolloutPlan,
    RolloutStepPlan,
    SmokeTestParams,
    Step,
    TrafficStateParams,
    UpdateConfigParams,
    VersionParams,
    WaitParams,
    WeightParams,
)

from .harness import World

REGION = "cn-shanghai"
RELEASE = "release-v2"


def analysis(interval: str = "10s", min_requests: int = 20, failure_limit: int = 2) -> AnalysisSpec:
    return AnalysisSpec.model_validate({
        "interval": interval, "min_requests": min_requests, "failure_limit": failure_limit,
        "metrics": [{"name": "error_rate", "max": 5}, {"name": "error_rate", "max_over_baseline": 5}]})


def group_file(name: str, primaries: Sequence[tuple[str, int]], canary: tuple[str, int],
               model: str = "v1", canary_labels: dict[str, str] | None = None) -> ServiceGroup:
    """A customized group: primaries and a canary with weights, every member on `model`."""
    def member(svc: str, weight: int, labels: dict[str, str] | None = None) -> dict[str, Any]:
        return {"name": svc, "traffic": "grouping", "replicas": 1, "weight": weight, "labels": labels or {},
                "resources": {"cpu": 1, "memory": 1000},
                "model": {"path": f"oss://b/{name}/{model}.pmml", "processor": "pmml"}}
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": name, "region": REGION},
        "spec": {"traffic_mode": "customized",
                 "services": [*(member(s, w) for s, w in primaries), member(*canary, canary_labels)]}})


@dataclass
class Release:
    group: str
    canary: str
    primaries: dict[str, int]  # name -> weight
    canary_weight: int
    shares: list[float]  # the rollout's steps
    bake: float = 60.0
    analysis: AnalysisSpec = field(default_factory=analysis)
    on_failure: OnFailure = OnFailure.ROLLBACK
    previous_version: int = 1
    smoke: bool = True

    def weight_for(self, share: float) -> int:
        """The canary's weight for `share` percent: rounded down, never above the share."""
        return int(share * sum(self.primaries.values()) / (100.0 - share))


def _config(release: Release, model: str) -> dict[str, Any]:
    return {"model_path": f"oss://b/{release.group}/{model}.pmml"}


def release_plan(release: Release, model: str = "v2", resumed_from: int | None = None) -> Plan:
    r = release
    steps: list[tuple[Action, str | None, Any, Expect]] = []

    def add(action: Action, service: str | None, params: Any, expect: Expect | None = None) -> None:
        steps.append((action, service, params, expect or Expect()))

    standalone = Expect(traffic_state=TrafficState.STANDALONE)
    new = r.previous_version + 1
    if resumed_from is None:
        add(Action.DRAIN, r.canary, DrainParams(), standalone)
        add(Action.UPDATE_CONFIG, r.canary, UpdateConfigParams(config=_config(r, model), changed_paths=("model",)),
            Expect(min_version=new))
        add(Action.WAIT_RUNNING, r.canary, WaitParams(replicas=1),
            Expect(status=ServiceStatus.RUNNING, running=1, min_version=new))
        if r.smoke:
            add(Action.SMOKE_TEST, r.canary, SmokeTestParams(path="/"), Expect(http_status=200))
    first = resumed_from or 1
    for k, share in enumerate(r.shares, start=1):
        if k < first:
            continue
        add(Action.SET_WEIGHT, r.canary, WeightParams(weight=r.weight_for(share)), Expect(weight=r.weight_for(share)))
        if k == first:
            add(Action.SET_TRAFFIC_STATE, r.canary, TrafficStateParams(traffic_state=TrafficState.GROUPING,
                                                                       before=TrafficState.STANDALONE),
                Expect(traffic_state=TrafficState.GROUPING))
        add(Action.BAKE, r.canary, BakeParams(step=k, of=len(r.shares), share=share, bake_seconds=r.bake,
                                             canary=r.canary, baseline=sorted(r.primaries), analysis=r.analysis))
    for name in sorted(r.primaries):
        add(Action.UPDATE_CONFIG, name, UpdateConfigParams(config=_config(r, model), changed_paths=("model",)),
            Expect(min_version=new))
        add(Action.WAIT_RUNNING, name, WaitParams(replicas=1),
            Expect(status=ServiceStatus.RUNNING, running=1, min_version=new))
    add(Action.SET_WEIGHT, r.canary, WeightParams(weight=r.canary_weight), Expect(weight=r.canary_weight))
    add(Action.DELETE_LABELS, r.canary, DeleteLabelsParams(keys=(PROGRESS_LABEL,)))
    abort: list[tuple[Action, str | None, Any, Expect]] = [(Action.DRAIN, r.canary, DrainParams(), standalone)]
    if r.on_failure is OnFailure.ROLLBACK:
        abort.append((Action.UPDATE_VERSION, r.canary, VersionParams(version=r.previous_version),
                      Expect(status=ServiceStatus.RUNNING)))
    zero = f"{RELEASE};0;0"
    abort.append((Action.UPDATE_LABELS, r.canary, LabelsParams(labels={PROGRESS_LABEL: zero}),
                  Expect(labels={PROGRESS_LABEL: zero})))
    made = [Step(index=i, action=a, service=s, params=p, expect=e) for i, (a, s, p, e) in enumerate(steps, start=1)]
    rollout = RolloutPlan(
        canary=r.canary, baseline=sorted(r.primaries), release=RELEASE,
        steps=[RolloutStepPlan(share=s, bake_seconds=r.bake) for s in r.shares], analysis=r.analysis,
        on_failure=r.on_failure, previous_version=r.previous_version,
        abort_steps=[Step(index=i, action=a, service=s, params=p, expect=e)
                     for i, (a, s, p, e) in enumerate(abort, start=1)],
        min_duration_seconds=r.bake * len(r.shares), resumed_from=resumed_from, promotes=sorted(r.primaries))
    group = GroupPlan(region=REGION, name=r.group, status=GroupStatus.UPDATE, mode_before=TrafficMode.CUSTOMIZED,
                      mode_after=TrafficMode.CUSTOMIZED, steps=tuple(made), rollout=rollout)
    return Plan(live_fingerprint="test", groups=(group,))


class MetricsWorld(World):
    """The apply harness's world (its links read the emulator's CloudMonitor in process), with label edits."""

    def set_label(self, service: str, key: str, value: str) -> None:
        backend = self.emulator(REGION).backend
        backend.update_service_label(REGION, service, {key: value})


class Traffic:
    """Synthetic requests on the virtual clock: `rate` a second to the group, routed by the emulator's
    gateway (its smooth weighted round robin over the members of that moment), each answered per the
    member's `emulator/error-rate` label and counted where CloudMonitor reads. Records what it saw."""

    def __init__(self, world: World, group: str, rate: int = 40, seed: int = 7) -> None:
        self.world, self.group, self.rate = world, group, rate
        self.rng = random.Random(seed)
        self.unanswered = 0
        self.served: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    def tick(self) -> None:
        gateway = self.world.emulator(REGION).gateway
        now = self.world.timer.epoch()
        for _ in range(self.rate):
            target = gateway.choose(self.group)
            if target is None:
                self.unanswered += 1
                continue
            error_rate = float(target.labels.get(ERROR_RATE_LABEL, "0") or 0)
            gateway.usage.record(target.name, 500 if self.rng.random() < error_rate else 200, 0.01, at=now)
            self.served[target.name] = self.served.get(target.name, 0) + 1

    async def _run(self) -> None:
        while True:
            self.tick()
            await self.world.timer.sleep(1.0)

    def __enter__(self) -> Traffic:
        self._task = asyncio.get_running_loop().create_task(self._run())
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
