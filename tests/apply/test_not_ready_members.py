"""End to end on the emulator: live members that are not ready when the plan is made (reconciler.plan.readiness).

The reproduction from integration: a managed member is `grouping` and still Creating (0 running,
instances pending) when another member joins; its share must not rise before it is Running with
every replica, in the emulator's own history (its gateway's view, not the planner's).
"""

from __future__ import annotations

import asyncio

import pytest

from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup, TrafficState
from reconciler.emulator.lifecycle import FAIL_LABEL
from reconciler.errors import PlanError
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, ServiceStatus

from .harness import World
from .invariants import violations

REGION = "cn-shanghai"


def pmml(members: dict[str, int]) -> ServiceGroup:
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": "pmml", "region": REGION},
        "spec": {"services": [{"name": n, "replicas": r, "resources": {"cpu": 1, "memory": 1000},
                               "model": {"path": f"oss://b/{n}.pmml", "processor": "pmml"}}
                              for n, r in members.items()]}})


async def seed_creating(world: World, name: str, replicas: int, fail: str | None = None) -> int:
    """Create `name` grouping (the emulator's grouping setting) and leave it Creating; the last history seq.

    With `fail`, the emulator ends its Creating as Failed with that Reason."""
    async with world.link(REGION) as link:
        group = pmml({name: replicas})
        labels = {MANAGED_BY_LABEL: MANAGED_BY_VALUE, **({FAIL_LABEL: fail} if fail else {})}
        await link.client.create_service(to_eas_config(group, group.spec.services[0]), labels=labels)
    return max((e["seq"] for e in world.history(REGION)[0]), default=0)


@pytest.mark.parametrize("running_b", [False, True], ids=["b-new", "b-serving"])
def test_a_member_still_creating_gets_traffic_only_once_running(running_b: bool) -> None:
    world = World(initial="grouping")

    async def go() -> None:
        if running_b:  # another member already serves
            await world.converge([pmml({"pmml_b": 2})])
        since = await seed_creating(world, "pmml_a", 2)
        plan, live = await world.plan([pmml({"pmml_a": 2, "pmml_b": 2})], max_shift=100)
        a = live.service(REGION, "pmml_a")
        assert a is not None and a.status is ServiceStatus.CREATING and a.running == 0
        assert a.traffic_state is TrafficState.GROUPING
        report = await world.apply(plan, live)
        assert report.ok, [(g.group, g.error) for g in report.groups]
        events, shares = world.history(REGION)
        assert violations(events, shares, since=since) == []
        again, _ = await world.plan([pmml({"pmml_a": 2, "pmml_b": 2})])
        assert not again.has_changes
        final = {m.name: m.share for m in again.groups[0].members_now}
        assert final == {"pmml_a": 50.0, "pmml_b": 50.0}

    asyncio.run(go())


def test_a_failed_member_is_refused_before_any_write() -> None:
    world = World(initial="grouping")

    async def go() -> None:
        await world.converge([pmml({"pmml_b": 2})])
        await seed_creating(world, "pmml_a", 2, fail="image pull failed")
        world.timer.advance(600)
        writes = len(world.writes(REGION))
        with pytest.raises(PlanError, match=r"pmml_a is Failed \(image pull failed\), 0/2 running"):
            await world.plan([pmml({"pmml_a": 2, "pmml_b": 2})])
        assert len(world.writes(REGION)) == writes

    asyncio.run(go())
