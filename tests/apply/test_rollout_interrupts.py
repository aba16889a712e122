"""A release cancelled after each of its steps in turn, then planned and applied again: it finishes as the files say.

Cancelled inside the rollout (from the progress label's first write to the last bake), the canary is
out of group traffic and its label at step 0, so the next plan starts the release from step 1.
Before it, nothing was rolled back; after the last bake, the next plan resumes at the last step,
whose bake was served already, and finishes the promotion.
"""

from __future__ import annotations

import asyncio

import pytest

from reconciler.apply import ApplySettings, EventKind, Executor, Journal, connect_all
from reconciler.apply.report import Event
from reconciler.apply.rollout import rollout_phase
from reconciler.desired.model import TrafficState
from reconciler.desired.rollout import PROGRESS_LABEL
from reconciler.live.model import SPEC_HASH_LABEL
from reconciler.plan.model import Action, Plan

from .rollouts import REGION, MetricsWorld, Traffic
from .test_rollout_release import pmml

RELEASE = pmml("v4")


async def cancelled_after(world: MetricsWorld, plan: Plan, after: int) -> Executor:
    live = await world.live([REGION])
    async with connect_all(world.connector, [REGION]) as links:
        executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0), journal=Journal(None))
        task = asyncio.ensure_future(executor.run(plan, live))

        def progress(event: Event) -> None:
            if event.kind is EventKind.STEP_DONE and event.step is not None and event.step.index == after:
                task.cancel()
        executor.progress = progress
        with pytest.raises(asyncio.CancelledError):
            await task
    return executor


def first_plan() -> tuple[MetricsWorld, Plan]:
    world = MetricsWorld()
    assert asyncio.run(world.converge([pmml("v3", rollout=False)])).ok
    plan, _ = asyncio.run(world.plan([RELEASE]))
    return world, plan


_, PLAN = first_plan()
PHASE = rollout_phase(PLAN.groups[0])


@pytest.mark.parametrize("after", range(1, len(PLAN.groups[0].steps)))
def test_a_release_cancelled_after_any_step_finishes_on_the_next_apply(after: int) -> None:
    world, plan = first_plan()

    async def go() -> None:
        old_hash = {s.name: s for s in (await world.live([REGION])).services}["pmml_grey"].spec_hash
        with Traffic(world, "pmml"):
            executor = await cancelled_after(world, plan, after)
            canary = {s.name: s for s in (await world.live([REGION])).services}["pmml_grey"]
            again, live = await world.plan([RELEASE])
            rollout = again.groups[0].rollout
            if after in PHASE:  # the next step (0-based `after`) is in the rollout: cancelled inside it
                assert len(executor.interrupted) == 1
                assert canary.traffic_state is TrafficState.STANDALONE
                assert canary.labels[PROGRESS_LABEL].split(";")[1] == "0"
                assert rollout is not None and rollout.resumed_from is None  # from step 1
            else:
                assert executor.interrupted == []
            if after > max(PHASE):  # past the last bake: resumed there, the bake already served
                assert rollout is None or rollout.resumed_from == len(rollout.steps)
            report = await world.apply(again, live)
            assert report.ok, [(g.outcome, g.error) for g in report.groups]
        final, _ = await world.plan([RELEASE])
        assert not final.has_changes
        # an interrupt never writes the previous spec hash on a canary that keeps the new version: once the
        # plan has labelled the canary with the new hash, that label stays through the interrupt
        relabel, new_hash = next((st.index, st.params.labels[SPEC_HASH_LABEL]) for st in plan.groups[0].steps
                                 if st.params.action is Action.UPDATE_LABELS and st.service == "pmml_grey"
                                 and st.params.labels.get(SPEC_HASH_LABEL, old_hash) != old_hash)
        if after in PHASE:
            assert canary.labels.get(SPEC_HASH_LABEL) == (new_hash if after >= relabel else old_hash)
    asyncio.run(go())
