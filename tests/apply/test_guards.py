"""The apply-time guards (reconciler.apply.steps) against live state that moved during the apply.

The plan was checked on the live state it was made from; the guards re-check on what EAS says right
before each traffic step. Here a hook moves live state out of band (another tool's ReleaseService,
a member that stops being ready) at the start of one step: the guard must refuse that step and the
step must make no write (the writes counted at the hook and when the executor starts its rollback
are the same). Turning either guard off makes these tests fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from reconciler.apply.report import Event, EventKind, GroupOutcome
from reconciler.desired.model import ServiceGroup
from reconciler.plan import Action

from .harness import World
from .test_not_ready_members import REGION, pmml


def customized(weights: dict[str, int]) -> ServiceGroup:
    group = pmml(dict.fromkeys(weights, 1))
    data = group.model_dump(mode="json", exclude_none=True)
    data["spec"]["traffic_mode"] = "customized"
    for s in data["spec"]["services"]:
        s["weight"] = weights[s["name"]]
    return ServiceGroup.model_validate(data)


class Hook:
    """Runs `move` (on the emulator backend) when the step (`action`, `service`) starts; counts writes."""

    def __init__(self, world: World, action: Action, service: str, move: Callable[[Any], None]) -> None:
        self.world, self.action, self.service, self.move = world, action, service, move
        self.at_hook: int | None = None
        self.at_rollback: int | None = None

    def __call__(self, event: Event) -> None:
        step = event.step
        if event.kind is EventKind.STEP_START and step is not None and (step.action, step.service) == (
                self.action, self.service) and self.at_hook is None:
            self.move(self.world.emulator(REGION).backend)
            self.at_hook = len(self.world.writes(REGION))
        if event.kind is EventKind.ROLLBACK:
            self.at_rollback = len(self.world.writes(REGION))


async def applied(world: World, start: list[ServiceGroup], want: list[ServiceGroup], hook: Hook) -> Any:
    await world.converge(start)
    plan, live = await world.plan(want, max_shift=100)
    assert any((s.action, s.service) == (hook.action, hook.service) for s in plan.groups[0].steps)
    report = await world.apply(plan, live, progress=hook)
    (group,) = report.groups
    assert hook.at_hook is not None, "the hooked step never started"
    return group


@pytest.mark.parametrize("case", ["drain", "weight-zero"])
def test_a_traffic_out_step_that_would_black_hole_after_an_out_of_band_move_is_refused(case: str) -> None:
    """Another tool takes pmml_a out of traffic mid-apply: the plan's next traffic-out step on pmml_b would
    leave the group with no member (503 for every request)."""
    world = World()
    if case == "drain":  # pmml_b is removed from the file: drain, then delete
        start, want, action = [pmml({"pmml_a": 1, "pmml_b": 1})], [pmml({"pmml_a": 1})], Action.DRAIN
    else:  # customized: pmml_b's weight goes to 0
        start = [customized({"pmml_a": 100, "pmml_b": 100})]
        want, action = [customized({"pmml_a": 100, "pmml_b": 0})], Action.SET_WEIGHT
    hook = Hook(world, action, "pmml_b",
                lambda backend: backend.release_service(REGION, "pmml_a", "standalone", None))
    group = asyncio.run(applied(world, start, want, hook))
    assert group.outcome is GroupOutcome.FAILED
    assert group.failed_step is not None and (group.failed_step.action, group.failed_step.service) == (
        action, "pmml_b")
    assert "no member taking traffic (a black hole): refused" in group.error
    assert hook.at_rollback == hook.at_hook  # the refused step wrote nothing
    b = world.emulator(REGION).backend.describe_service(REGION, "pmml_b").record
    assert b.traffic_state.value == "grouping" and (case == "drain" or b.weight == 100)


def _rescale(backend: Any) -> None:
    """Someone scales the new member out of band: 1 of 3 replicas runs, it is no longer ready."""
    backend.update_service(REGION, "pmml_c", {"metadata": {"instance": 3}})


def _fail(backend: Any) -> None:
    """The new member's next version fails to start (the emulator's fail label), pushed out of band."""
    backend.update_service_label(REGION, "pmml_c", {"emulator/fail": "image pull failed"})
    backend.update_service(REGION, "pmml_c", {"model_path": "oss://b/broken.pmml"})


@pytest.mark.parametrize("move", [_rescale, _fail], ids=["scaling", "failing"])
def test_a_join_of_a_member_that_stopped_being_ready_is_refused(move: Callable[[Any], None]) -> None:
    world = World()
    hook = Hook(world, Action.SET_TRAFFIC_STATE, "pmml_c", move)
    group = asyncio.run(applied(world, [pmml({"pmml_a": 2})], [pmml({"pmml_a": 2, "pmml_c": 1})], hook))
    assert group.outcome is GroupOutcome.FAILED
    assert group.failed_step is not None and group.failed_step.service == "pmml_c"
    assert "pmml_c is not ready to take traffic" in group.error
    assert hook.at_rollback == hook.at_hook
    c = world.emulator(REGION).backend.describe_service(REGION, "pmml_c").record
    assert c.traffic_state.value == "standalone"  # it never joined


def test_a_delete_of_a_member_put_back_into_traffic_after_its_drain_is_refused() -> None:
    world = World()
    hook = Hook(world, Action.DELETE_SERVICE, "pmml_b",
                lambda backend: backend.release_service(REGION, "pmml_b", "grouping", None))
    group = asyncio.run(applied(world, [pmml({"pmml_a": 1, "pmml_b": 1})], [pmml({"pmml_a": 1})], hook))
    assert group.outcome is GroupOutcome.FAILED
    assert "pmml_b still takes group traffic" in group.error and "not deleted without a drain" in group.error
    assert hook.at_rollback == hook.at_hook
    assert world.emulator(REGION).backend.describe_service(REGION, "pmml_b").record is not None
