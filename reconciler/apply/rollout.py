"""The rollout runner: a release's bakes, its abort path and its interrupt path, for one group.

The plan holds the whole release as ordinary steps (drain, new version, wait, smoke test, the
canary's weights, `bake` steps, the promotion); the executor runs them in order and hands `bake`
steps here. What this module adds:

- **Bake** (`bake`): the progress label `eas-gitops/rollout` = `<release>;<step>;<started>` is
  written on the canary (read back) when the step's bake starts; the bake itself is
  `reconciler.apply.bake` over the provider the analysis names (`Link.metrics`), with the canary's
  status watched before every check. Every check goes to the report and the journal (`bake_check`
  lines). A bake that does not pass raises `RolloutAbortedError`.
- **Resume**: when the canary's label names this release and this step, the bake starts from the
  label's `<started>` (unix seconds), so the part already served counts; any other label (another
  release, another step, step 0) starts the step now.
- **Abort** (`abort`): the plan's `abort_steps`, read back one by one: the canary leaves group
  traffic first (its drain is guarded: never a black hole), then returns to its previous version
  (`on_failure: rollback`), then the label is set to step 0 so the next apply starts from step 1.
  The primaries are never touched.
- **Interrupt** (`interrupt`): only the canary's drain (one call, read back) and the label at
  step 0; the rest is left for the next apply, which starts the release from step 1.

The rollout *phase* is from the release's start (the first write of the progress label, or for a
resumed release the first step on the canary) to its last bake: a failure in it aborts the
release (instead of the executor's generic traffic restore), a cancellation in it takes the
canary out. After the last bake the promotion runs as ordinary steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.analysis.judge import CheckResult
from reconciler.apply.bake import BakeTick, bake
from reconciler.apply.journal import Journal
from reconciler.apply.report import CheckRecord
from reconciler.apply.runtime import Link
from reconciler.apply.steps import GroupRun
from reconciler.clock import Timer
from reconciler.desired.model import TrafficState
from reconciler.desired.rollout import PROGRESS_LABEL, ProgressLabel
from reconciler.errors import ConfigError, EasGitopsError, RolloutAbortedError
from reconciler.live.model import ServiceStatus
from reconciler.live.read import live_service
from reconciler.plan.model import Action, BakeParams, Expect, GroupPlan, LabelsParams, RolloutPlan, Step


@dataclass
class RolloutOutcome:
    checks: list[CheckRecord] = field(default_factory=list)
    abort_done: list[str] = field(default_factory=list)  # the abort path's steps, as done
    left: str = ""  # after an interrupt: what is left, for people


def rollout_phase(plan: GroupPlan) -> range:
    """Indices of the steps from the release's start to its last bake (empty without a rollout).

    The release starts where the plan first writes the canary's progress label (before the canary
    changes); a resumed release, whose canary already runs the new version, at its first step on
    the canary. Steps before (the switch to weights in auto mode) are ordinary steps."""
    rollout = plan.rollout
    if rollout is None:
        return range(0)
    bakes = [i for i, s in enumerate(plan.steps) if s.action is Action.BAKE]
    on_canary = [i for i, s in enumerate(plan.steps) if s.service == rollout.canary]
    labelled = [i for i in on_canary if plan.steps[i].action is Action.UPDATE_LABELS
                and PROGRESS_LABEL in getattr(plan.steps[i].params, "labels", {})]
    if not bakes or not on_canary:
        return range(0)
    return range((labelled or on_canary)[0], max(bakes) + 1)


def tick_text(t: BakeTick) -> str:
    """A progress line while baking: step k/n, share, elapsed/bake, the last verdict."""
    return (f"bake {t.step}/{t.of} at {t.share:g} %: {t.elapsed:.0f}s/{t.bake_seconds:.0f}s, check {t.checks} "
            f"{t.check.verdict.value} ({t.check.reason})")


def _describe_step(step: Step) -> str:
    return f"{step.action.value} {step.service or '(group)'}"


class RolloutRun:
    """The rollout of one group: bakes, abort and interrupt, on top of the group's `GroupRun`."""

    def __init__(self, plan: GroupPlan, rollout: RolloutPlan, run: GroupRun, link: Link, timer: Timer,
                 journal: Journal, on_tick: Callable[[BakeTick], None]) -> None:
        self.plan, self.rollout, self.run, self.link = plan, rollout, run, link
        self.timer, self.journal, self.on_tick = timer, journal, on_tick
        self.outcome = RolloutOutcome()
        self.reached = 0  # the last rollout step whose bake began

    # ---- bake ---------------------------------------------------------------------------------------------

    async def _start(self, p: BakeParams) -> float:
        """When step `p.step`'s bake began: the label's time when resuming it, else now (label written)."""
        svc = await self.run.describe(p.canary)
        label = ProgressLabel.parse(svc.labels.get(PROGRESS_LABEL) if svc is not None else None)
        now = math.floor(self.timer.epoch())
        if label is not None and label.release == self.rollout.release and label.step == p.step \
                and label.started <= now:
            return float(label.started)
        value = ProgressLabel(self.rollout.release, p.step, now).format()
        ack = await self.run.client.update_service_label(p.canary, {PROGRESS_LABEL: value})
        after = await self.run.read_back(p.canary, Expect(labels={PROGRESS_LABEL: value}))
        self.journal.write(region=self.plan.region, group=self.plan.name, step=None, action="rollout_label",
                           service=p.canary, request_id=ack.request_id, params={"labels": {PROGRESS_LABEL: value}},
                           outcome="ok", after={"labels": after.labels if after else {}})
        return float(now)

    async def _watch(self) -> str | None:
        """The canary's own failure (Failed, gone), checked before every check of a bake."""
        svc = await self.run.describe(self.rollout.canary)
        if svc is None:
            return f"the canary {self.rollout.canary} disappeared"
        if live_service(svc, svc.region).status is ServiceStatus.FAILED:
            return f"the canary {self.rollout.canary} is {svc.status}" + (f" ({svc.reason})" if svc.reason else "")
        return None

    def _record(self, step: Step, p: BakeParams, result: CheckResult) -> None:
        self.outcome.checks.append(CheckRecord(p.step, p.of, p.share, result))
        self.journal.write(region=self.plan.region, group=self.plan.name, step=step.index, action="bake_check",
                           service=p.canary, outcome=result.verdict.value, message=result.reason,
                           params={"rollout_step": p.step, "of": p.of, "share": p.share},
                           check=result.model_dump(mode="json"))

    async def bake(self, step: Step) -> None:
        """Bake one rollout step; RolloutAbortedError when it does not pass."""
        p = step.params
        assert p.action is Action.BAKE
        if self.link.metrics is None:
            raise ConfigError(f"region {self.plan.region}: this target cannot read metrics for a rollout")
        started = await self._start(p)
        self.reached = p.step
        seen = len(self.outcome.checks)

        def tick(t: BakeTick) -> None:
            self._record(step, p, t.check)
            self.on_tick(t)

        async with self.link.metrics(p.analysis) as provider:
            result = await bake(p, self.plan.name, provider, self.timer, started, watch=self._watch, on_tick=tick)
        if not result.passed:
            count = len(self.outcome.checks) - seen
            raise RolloutAbortedError(f"step {p.step}/{p.of} ({p.share:g} %) of {p.canary} did not pass after "
                                      f"{count} check(s): {result.verdict.reason}")

    # ---- abort / interrupt --------------------------------------------------------------------------------

    async def abort(self) -> None:
        """The plan's abort path, every step read back; EasGitopsError when a step of it fails (the rest is
        not attempted: a canary that could not leave group traffic is not given another version)."""
        for step in self.rollout.abort_steps:
            await self.run.run_step(step)
            self.outcome.abort_done.append(_describe_step(step))

    def _drain_step(self) -> Step | None:
        return next((s for s in self.rollout.abort_steps if s.service == self.rollout.canary and (
            s.action is Action.DRAIN or (s.action is Action.SET_TRAFFIC_STATE
                                         and s.expect.traffic_state is TrafficState.STANDALONE))), None)

    async def interrupt(self) -> None:
        """Canary out of group traffic (one call, read back), progress label at step 0 (the spec hash stays:
        the canary keeps the version it runs); never raises
        (the interrupt goes on), what could not be done is in `outcome.left`."""
        done: list[str] = []
        try:
            drain = self._drain_step()
            if drain is not None:
                await self.run.run_step(drain)
                done.append(f"{self.rollout.canary} taken out of group traffic")
            for step in self.rollout.abort_steps:
                if step.action is Action.UPDATE_LABELS and step.service == self.rollout.canary:
                    await self.run.run_step(_progress_only(step))
            done.append("progress label at step 0")
        except EasGitopsError as err:
            done.append(f"could not finish: {err}")
        of = len(self.rollout.steps)
        self.outcome.left = (f"release of {self.rollout.canary} interrupted at step {self.reached}/{of}; "
                             f"{'; '.join(done)}; the next apply starts it from step 1")


def _progress_only(step: Step) -> Step:
    """The abort's label step reduced to the progress label: an interrupt leaves the canary on the version
    it runs, so its spec hash (the abort's rollback writes the previous one) must stay as it is."""
    assert step.params.action is Action.UPDATE_LABELS
    labels = {k: v for k, v in step.params.labels.items() if k == PROGRESS_LABEL}
    return step.model_copy(update={"params": LabelsParams(labels=labels),
                                   "expect": step.expect.model_copy(update={"labels": labels})})
