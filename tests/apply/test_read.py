"""Reading live state: one listing per region, counted with the client's own call counters."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import cast

import pytest

from reconciler.apply.runtime import connect_all
from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup, TrafficMode, TrafficState
from reconciler.eas.client import EasClient
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, LiveState, ServiceStatus
from reconciler.live.read import read_live, read_region
from reconciler.plan.build import build_plan

from .harness import World

REGION = "cn-shanghai"


def group(name: str, size: int) -> ServiceGroup:
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": name, "region": REGION},
        "spec": {"traffic_mode": "auto", "services": [
            {"name": f"{name}_s{i}", "replicas": 1, "resources": {"cpu": 1, "memory": 1000},
             "model": {"path": f"oss://b/{name}/{i}.pmml", "processor": "pmml"}} for i in range(size)]}})


def seed_backend(world: World, groups: list[ServiceGroup]) -> None:
    """Create services straight in the emulator's backend (no HTTP), all Running and grouping."""
    backend = world.emulator(REGION).backend
    for g in groups:
        for spec in g.spec.services:
            backend.create_service(to_eas_config(g, spec), {MANAGED_BY_LABEL: MANAGED_BY_VALUE})
    world.timer.advance(10)
    for g in groups:
        for spec in g.spec.services:
            backend.release_service(REGION, spec.name, "grouping", None)


def test_planning_100_groups_of_10_makes_at_most_13_read_calls_and_no_describe() -> None:
    world = World()
    groups = [group(f"g{i:03d}", 10) for i in range(100)]
    seed_backend(world, groups)

    async def plan() -> tuple[EasClient, int, int]:
        async with connect_all(world.connector, [REGION]) as links:
            client = links[REGION].client
            live = await read_live({REGION: client})
            result = build_plan(groups, live)
            return client, len(live.services), sum(len(g.steps) for g in result.groups)

    client, services, steps = asyncio.run(plan())
    stats = client.stats
    assert services == 1000
    assert stats.reads <= 13, dict(stats.round_trips)
    assert stats.round_trips["ListServices"] == 10
    assert stats.round_trips["DescribeService"] == 0
    assert stats.writes == 0
    assert steps > 0  # the spec-hash labels are missing: the plan does see every service


def test_reader_maps_every_listed_fact() -> None:
    world = World()
    g = group("pmml", 2)
    seed_backend(world, [g])
    backend = world.emulator(REGION).backend
    backend.update_group(REGION, "pmml", "customized", None, None)
    backend.release_service(REGION, "pmml_s1", "standalone", 300)

    async def read() -> object:
        async with connect_all(world.connector, [REGION]) as links:
            return await read_region(links[REGION].client)

    live = asyncio.run(read())
    s1 = live.service(REGION, "pmml_s1")  # type: ignore[attr-defined]
    assert s1.group == "pmml" and s1.traffic_state is TrafficState.STANDALONE and s1.weight == 300
    assert s1.status is ServiceStatus.RUNNING and s1.running == 1 and s1.managed
    assert s1.config["model_path"] == "oss://b/pmml/1.pmml"
    assert live.group(REGION, "pmml").traffic_mode is TrafficMode.CUSTOMIZED  # type: ignore[attr-defined]


def test_regions_and_listings_are_read_concurrently(tmp_path: Path) -> None:
    """4 listings (2 regions x services + groups) of 300 ms each take about 300 ms, not 1.2 s."""
    world = World(state=tmp_path / "local.db")
    for region in (REGION, "cn-beijing"):
        world.emulator(region).faults.add(Fault("*", FaultKind.LATENCY, latency_ms=300))
    asyncio.run(world.live([REGION, "cn-beijing"]))  # warm up (imports, first connections)
    start = time.perf_counter()
    asyncio.run(world.live([REGION, "cn-beijing"]))
    assert time.perf_counter() - start < 0.9


def test_regions_are_kept_apart(tmp_path: object) -> None:
    """The local target gives each region its own emulator app over one state file; each reads only its own."""
    world = World(state=tmp_path / "local.db")  # type: ignore[operator]
    seed_backend(world, [group("pmml", 2)])
    beijing = ServiceGroup.model_validate({**group("llm", 1).model_dump(by_alias=True),
                                           "metadata": {"name": "llm", "region": "cn-beijing"}})
    backend = world.emulator("cn-beijing").backend
    backend.create_service(to_eas_config(beijing, beijing.spec.services[0]), {})
    live = asyncio.run(world.live([REGION, "cn-beijing"]))
    assert sorted((s.region, s.name) for s in live.services) == [
        ("cn-beijing", "llm_s0"), (REGION, "pmml_s0"), (REGION, "pmml_s1")]


def test_read_live_pauses_the_cyclic_collector_and_always_restores_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import gc

    from reconciler.live import read

    seen: list[bool] = []

    async def failing(_: EasClient) -> LiveState:
        seen.append(gc.isenabled())
        raise RuntimeError("listing failed")

    monkeypatch.setattr(read, "read_region", failing)
    assert gc.isenabled()
    with pytest.raises(RuntimeError):
        asyncio.run(read.read_live({REGION: cast(EasClient, None)}))
    assert seen == [False] and gc.isenabled()
