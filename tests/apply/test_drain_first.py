"""End to end on the emulator: a serving member's new version takes group traffic only once it is Running
and smoke-tested (it is drained first), in the emulator's own history."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.apply.report import Event, EventKind
from reconciler.desired.model import ServiceGroup
from reconciler.plan import Action

from .harness import World
from .invariants import shifts, violations
from .test_not_ready_members import REGION, pmml


def canary(replicas: dict[str, int], version: str, traffic: str = "grouping") -> ServiceGroup:
    data = pmml(replicas).model_dump(mode="json", exclude_none=True)
    grey = next(s for s in data["spec"]["services"] if s["name"] == "pmml_grey")
    grey.update(traffic=traffic, smoke_test={"path": "/"})
    grey["model"]["path"] = f"oss://b/grey_{version}.pmml"
    return ServiceGroup.model_validate(data)


def _new_version_shares(world: World, since: int) -> list[float]:
    """pmml_grey's share in every snapshot from its new version's UpdateService until its next ReleaseService."""
    events, shares = world.history(REGION)
    update = next(e["seq"] for e in events if e["seq"] > since and e["action"] == "UpdateService"
                  and e["service"] == "pmml_grey" and "Version" in e["detail"])
    rejoin = next((e["seq"] for e in events if e["seq"] > update and e["action"] == "ReleaseService"
                   and e["service"] == "pmml_grey"), max(e["seq"] for e in events) + 1)
    return [s["shares"].get("pmml_grey", 0.0) for s in shares["pmml"] if update <= s["event_seq"] < rejoin]


@pytest.mark.parametrize(("traffic", "final"), [("grouping", 0.2), ("standalone", 0.0)])
def test_a_serving_canary_gets_its_new_version_out_of_traffic_and_rejoins_tested(traffic: str, final: float) -> None:
    world = World()
    order: list[tuple[str, str | None]] = []

    def log(event: Event) -> None:
        if event.kind is EventKind.STEP_DONE and event.step is not None:
            order.append((event.step.action.value, event.step.service))

    async def go() -> None:
        await world.converge([canary({"pmml_prod": 4, "pmml_grey": 1}, "v1")])
        since = max(e["seq"] for e in world.history(REGION)[0])
        desired = [canary({"pmml_prod": 4, "pmml_grey": 1}, "v2", traffic)]
        plan, live = await world.plan(desired)
        assert plan.groups[0].steps[0].action is Action.DRAIN
        report = await world.apply(plan, live, progress=log)
        assert report.ok, [(g.group, g.error) for g in report.groups]
        grey = _new_version_shares(world, since)
        assert grey and set(grey) == {0.0}  # no traffic while the new version rolls out and is tested
        events, shares = world.history(REGION)
        assert violations(events, shares, since=since) == []
        assert shifts(events, shares, 50, since=since) == []
        assert shares["pmml"][-1]["shares"]["pmml_grey"] == pytest.approx(final)
        if traffic == "grouping":
            assert order.index(("smoke_test", "pmml_grey")) < order.index(("set_traffic_state", "pmml_grey"))
        again, _ = await world.plan(desired)
        assert not again.has_changes

    asyncio.run(go())


def test_the_max_shift_invariant_sees_a_forced_jump() -> None:
    """The history check used by the property tests is not blind: a forced 0 -> 80 % join is reported."""
    world = World()

    async def go() -> Any:
        await world.converge([pmml({"pmml_prod": 1})])
        since = max(e["seq"] for e in world.history(REGION)[0])
        plan, live = await world.plan([pmml({"pmml_prod": 1, "pmml_big": 4})], max_shift=20, force=True)
        assert (await world.apply(plan, live)).ok
        events, shares = world.history(REGION)
        found = shifts(events, shares, 20, since=since)
        assert found and "pmml_big rose" in found[0]
        assert shifts(events, shares, 100, since=since) == []

    asyncio.run(go())


def test_a_drained_canary_whose_new_version_fails_its_smoke_test_is_not_put_back_by_the_rollback() -> None:
    world = World()

    async def go() -> None:
        await world.converge([canary({"pmml_prod": 4, "pmml_grey": 1}, "v1")])
        broken = canary({"pmml_prod": 4, "pmml_grey": 1}, "v2")
        grey = broken.service("pmml_grey")
        assert grey is not None and grey.smoke_test is not None
        object.__setattr__(grey.smoke_test, "expect_status", 418)  # the direct endpoint answers 200: fails
        plan, live = await world.plan([broken])
        report = await world.apply(plan, live)
        (group,) = report.groups
        assert group.failed_step is not None and group.failed_step.action is Action.SMOKE_TEST
        assert any("pmml_grey not put back in traffic: its new version has not passed" in line
                   for line in group.not_restored), group.not_restored
        record = world.emulator(REGION).backend.describe_service(REGION, "pmml_grey").record
        assert record.traffic_state.value == "standalone"
        assert world.history(REGION)[1]["pmml"][-1]["shares"]["pmml_grey"] == 0.0

    asyncio.run(go())
