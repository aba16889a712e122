"""The executor: carries out a Plan against EAS, groups in parallel, the steps of one group in order.

- Before any write: every `${env:NAME}` the plan references must be set (else ConfigError, zero
  writes), and every region the plan names must have a link.
- Groups run concurrently; a group's steps run one after the other, each verified by read-back
  (`reconciler.apply.steps`). `parallel` (default 8) bounds how many groups carry out a step at
  the same time, but a group that waits for its members to be Running (WAIT_RUNNING) holds no slot:
  the bound protects the API from bursts of writes, and waiting costs the API at most one listing
  per waiting group and round, whatever the number of waiters. So 50 groups with `parallel` 8 take
  about as long as the slowest group's own critical path, not 7 waves of it.
- Waits of all groups of a region share one poller (`reconciler.apply.observe`): each round, one
  listing per waiting group, or one of the whole region when that costs fewer pages; never one per
  waiting service.
- A failed step stops its group; the group's traffic is restored to the snapshot taken before its
  first step where that is safe (`reconciler.apply.rollback`); other groups go on, unless
  `fail_fast`, in which case they stop at their next step boundary (every boundary is a safe
  state: the planner checked the shares after each step) and groups not started are skipped.
- `guard` (optional, `reconciler.apply.lock.Locks.check`): awaited before every step of a group;
  when it raises LockLostError another apply owns the group now, so the group stops there
  (STOPPED, nothing rolled back: rolling back would write over the new holder's work).
- Cancellation (Ctrl-C, a killed CI job) is not a failure: nothing is rolled back, the journal
  holds what was done, and a new plan shows exactly the remaining work.
- Rollouts (`reconciler.apply.rollout`): `bake` steps are run by the group's `RolloutRun` and
  hold no slot (a bake waits, like a wait). In the rollout phase (the first step on the canary to
  the last bake) a failed step, a bake that does not pass, the canary going Failed or its smoke
  test failing all abort the release: the plan's abort path runs instead of the traffic restore,
  and the group ends `rolled_back`. A cancellation in that phase first takes the canary out of
  group traffic and sets its progress label to step 0 (`Executor.interrupted` says what is left).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from reconciler.apply.bake import BakeTick
from reconciler.apply.journal import Journal
from reconciler.apply.observe import Observer
from reconciler.apply.report import ApplyReport, Event, EventKind, GroupOutcome, GroupReport, Progress, no_progress
from reconciler.apply.rollback import Restorer, Snapshot, snapshot
from reconciler.apply.rollout import RolloutRun, rollout_phase, tick_text
from reconciler.apply.runtime import Link
from reconciler.apply.secrets import check_env
from reconciler.apply.steps import GroupRun, StepSettings
from reconciler.clock import Timer
from reconciler.defaults import DEFAULT_PARALLEL, DEFAULT_TIMEOUT
from reconciler.errors import ConfigError, EasGitopsError, LockLostError
from reconciler.live.model import LiveState
from reconciler.plan.model import Action, GroupPlan, Plan, Step

DEFAULT_POLL_INTERVAL = 5.0
Guard = Callable[[str, str], Awaitable[None]]  # (region, group): raises LockLostError to stop the group


@dataclass(frozen=True)
class ApplySettings:
    parallel: int = DEFAULT_PARALLEL
    fail_fast: bool = False
    timeout: float = DEFAULT_TIMEOUT  # seconds per step
    poll_interval: float = DEFAULT_POLL_INTERVAL  # seconds between listing rounds of a wait
    env: Mapping[str, str] | None = None  # None: os.environ


class Executor:
    def __init__(self, links: Mapping[str, Link], timer: Timer, *, settings: ApplySettings | None = None,
                 journal: Journal | None = None, progress: Progress = no_progress, guard: Guard | None = None) -> None:
        self.links, self.timer, self.guard = links, timer, guard
        self.settings = settings or ApplySettings()
        self.journal = journal or Journal(None)
        self.progress = progress
        self.observers = {r: Observer(link.client, timer, self.settings.poll_interval) for r, link in links.items()}
        self._stop = asyncio.Event()
        self._gate = asyncio.Semaphore(self.settings.parallel if self.settings.parallel > 0 else 1)
        self.interrupted: list[str] = []  # after a cancellation: per group in a rollout, what is left

    async def run(self, plan: Plan, live: LiveState) -> ApplyReport:
        """Apply every group with steps; `live` is the state the plan was checked against (the snapshot)."""
        check_env(plan, self.settings.env)
        absent = sorted({g.region for g in plan.groups if g.steps} - set(self.links))
        if absent:
            raise ConfigError(f"no connection for region(s) {', '.join(absent)}")
        if self.settings.parallel < 1:
            raise ConfigError(f"parallel must be at least 1, not {self.settings.parallel}")
        self._gate = asyncio.Semaphore(self.settings.parallel)
        groups = [g for g in plan.groups if g.steps]
        for region, observer in self.observers.items():  # what a whole-region listing would cost the poller
            observer.region_size = sum(1 for s in live.services if s.region == region) + sum(
                1 for g in groups if g.region == region for st in g.steps if st.action is Action.CREATE_SERVICE)
        reports = await asyncio.gather(*(self._group(g, live) for g in groups))
        return ApplyReport(list(reports), str(self.journal.path) if self.journal.path else None)

    async def _step(self, run: GroupRun, rollout: RolloutRun | None, step: Step) -> None:
        """Run one step; every step but a wait or a bake holds one of the `parallel` slots while it runs."""
        if step.action is Action.BAKE:
            if rollout is None:
                raise ConfigError(f"step {step.index} bakes, but group {run.plan.name}'s plan has no rollout")
            await rollout.bake(step)
            return
        if step.action is Action.WAIT_RUNNING:
            await run.run_step(step)
            return
        async with self._gate:
            await run.run_step(step)

    def _emit(self, kind: EventKind, group: GroupPlan, start: float, step: Step | None = None,
              outcome: GroupOutcome | None = None, message: str = "") -> None:
        self.progress(Event(kind, group.region, group.name, step=step, total_steps=len(group.steps),
                            elapsed=self.timer.now() - start, message=message, outcome=outcome))

    def _rollout(self, group: GroupPlan, run: GroupRun, start: float) -> RolloutRun | None:
        if group.rollout is None:
            return None

        def tick(t: BakeTick) -> None:
            step = next((s for s in group.steps if s.action is Action.BAKE and s.params.action is Action.BAKE
                         and s.params.step == t.step), None)
            self._emit(EventKind.BAKE_CHECK, group, start, step=step, message=tick_text(t))
        return RolloutRun(group, group.rollout, run, self.links[group.region], self.timer, self.journal, tick)

    async def _group(self, group: GroupPlan, live: LiveState) -> GroupReport:
        report = GroupReport(group.region, group.name)
        run = GroupRun(group, self.links[group.region], self.observers[group.region], self.journal, self.timer,
                       StepSettings(timeout=self.settings.timeout, env=self.settings.env))
        snap = snapshot(live, group.region, group.name)
        start = self.timer.now()
        if self._stop.is_set():
            return GroupReport(group.region, group.name, GroupOutcome.SKIPPED, left=list(group.steps))
        rollout, phase = self._rollout(group, run, start), rollout_phase(group)
        self._emit(EventKind.GROUP_START, group, start)
        at = 0
        try:
            for at, step in enumerate(group.steps):
                _raise_if_cancelled()
                if self._stop.is_set():
                    report.outcome, report.left = GroupOutcome.STOPPED, list(group.steps[at:])
                    break
                try:
                    if self.guard is not None:
                        await self.guard(group.region, group.name)
                except LockLostError as err:
                    report.outcome, report.left, report.error = GroupOutcome.STOPPED, list(group.steps[at:]), str(err)
                    break
                self._emit(EventKind.STEP_START, group, start, step=step)
                try:
                    await self._step(run, rollout, step)
                except EasGitopsError as err:
                    if rollout is not None and at in phase:
                        await self._abort(rollout, report, group, at, err)
                    else:
                        await self._fail(run, report, group, at, err, snap)
                    break
                report.done.append(step)
                self._emit(EventKind.STEP_DONE, group, start, step=step)
        except asyncio.CancelledError:
            if rollout is not None and at in phase:
                await rollout.interrupt()
                self.interrupted.append(f"{group.region}/{group.name}: {rollout.outcome.left}")
            raise
        finally:
            report.checks = list(rollout.outcome.checks) if rollout is not None else []
        report.elapsed = self.timer.now() - start
        self._emit(EventKind.GROUP_DONE, group, start, outcome=report.outcome, message=report.error)
        return report

    def _stopped(self, report: GroupReport, group: GroupPlan, index: int, err: EasGitopsError,
                 outcome: GroupOutcome, kind: EventKind) -> Step:
        """Record that `group` stopped at step `index` on `err` (report, journal, event); the failed step."""
        step = group.steps[index]
        report.outcome, report.failed_step, report.error = outcome, step, str(err)
        report.left = list(group.steps[index:])
        self.journal.write(region=group.region, group=group.name, step=step.index, action=step.action.value,
                           service=step.service, request_id=getattr(err, "request_id", ""),
                           outcome="aborted" if outcome is GroupOutcome.ROLLED_BACK else "failed", message=str(err))
        if self.settings.fail_fast:
            self._stop.set()
        self._emit(kind, group, self.timer.now(), step=step, message=str(err))
        return step

    async def _abort(self, rollout: RolloutRun, report: GroupReport, group: GroupPlan, index: int,
                     err: EasGitopsError) -> None:
        """A release that failed in its rollout phase: the plan's abort path (primaries untouched)."""
        self._stopped(report, group, index, err, GroupOutcome.ROLLED_BACK, EventKind.ABORT)
        try:
            async with self._gate:
                await rollout.abort()
        except EasGitopsError as abort_err:
            report.outcome = GroupOutcome.FAILED
            report.not_restored.append(f"the abort path stopped: {abort_err}")
        report.rollback = list(rollout.outcome.abort_done)

    async def _fail(self, run: GroupRun, report: GroupReport, group: GroupPlan, index: int, err: EasGitopsError,
                    snap: Snapshot) -> None:
        self._stopped(report, group, index, err, GroupOutcome.FAILED, EventKind.ROLLBACK)
        restorer = Restorer(run, snap)
        async with self._gate:
            await restorer.restore()
        report.rollback, report.not_restored = restorer.done, restorer.not_done


def _raise_if_cancelled() -> None:
    """Stop at a step boundary once cancelled, even if a library below swallowed the CancelledError
    (the in-process ASGI transport can): the request to cancel stays counted on the task."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError
