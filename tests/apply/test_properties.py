"""Property: any live state + any valid desired state -> plan -> apply converges safely on the emulator.

Live state is created through the client (managed services, random replicas, traffic states, weights,
modes, model versions); the desired state is random, valid and built to serve (one member drawn to take
traffic: no example is thrown away); `max_shift` is drawn too, so weight and replica ramps are applied.
After apply, the emulator's own history must show no black hole of a serving group (unless the desired
state removes it), no member getting traffic before it is Running with every replica, no rise of more
than `max_shift` points caused by one write (unless the plan was forced), the final state must be the
desired one and a fresh plan must be empty. The same must hold with throttling and 503s injected.

A refused plan must be refused for max_shift (the only rule that live members that all run and are
managed can break here); it is then applied with force, which overrules that rule only.

Examples: the hypothesis profile of tests/conftest.py (bounded when CI=true), half of it per test
(each example is a whole apply).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup, TrafficMode, TrafficState
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.emulator.listing import ServiceQuery
from reconciler.errors import PlanError
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE, LiveState
from reconciler.plan.build import build_plan
from reconciler.plan.model import Plan

from .harness import World
from .invariants import shifts, violations

REGION = "cn-shanghai"
PROFILE = settings(max_examples=max(10, settings.default.max_examples // 2), deadline=None,
                   suppress_health_check=[HealthCheck.too_slow])
MAX_SHIFTS = st.sampled_from([10, 25, 50, 100])


@dataclass(frozen=True)
class Member:
    name: str
    replicas: int
    traffic: TrafficState
    weight: int
    version: int


@dataclass(frozen=True)
class Group:
    name: str
    mode: TrafficMode
    members: tuple[Member, ...]

    def model(self) -> ServiceGroup:
        customized = self.mode is TrafficMode.CUSTOMIZED
        services = [{
            "name": m.name, "traffic": m.traffic.value, "replicas": m.replicas,
            **({"weight": m.weight} if customized else {}),
            "resources": {"cpu": 1, "memory": 1000},
            "model": {"path": f"oss://bucket/{m.name}/v{m.version}.pmml", "processor": "pmml"},
        } for m in self.members]
        return ServiceGroup.model_validate({
            "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": self.name, "region": REGION},
            "spec": {"traffic_mode": self.mode.value, "services": services}})


def members(group: str, weights: st.SearchStrategy[int]) -> st.SearchStrategy[tuple[Member, ...]]:
    names = st.lists(st.sampled_from([f"{group}_a", f"{group}_b", f"{group}_c"]), min_size=1, max_size=3,
                     unique=True)
    return names.flatmap(lambda ns: st.tuples(*(st.builds(
        Member, st.just(n), st.integers(0, 3), st.sampled_from(list(TrafficState)), weights, st.integers(1, 2))
        for n in sorted(ns))))


def groups(weights: st.SearchStrategy[int]) -> st.SearchStrategy[Group]:
    return st.sampled_from(["ga", "gb"]).flatmap(lambda g: st.builds(
        Group, st.just(g), st.sampled_from(list(TrafficMode)), members(g, weights)))


@st.composite
def serving_groups(draw: st.DrawFn, weights: st.SearchStrategy[int]) -> Group:
    """A group whose desired state serves (the loader refuses one that would be a black hole): one member,
    drawn, takes traffic with at least one replica and a weight above 0; the others are free."""
    g: Group = draw(groups(weights))
    i = draw(st.integers(0, len(g.members) - 1))
    m = g.members[i]
    anchor = replace(m, traffic=TrafficState.GROUPING, replicas=max(m.replicas, 1), weight=max(m.weight, 1))
    return replace(g, members=(*g.members[:i], anchor, *g.members[i + 1:]))


def unique(gs: list[Group]) -> list[Group]:
    return list({g.name: g for g in gs}.values())


async def seed(world: World, live: list[Group]) -> None:
    """Create the live state through the client: services, then Running, then traffic states and modes."""
    async with world.link(REGION) as link:
        c = link.client
        for g in live:
            model = g.model()
            for spec in model.spec.services:
                await c.create_service(to_eas_config(model, spec), labels={MANAGED_BY_LABEL: MANAGED_BY_VALUE})
        world.timer.advance(60)
        for g in live:
            for m in g.members:
                await c.release_service(m.name, traffic_state=m.traffic, weight=m.weight)
            if g.mode is TrafficMode.CUSTOMIZED:
                await c.update_group(g.name, traffic_mode=TrafficMode.CUSTOMIZED)


def final_matches(world: World, desired: list[Group], live: list[Group], prune: bool) -> list[str]:
    """What the emulator holds against the desired state, checked without the planner's code: each member's
    traffic state, running replicas, model version and (customized) weight, each group's mode; managed
    members no longer declared are gone, and so are whole groups removed with prune."""
    backend = world.emulator(REGION).backend
    views, _ = backend.list_services(ServiceQuery(size=1000))
    by_name = {v.record.name: v for v in views}
    wrong = []
    for g in desired:
        if backend.describe_group(REGION, g.name).traffic_mode.value != g.mode.value:
            wrong.append(f"group {g.name}: mode {backend.describe_group(REGION, g.name).traffic_mode.value}")
        for m in g.members:
            v = by_name.get(m.name)
            if v is None:
                wrong.append(f"{m.name} missing")
                continue
            got = (v.record.traffic_state.value, v.point.running, v.record.config.get("model_path"),
                   v.record.weight if g.mode is TrafficMode.CUSTOMIZED else None)
            want = (m.traffic.value, m.replicas, f"oss://bucket/{m.name}/v{m.version}.pmml",
                    m.weight if g.mode is TrafficMode.CUSTOMIZED else None)
            if got != want:
                wrong.append(f"{m.name}: {got}, want {want}")
    declared = {m.name for g in desired for m in g.members}
    desired_groups = {g.name for g in desired}
    for g in live:
        orphan_kept = g.name not in desired_groups and not prune  # an orphaned group is deleted only with prune
        wrong += [f"{m.name} should be gone" for m in g.members
                  if m.name in by_name and m.name not in declared and not orphan_kept]
    return wrong


def checked_plan(desired: list[Group], state: LiveState, max_shift: int, **options: Any) -> tuple[Plan, bool]:
    """The plan, and True when it had to be forced: a refusal must be for max_shift, the only rule that
    managed members that all run can break; force overrules that rule and no other."""
    models = [g.model() for g in desired]
    try:
        return build_plan(models, state, max_shift=max_shift, **options), False
    except PlanError as exc:
        assert "rule max_shift" in str(exc) and "overrule with --force" in str(exc), str(exc)
    return build_plan(models, state, max_shift=max_shift, force=True, **options), True


async def scenario(live: list[Group], desired: list[Group], prune: bool, initial: str,
                   faults: list[Fault], max_shift: int) -> None:
    world = World(initial=initial)
    await seed(world, live)
    since = max((e["seq"] for e in world.history(REGION)[0]), default=0)
    for fault in faults:
        world.emulator(REGION).faults.add(fault)
    state = await world.live([REGION])
    plan, forced = checked_plan(desired, state, max_shift, prune=prune)
    report = await world.apply(plan, state)
    assert report.ok, [(g.group, g.error) for g in report.groups]
    events, shares = world.history(REGION)
    removed = {g.name for g in live} - {g.name for g in desired} if prune else set()
    assert violations(events, shares, since=since, removed=removed) == []
    if not forced:
        assert shifts(events, shares, max_shift, since=since) == []
    assert final_matches(world, desired, live, prune) == []
    world.emulator(REGION).faults.clear()
    again, _ = await world.plan([g.model() for g in desired], prune=prune, max_shift=100)
    assert not again.has_changes, [(g.name, [s.action.value for s in g.steps]) for g in again.groups]


STATES: Any = st.lists(groups(st.sampled_from([0, 1, 100, 400])), max_size=2).map(unique)
DESIRED: Any = st.lists(serving_groups(st.integers(1, 1000)), min_size=1, max_size=2).map(unique)


@PROFILE
@given(live=STATES, desired=DESIRED, prune=st.booleans(), initial=st.sampled_from(["standalone", "grouping"]),
       max_shift=MAX_SHIFTS)
def test_any_live_any_desired_converges_safely(live: list[Group], desired: list[Group], prune: bool,
                                                initial: str, max_shift: int) -> None:
    asyncio.run(scenario(live, desired, prune, initial, [], max_shift))


@PROFILE
@given(live=STATES, desired=DESIRED, prune=st.booleans(), initial=st.sampled_from(["standalone", "grouping"]),
       seed=st.integers(0, 1000), max_shift=MAX_SHIFTS)
def test_same_with_throttling_and_503s(live: list[Group], desired: list[Group], prune: bool, initial: str,
                                       seed: int, max_shift: int) -> None:
    faults = [Fault("*", FaultKind.THROTTLE, rate=1.0, retry_after_ms=200, remaining=1),  # at least one, always
              Fault("*", FaultKind.THROTTLE, rate=0.15, retry_after_ms=200, seed=seed),
              Fault("*", FaultKind.ERROR503, rate=0.1, seed=seed + 1)]
    asyncio.run(scenario(live, desired, prune, initial, faults, max_shift))
    assert faults[0].fired == 1  # the faults did strike (not a fault-free run by luck)
