"""The executor: carries out a Plan against EAS, groups in parallel, the steps of one group in order.

- Before any write: every `${env:NAME}` the plan references must be set (else ConfigError, zero
  writes), and every region the plan names must have a link.
- Groups run concurrently; a group's steps run one after the other, each verified by read-back
  (`reconciler.apply.steps`). `parallel` (default 8) bounds how many groups carry out a step at
  the same time, but a group that waits for its members to be Running (WAIT_RUNNING) holds no slot:
  the bound protects the API from bursts of writes, and waiting costs the API one shared listing
  per round whatever the number of waiters. So 50 groups with `parallel` 8 take about as long as
  the slowest group's own critical path, not 7 waves of it.
- Waits of all groups of a region share one poller (`reconciler.apply.observe`): one listing per
  round for every waiting service.
- A failed step stops its group; the group's traffic is restored to the snapshot taken before its
  first step where that is safe (`reconciler.apply.rollback`); other groups go on, unless
  `fail_fast`, in which case they stop at their next step boundary (every boundary is a safe
  state: the planner checked the shares after each step) and groups not started are skipped.
- `guard` (optional, `reconciler.apply.lock.Locks.check`): awaited before every step of a group;
  when it raises LockLostError another apply owns the group now, so the group stops there
  (STOPPED, nothing rolled back: rolling back would write over the new holder's work).
- Cancellation (Ctrl-C, a killed CI job) is not a failure: nothing is rolled back, the journal
  holds what was done, and a new plan shows exactly the remaining work.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from reconciler.apply.journal import Journal
from reconciler.apply.observe import Observer
from reconciler.apply.report import ApplyReport, Event, EventKind, GroupOutcome, GroupReport, Progress, no_progress
from reconciler.apply.rollback import Restorer, Snapshot, snapshot
from reconciler.apply.runtime import Link, Timer
from reconciler.apply.secrets import check_env
from reconciler.apply.steps import GroupRun, StepSettings
from reconciler.errors import ConfigError, EasGitopsError, LockLostError
from reconciler.live.model import LiveState
from reconciler.plan.model import Action, GroupPlan, Plan, Step

DEFAULT_PARALLEL = 8
DEFAULT_TIMEOUT = 900.0
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
        reports = await asyncio.gather(*(self._group(g, live) for g in groups))
        return ApplyReport(list(reports), str(self.journal.path) if self.journal.path else None)

    async def _step(self, run: GroupRun, step: Step) -> None:
        """Run one step; every step but a wait holds one of the `parallel` slots while it runs."""
        if step.action is Action.WAIT_RUNNING:
            await run.run_step(step)
            return
        async with self._gate:
            await run.run_step(step)

    def _emit(self, kind: EventKind, group: GroupPlan, start: float, step: Step | None = None,
              outcome: GroupOutcome | None = None, message: str = "") -> None:
        self.progress(Event(kind, group.region, group.name, step=step, total_steps=len(group.steps),
                            elapsed=self.timer.now() - start, message=message, outcome=outcome))

    async def _group(self, group: GroupPlan, live: LiveState) -> GroupReport:
        report = GroupReport(group.region, group.name)
        run = GroupRun(group, self.links[group.region], self.observers[group.region], self.journal, self.timer,
                       StepSettings(timeout=self.settings.timeout, env=self.settings.env))
        snap = snapshot(live, group.region, group.name)
        start = self.timer.now()
        if self._stop.is_set():
            return GroupReport(group.region, group.name, GroupOutcome.SKIPPED, left=list(group.steps))
        self._emit(EventKind.GROUP_START, group, start)
        for i, step in enumerate(group.steps):
            _raise_if_cancelled()
            if self._stop.is_set():
                report.outcome, report.left = GroupOutcome.STOPPED, list(group.steps[i:])
                break
            try:
                if self.guard is not None:
                    await self.guard(group.region, group.name)
            except LockLostError as err:
                report.outcome, report.left, report.error = GroupOutcome.STOPPED, list(group.steps[i:]), str(err)
                break
            self._emit(EventKind.STEP_START, group, start, step=step)
            try:
                await self._step(run, step)
            except EasGitopsError as err:
                await self._fail(run, report, group, i, err, snap)
                break
            report.done.append(step)
            self._emit(EventKind.STEP_DONE, group, start, step=step)
        report.elapsed = self.timer.now() - start
        self._emit(EventKind.GROUP_DONE, group, start, outcome=report.outcome, message=report.error)
        return report

    async def _fail(self, run: GroupRun, report: GroupReport, group: GroupPlan, index: int, err: EasGitopsError,
                    snap: Snapshot) -> None:
        step = group.steps[index]
        report.outcome, report.failed_step, report.error = GroupOutcome.FAILED, step, str(err)
        report.left = list(group.steps[index:])
        self.journal.write(region=group.region, group=group.name, step=step.index, action=step.action.value,
                           service=step.service, request_id=getattr(err, "request_id", ""), outcome="failed",
                           message=str(err))
        if self.settings.fail_fast:
            self._stop.set()
        self._emit(EventKind.ROLLBACK, group, self.timer.now(), step=step, message=str(err))
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
