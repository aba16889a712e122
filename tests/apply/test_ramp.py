"""End to end on the emulator: auto-mode joins split by replicas (reconciler.plan.ramp) keep every promise."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from reconciler.desired.model import ServiceGroup
from reconciler.plan import Action

from .harness import World
from .invariants import violations
from .test_not_ready_members import REGION, pmml

CASES = {  # start, desired, the scale steps the plan makes, final shares
    "new": ({"prod": 1}, {"prod": 1, "new": 4}, [4], {"prod": 20.0, "new": 80.0}),
    "from-zero": ({"prod": 1, "new": 0}, {"prod": 1, "new": 4}, [1, 4], {"prod": 20.0, "new": 80.0}),
    "two-new": ({"prod": 2}, {"prod": 2, "b": 6, "c": 9}, [6, 9], {"prod": 11.8, "b": 35.3, "c": 52.9}),
}


@pytest.mark.parametrize("case", CASES)
def test_a_ramped_join_converges_without_a_violation_or_a_jump(case: str) -> None:
    start, want, scales, final = CASES[case]
    world = World()

    async def go() -> None:
        await world.converge([pmml(start)])
        since = max(e["seq"] for e in world.history(REGION)[0])
        desired: list[ServiceGroup] = [pmml(want)]
        plan, live = await world.plan(desired, max_shift=50)
        assert [s.params.replicas for s in plan.groups[0].steps if s.params.action is Action.SCALE] == scales
        report = await world.apply(plan, live)
        assert report.ok, [(g.group, g.error) for g in report.groups]
        events, shares = world.history(REGION)
        assert violations(events, shares, since=since) == []
        snaps = [s["shares"] for s in shares["pmml"] if s["event_seq"] > since]  # fractions of 1
        for name in want.keys() - {"prod"}:  # never from 0 past max_shift in one write
            seen = [0.0, *(s.get(name, 0.0) for s in snaps)]
            assert all(b <= 0.5 + 1e-9 for a, b in itertools.pairwise(seen) if a == 0), seen
        again, _ = await world.plan(desired)
        assert not again.has_changes
        assert {m.name: m.share for m in again.groups[0].members_now} == final

    asyncio.run(go())
