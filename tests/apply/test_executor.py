"""Executor behaviour: one shared poller per region, clear timeouts, parallel groups."""

from __future__ import annotations

import asyncio

from reconciler.apply import ApplySettings, Executor, Journal, connect_all
from reconciler.apply.report import GroupOutcome
from reconciler.desired.model import ServiceGroup

from .harness import World

REGION = "cn-shanghai"


def group(name: str, replicas: tuple[int, ...] = (3, 1), resource: str | None = None) -> ServiceGroup:
    resources = {"cpu": 1, "memory": 1000, **({"resource_group": resource} if resource else {})}
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": name, "region": REGION},
        "spec": {"services": [{"name": f"{name}_{i}", "replicas": r, "resources": resources,
                               "model": {"path": f"oss://b/{name}/{i}.pmml", "processor": "pmml"}}
                              for i, r in enumerate(replicas)]}})


def listings_for(count: int) -> tuple[int, int]:
    """(ListServices round trips, virtual seconds) of applying `count` new groups at once."""
    world = World()

    async def go() -> int:
        plan, live = await world.plan([group(f"g{i}") for i in range(count)])
        async with connect_all(world.connector, [REGION]) as links:
            executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0), journal=Journal(None))
            report = await executor.run(plan, live)
            assert report.ok
            return links[REGION].client.stats.round_trips["ListServices"]

    listings = asyncio.run(go())
    return listings, int(world.timer.slept)


def test_waits_of_all_groups_share_one_listing_per_round() -> None:
    one, one_time = listings_for(1)
    eight, eight_time = listings_for(8)
    assert one >= 2  # it did poll
    assert eight <= one + 1, (one, eight)  # not 8 times as many: one listing serves every waiter
    assert eight_time <= one_time + 1  # and the groups waited side by side


def test_a_wait_that_never_ends_times_out_naming_the_service_its_status_and_why() -> None:
    world = World()
    world.emulator(REGION).backend.set_capacity("eas-r-full", 0)

    async def go() -> None:
        plan, live = await world.plan([group("stuck", (2,), resource="eas-r-full"), group("fine")])
        report = await world.apply(plan, live, timeout=30.0)
        by_name = {g.group: g for g in report.groups}
        assert by_name["fine"].outcome is GroupOutcome.DONE
        stuck = by_name["stuck"]
        assert stuck.outcome is GroupOutcome.FAILED
        assert stuck.failed_step is not None and stuck.failed_step.action.value == "wait_running"
        assert "stuck_0" in stuck.error and "timed out" in stuck.error and "Waiting" in stuck.error
        assert stuck.left and stuck.left[0] == stuck.failed_step

    asyncio.run(go())
