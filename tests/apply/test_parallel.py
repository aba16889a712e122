"""`parallel` bounds groups carrying out a step at once; a group waiting for Running holds no slot."""

from __future__ import annotations

import asyncio

from reconciler.apply import steps
from reconciler.plan.model import Action

from .harness import EXAMPLES, World, load

GROUPS = load(EXAMPLES / "pmml.yaml", EXAMPLES / "blue_green.yaml", EXAMPLES / "canary_standalone.yaml")


def _elapsed(parallel: int) -> tuple[float, float]:
    """Virtual seconds for applying the three groups with `parallel`, and the longest group alone."""
    world = World()

    async def scenario() -> tuple[float, float]:
        plan, live = await world.plan(GROUPS)
        assert all(any(s.action is Action.WAIT_RUNNING for s in g.steps) for g in plan.groups)
        start = world.timer.now()
        report = await world.apply(plan, live, parallel=parallel)
        assert report.ok, [(g.group, g.error) for g in report.groups]
        return world.timer.now() - start, max(g.elapsed for g in report.groups)

    return asyncio.run(scenario())


def test_waiting_groups_do_not_hold_a_parallel_slot() -> None:
    wall, slowest = _elapsed(parallel=1)
    # With one slot, groups whose waits held the slot would run one after the other (about the sum of
    # their critical paths); waits overlap instead, so the whole apply takes about the slowest group.
    assert wall <= slowest * 1.3, (wall, slowest)


def test_parallel_one_still_serialises_writes() -> None:
    world = World()
    active = 0
    peak = 0

    async def scenario() -> None:
        nonlocal active, peak
        plan, live = await world.plan(GROUPS)

        run_step = steps.GroupRun.run_step

        async def tracked(self: steps.GroupRun, step: object) -> None:
            nonlocal active, peak
            writes = getattr(step, "action", None) is not Action.WAIT_RUNNING
            active += writes
            peak = max(peak, active)
            try:
                await run_step(self, step)  # type: ignore[arg-type]
            finally:
                active -= writes

        steps.GroupRun.run_step = tracked  # type: ignore[method-assign]
        try:
            report = await world.apply(plan, live, parallel=1)
        finally:
            steps.GroupRun.run_step = run_step  # type: ignore[method-assign]
        assert report.ok

    asyncio.run(scenario())
    assert peak == 1, f"{peak} groups carried out a write step at once with parallel=1"
