"""Property: like test_properties, but some live members are still coming up when the plan is made.

Part of the live state is created and left Creating (0 to all instances up, `grouping` or
standalone as drawn) right before planning, so the plan meets members that are not ready and that
the desired state may not change at all. The emulator's own history must still show no black hole
of a serving group and no member getting traffic before it is Running with every replica; the
final state must be the desired one and a fresh plan empty. (Without prune: a live group no file
declares is orphaned and left alone, its members come up on their own.) `max_shift` is drawn; a refused
plan must be refused for a rule force may overrule (`allowed_refusal`), and is then applied forced.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import TrafficMode
from reconciler.errors import PlanError
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from reconciler.plan.build import build_plan

from .harness import World
from .invariants import violations
from .test_properties import DESIRED, MAX_SHIFTS, PROFILE, REGION, STATES, Group, final_matches


async def seed(world: World, live: list[Group], late: set[str], late_seconds: float) -> None:
    """Members not in `late` are Running; `late` ones are created `late_seconds` before the plan."""
    async with world.link(REGION) as link:
        c = link.client
        for wave in (False, True):
            for g in live:
                model = g.model()
                for spec in model.spec.services:
                    if (spec.name in late) is wave:
                        await c.create_service(to_eas_config(model, spec), labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})
            if not wave:
                world.timer.advance(60)
            for g in live:
                for m in g.members:
                    if (m.name in late) is wave:
                        await c.release_service(m.name, traffic_state=m.traffic, weight=m.weight)
        for g in live:  # every group exists by now
            if g.mode is TrafficMode.CUSTOMIZED:
                await c.update_group(g.name, traffic_mode=TrafficMode.CUSTOMIZED)
        world.timer.advance(late_seconds)


def allowed_refusal(error: str) -> bool:
    """Refusals these live states may earn, all overruled by force: max_shift; and ready_before_traffic for
    a member still coming up that the plan neither waits for nor parks because it does not touch it
    (force overrules that only for untouched members)."""
    return ("rule max_shift" in error or "rule ready_before_traffic" in error) and "overrule with --force" in error


async def scenario(live: list[Group], desired: list[Group], late: set[str], late_seconds: float,
                   initial: str, max_shift: int) -> None:
    world = World(initial=initial)
    await seed(world, live, late, late_seconds)
    since = max((e["seq"] for e in world.history(REGION)[0]), default=0)
    state = await world.live([REGION])
    try:
        plan = build_plan([g.model() for g in desired], state, max_shift=max_shift)
    except PlanError as exc:
        assert allowed_refusal(str(exc)), str(exc)
        plan = build_plan([g.model() for g in desired], state, max_shift=max_shift, force=True)
    report = await world.apply(plan, state)
    assert report.ok, [(g.group, g.error) for g in report.groups]
    events, shares = world.history(REGION)
    # a live group no file declares is orphaned: the plan keeps it and never writes to it, so what EAS
    # does to its members meanwhile is not the apply's doing
    planned = {g.name for g in desired}
    assert [v for v in violations(events, shares, since=since) if v.split(" group ")[1].split(":")[0] in planned] == []
    assert final_matches(world, desired, live, False) == []
    again, _ = await world.plan([g.model() for g in desired], max_shift=100)
    assert not again.has_changes, [(g.name, [s.action.value for s in g.steps]) for g in again.groups]


@st.composite
def worlds(draw: st.DrawFn) -> tuple[list[Group], set[str], float]:
    live: list[Group] = draw(STATES)
    names = sorted(m.name for g in live for m in g.members)
    late = set(draw(st.lists(st.sampled_from(names), unique=True))) if names else set()
    return live, late, draw(st.sampled_from([0.0, 0.5, 1.5, 2.5]))


@PROFILE
@given(world=worlds(), desired=DESIRED, initial=st.sampled_from(["standalone", "grouping"]), max_shift=MAX_SHIFTS)
def test_members_still_coming_up_never_get_traffic_early(world: tuple[Any, ...], desired: list[Group],
                                                         initial: str, max_shift: int) -> None:
    live, late, late_seconds = world
    asyncio.run(scenario(live, desired, late, late_seconds, initial, max_shift))
