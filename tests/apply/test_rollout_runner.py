"""The rollout runner on the in-process emulator and its CloudMonitor, on the virtual clock, with synthetic traffic."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from reconciler.analysis.judge import Verdict
from reconciler.apply import ApplySettings, EventKind, Executor, Journal, connect_all
from reconciler.apply.report import ApplyReport, Event, GroupOutcome, Progress, no_progress
from reconciler.desired.model import TrafficState
from reconciler.desired.rollout import PROGRESS_LABEL, OnFailure
from reconciler.eas.models import Service
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.emulator.gateway import ERROR_RATE_LABEL
from reconciler.emulator.lifecycle import FAIL_LABEL
from reconciler.live.read import list_services
from reconciler.plan.model import Plan

from .rollouts import REGION, RELEASE, MetricsWorld, Release, Traffic, group_file, release_plan

GROUP = "shop"
RELEASE_SPEC = Release(GROUP, "shop_grey", {"shop_prod": 80}, 20, shares=[10.0, 50.0])


def prepared(canary_error_rate: str | None = None) -> MetricsWorld:
    """The group live on v1 (80/20), the canary labelled to answer 500s at `canary_error_rate`."""
    world = MetricsWorld()
    report = asyncio.run(world.converge([group_file(GROUP, [("shop_prod", 80)], ("shop_grey", 20))]))
    assert report.ok
    if canary_error_rate is not None:
        world.set_label("shop_grey", ERROR_RATE_LABEL, canary_error_rate)
    return world


async def applied(world: MetricsWorld, plan: Plan, events: list[Event] | None = None,
                  journal: Journal | None = None, progress: Progress | None = None) -> ApplyReport:
    live = await world.live([REGION])
    if progress is None:
        progress = events.append if events is not None else no_progress
    with Traffic(world, GROUP):
        async with connect_all(world.connector, [REGION]) as links:
            executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0),
                                journal=journal or Journal(None), progress=progress)
            return await executor.run(plan, live)


def services(world: MetricsWorld) -> dict[str, Service]:
    async def go() -> dict[str, Service]:
        async with world.link(REGION) as link:
            return {s.service_name: s for s in await list_services(link.client, group=GROUP)}
    return asyncio.run(go())


def max_canary_share(world: MetricsWorld, after_seq: int = 0) -> float:
    _, shares = world.history(REGION)
    return max((snap["shares"].get("shop_grey", 0.0) for snap in shares.get(GROUP, [])
                if snap["event_seq"] > after_seq), default=0.0)


def black_holed(world: MetricsWorld, after_seq: int) -> bool:
    return any(snap["black_hole"] for snap in world.history(REGION)[1][GROUP] if snap["event_seq"] > after_seq)


def last_seq(world: MetricsWorld) -> int:
    events, _ = world.history(REGION)
    return max((e["seq"] for e in events), default=0)


def writes_on(world: MetricsWorld, service: str, after_seq: int) -> list[dict[str, Any]]:
    return [e for e in world.writes(REGION) if e["service"] == service and e["seq"] > after_seq]


def test_a_healthy_canary_ramps_bakes_and_promotes() -> None:
    world = prepared()
    start = last_seq(world)
    events: list[Event] = []
    journal = Journal(None)
    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC), events, journal))
    assert report.ok, [(g.outcome, g.error) for g in report.groups]
    live = services(world)
    assert live["shop_prod"].current_version == 2 and live["shop_grey"].current_version == 2
    assert live["shop_grey"].weight == 20 and PROGRESS_LABEL not in live["shop_grey"].labels
    checks = report.groups[0].checks
    assert {c.step for c in checks} == {1, 2} and len(checks) == 12  # 6 checks of 10 s in each 60 s bake
    assert all(c.result.verdict is Verdict.PASS for c in checks)
    # the canary never took more than the step's share while the bakes ran (80/20 only after the promotion)
    assert max_canary_share(world, start) <= 0.5 + 1e-9 and not black_holed(world, start)
    ticks = [e.message for e in events if e.kind is EventKind.BAKE_CHECK]
    assert ticks[0].startswith("bake 1/2 at 10 %: 10s/60s, check 1 pass")
    assert sum(1 for line in journal.entries if line["action"] == "bake_check") == 12


def test_a_canary_answering_500s_is_aborted_at_the_first_step() -> None:
    world = prepared(canary_error_rate="0.5")
    start = last_seq(world)
    journal = Journal(None)
    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC), journal=journal))
    group = report.groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK, group.error
    assert "step 1/2" in group.error
    assert [c.result.verdict for c in group.checks] == [Verdict.FAIL, Verdict.FAIL]  # failure_limit 2: early
    measured = group.checks[0].result.measurements[0]
    assert measured.canary is not None and measured.canary > 30  # about half the canary's answers were 500s
    live = services(world)
    assert live["shop_grey"].traffic_state == TrafficState.STANDALONE
    assert live["shop_grey"].current_version == 1  # back on its previous version
    assert live["shop_grey"].labels[PROGRESS_LABEL] == f"{RELEASE};0;0"
    assert writes_on(world, "shop_prod", start) == []  # the primary was never touched
    assert max_canary_share(world, start) <= 0.1 + 1e-9  # never above the first step's share
    assert not black_holed(world, start)
    assert [line["outcome"] for line in journal.entries if line["action"] == "bake_check"] == ["fail", "fail"]


def test_standalone_on_failure_keeps_the_new_version_out_of_traffic() -> None:
    world = prepared(canary_error_rate="0.5")
    spec = Release(GROUP, "shop_grey", {"shop_prod": 80}, 20, shares=[10.0], on_failure=OnFailure.STANDALONE)
    report = asyncio.run(applied(world, release_plan(spec)))
    assert report.groups[0].outcome is GroupOutcome.ROLLED_BACK
    live = services(world)
    assert live["shop_grey"].traffic_state == TrafficState.STANDALONE and live["shop_grey"].current_version == 2


def test_a_failing_smoke_test_aborts_before_any_traffic() -> None:
    world = prepared(canary_error_rate="1")
    start = last_seq(world)
    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC)))
    group = report.groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK and group.failed_step is not None
    assert group.failed_step.action.value == "smoke_test" and group.checks == []
    assert services(world)["shop_grey"].current_version == 1
    assert max_canary_share(world, start) == 0.0


def test_an_idle_canary_is_inconclusive_and_aborts() -> None:
    world = prepared()
    spec = Release(GROUP, "shop_grey", {"shop_prod": 80}, 20, shares=[1.0])  # 1 % of 40/s: under min_requests
    report = asyncio.run(applied(world, release_plan(spec)))
    group = report.groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK
    assert {c.result.verdict for c in group.checks} == {Verdict.INCONCLUSIVE} and "no conclusive" in group.error


def test_an_interrupt_during_a_bake_takes_the_canary_out_first() -> None:
    world = prepared()
    start = last_seq(world)

    async def go() -> Executor:
        live = await world.live([REGION])
        with Traffic(world, GROUP):
            async with connect_all(world.connector, [REGION]) as links:
                executor = Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0),
                                    journal=Journal(None))
                task = asyncio.ensure_future(executor.run(release_plan(RELEASE_SPEC), live))

                def progress(event: Event) -> None:
                    if event.kind is EventKind.BAKE_CHECK and "bake 2/2" in event.message:
                        task.cancel()
                executor.progress = progress
                with pytest.raises(asyncio.CancelledError):
                    await task
                return executor

    executor = asyncio.run(go())
    assert len(executor.interrupted) == 1 and "step 2/2" in executor.interrupted[0]
    assert "from step 1" in executor.interrupted[0]
    live = services(world)
    assert live["shop_grey"].traffic_state == TrafficState.STANDALONE
    assert live["shop_grey"].labels[PROGRESS_LABEL] == f"{RELEASE};0;0"
    assert writes_on(world, "shop_prod", start) == []
    assert not black_holed(world, start)


def test_a_resumed_bake_counts_the_part_already_served() -> None:
    world = prepared()
    # as if a run had been killed 40 s into step 2's bake: the label says so
    started = int(world.timer.epoch()) - 40
    world.set_label("shop_grey", PROGRESS_LABEL, f"{RELEASE};2;{started}")
    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC, resumed_from=2)))
    assert report.ok, report.groups[0].error
    checks = report.groups[0].checks
    assert {c.step for c in checks} == {2}
    assert checks[0].result.start == started and checks[-1].result.end == started + 60  # the step's own grid
    assert len(checks) == 6 and checks[-1].result.verdict is Verdict.PASS


def test_an_abort_path_that_cannot_finish_fails_the_group_and_says_so() -> None:
    world = prepared(canary_error_rate="0.5")
    world.emulator(REGION).faults.add(Fault("UpdateServiceVersion", FaultKind.ERROR500))
    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC)))
    group = report.groups[0]
    assert group.outcome is GroupOutcome.FAILED
    assert group.rollback == ["drain shop_grey"]  # the canary did leave group traffic first
    assert len(group.not_restored) == 1 and "UpdateServiceVersion" in group.not_restored[0]
    assert services(world)["shop_grey"].traffic_state == TrafficState.STANDALONE


def test_a_canary_that_goes_failed_is_rolled_back() -> None:
    world = prepared()
    world.set_label("shop_grey", FAIL_LABEL, "OOMKilled")  # its next update ends Failed
    start = last_seq(world)
    events: list[Event] = []

    def heal(event: Event) -> None:  # once the release is aborted, the old version can start again
        events.append(event)
        if event.kind is EventKind.ABORT:
            world.emulator(REGION).backend.delete_service_label(REGION, "shop_grey", [FAIL_LABEL])

    async def go() -> ApplyReport:
        live = await world.live([REGION])
        async with connect_all(world.connector, [REGION]) as links:
            return await Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0),
                                  journal=Journal(None), progress=heal).run(release_plan(RELEASE_SPEC), live)

    group = asyncio.run(go()).groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK, (group.error, group.not_restored)
    assert group.failed_step is not None and group.failed_step.action.value in ("update_config", "wait_running")
    assert "Failed" in group.error
    live = services(world)
    assert live["shop_grey"].current_version == 1 and live["shop_grey"].status == "Running"
    assert writes_on(world, "shop_prod", start) == [] and not black_holed(world, start)


def test_a_canary_that_fails_while_baking_aborts_at_its_next_check() -> None:
    world = prepared()
    events: list[Event] = []

    def breaks(event: Event) -> None:  # someone scales the canary mid-bake, and that update fails
        events.append(event)
        if event.kind is EventKind.BAKE_CHECK and sum(e.kind is EventKind.BAKE_CHECK for e in events) == 1:
            backend = world.emulator(REGION).backend
            backend.update_service_label(REGION, "shop_grey", {FAIL_LABEL: "OOMKilled"})
            backend.update_service(REGION, "shop_grey", {"metadata": {"instance": 2}})
        if event.kind is EventKind.ABORT:
            world.emulator(REGION).backend.delete_service_label(REGION, "shop_grey", [FAIL_LABEL])

    report = asyncio.run(applied(world, release_plan(RELEASE_SPEC), progress=breaks))
    events_seen = [e for e in events if e.kind is EventKind.BAKE_CHECK]
    group = report.groups[0]
    assert group.outcome is GroupOutcome.ROLLED_BACK, (group.error, group.not_restored)
    assert "is Failed" in group.error and len(group.checks) == 1 == len(events_seen)
    assert services(world)["shop_grey"].traffic_state == TrafficState.STANDALONE
