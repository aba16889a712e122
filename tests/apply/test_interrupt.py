"""Interrupted applies: stop after each step in turn, then plan and apply again: the rest converges."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.apply import ApplySettings, EventKind, Executor, Journal, connect_all
from reconciler.apply.report import Event, GroupOutcome
from reconciler.eas.retry import OP_KINDS, OpKind
from reconciler.plan.model import Action, Plan

from .harness import EXAMPLES, World, load
from .invariants import violations

REGION = "cn-shanghai"
GROUPS = [g for g in load(EXAMPLES) if g.region == REGION]


def touched(plan: Plan) -> set[tuple[str, str | None]]:
    return {(g.name, c.service) for g in plan.groups for c in g.changes}


async def interrupted(world: World, after: int) -> Plan:
    """Apply the examples one group at a time and cancel right after step number `after` completes."""
    plan, live = await world.plan(GROUPS)
    done = 0
    async with connect_all(world.connector, [REGION]) as links:
        executor = Executor(links, world.timer, settings=ApplySettings(parallel=1, poll_interval=1.0),
                            journal=Journal(None))
        task = asyncio.ensure_future(executor.run(plan, live))

        def count(event: Event) -> None:
            nonlocal done
            if event.kind is EventKind.STEP_DONE:
                done += 1
                if done == after:
                    task.cancel()

        executor.progress = count
        with pytest.raises(asyncio.CancelledError):
            await task
    return plan


async def resume(world: World, after: int) -> None:
    first = await interrupted(world, after)
    rest, live = await world.plan(GROUPS)
    assert rest.has_changes, after
    assert touched(rest) <= touched(first), after  # only work the first plan had
    existing = {s.name for s in live.services}
    assert not any(s.action is Action.CREATE_SERVICE and s.service in existing for g in rest.groups for s in g.steps)
    report = await world.apply(rest, live)
    assert report.ok, [(g.group, g.error) for g in report.groups]
    final, _ = await world.plan(GROUPS)
    assert not final.has_changes


@pytest.mark.parametrize("initial", ["standalone", "grouping"])
def test_stop_after_each_step_then_plan_shows_the_rest_and_apply_converges(initial: str) -> None:
    total = sum(len(g.steps) for g in asyncio.run(World().plan(GROUPS))[0].groups)
    assert total > 10
    for after in range(1, total):
        world = World(initial=initial)
        asyncio.run(resume(world, after))
        events, shares = world.history(REGION)
        assert violations(events, shares) == [], after


def test_fail_fast_stops_other_groups_at_a_step_boundary() -> None:
    world = World()
    broken = [g.model_copy(deep=True) for g in GROUPS]
    fraud = next(g for g in broken if g.name == "fraud")
    canary = fraud.service("fraud_v3")
    assert canary is not None and canary.smoke_test is not None
    object.__setattr__(canary.smoke_test, "expect_status", 418)  # the direct endpoint answers 200: fails

    async def scenario() -> None:
        plan, live = await world.plan(broken)
        events: list[Event] = []
        report = await world.apply(plan, live, parallel=1, fail_fast=True, progress=events.append)
        outcomes = {g.group: g.outcome for g in report.groups}
        assert outcomes["fraud"] is GroupOutcome.FAILED
        assert "smoke test of fraud.fraud_v3" in next(g.error for g in report.groups if g.group == "fraud")
        failed_at = next(i for i, e in enumerate(events) if e.kind is EventKind.ROLLBACK and e.group == "fraud")
        late = [(e.group, e.step.index) for e in events[failed_at:]
                if e.kind is EventKind.STEP_START and e.group != "fraud" and e.step is not None]
        assert late == [], f"steps started in other groups after the failure: {late}"
        for other in (g for g in report.groups if g.group != "fraud"):
            # Done before the failure, or stopped/skipped with its remaining steps reported.
            assert other.outcome is GroupOutcome.DONE or other.left, other
        assert not report.ok

    asyncio.run(scenario())


async def cancelled_after_writes(world: World, writes: int) -> None:
    """Apply the examples (groups in parallel) and cancel as soon as the `writes`-th write call returns."""
    plan, live = await world.plan(GROUPS)
    async with connect_all(world.connector, [REGION]) as links:
        caller = links[REGION].client.caller
        executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0), journal=Journal(None))
        task = asyncio.ensure_future(executor.run(plan, live))
        real_call = caller.call
        seen = 0

        async def call(req: Any, resolve: Any = None) -> Any:
            nonlocal seen
            answer = await real_call(req, resolve)
            if OP_KINDS.get(req.operation) is not OpKind.READ:
                seen += 1
                if seen == writes:
                    task.cancel()
            return answer

        caller.call = call  # type: ignore[method-assign]
        with pytest.raises(asyncio.CancelledError):
            await task


@pytest.mark.parametrize("initial", ["standalone", "grouping"])
def test_cancel_after_each_write_then_apply_again_converges_without_black_hole(initial: str) -> None:
    total = len(asyncio.run(full_run()))
    assert total > 10
    for writes in range(1, total):
        world = World(initial=initial)

        async def resume_after(world: World = world, writes: int = writes) -> None:
            await cancelled_after_writes(world, writes)
            rest, live = await world.plan(GROUPS)
            report = await world.apply(rest, live)
            assert report.ok, [(g.group, g.error) for g in report.groups]
            assert not (await world.plan(GROUPS))[0].has_changes

        asyncio.run(resume_after())
        events, shares = world.history(REGION)
        assert violations(events, shares) == [], writes


async def full_run() -> list[dict[str, Any]]:
    world = World()
    report = await world.converge(GROUPS)
    assert report.ok
    return world.writes(REGION)
