"""Baking one rollout step: a check every interval on the target's clock, judged, until the step passes or aborts.

A step k that bakes B seconds with interval I, started at S (unix seconds on the target's clock,
`Timer.epoch`), is checked over a fixed grid of windows `[S + jI, S + (j+1)I)`, the last one cut at
S + B. Check j runs once its window has ended and the source has published it (`provider.lag`
seconds later: 120 s on CloudMonitor in the cloud, 0 on the emulator): the provider reads the canary
and the baseline over exactly that window, so no check judges traffic from before the step and the
step's last check, made at S + B + lag, judges the bake's end too. `judge_check` gives its verdict,
and `judge_step` over every verdict so far says whether the step goes on baking, passed or aborts (a
run of `failure_limit` failures aborts at once, before the bake ends; there is no early success).

- Resumed bakes: when S lies in the past (the progress label of an interrupted run says when the
  step began), the windows that have already ended are checked at once, in order: their evidence
  is in the metrics store, so the part of the bake already served counts, judged exactly as it
  would have been live.
- A check whose fetch fails (the metrics source unreachable, or answering an error) is
  inconclusive with the error as its reason: no evidence is never a pass, and a source that stays
  down ends the bake with no conclusive check, which aborts.
- `watch` is asked before every check; a problem it returns (the canary went Failed) aborts the
  bake at once, with that reason.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.analysis.gates import AnalysisSpec
from reconciler.analysis.judge import (
    CheckResult,
    StepOutcome,
    StepVerdict,
    Verdict,
    judge_check,
    judge_step,
)
from reconciler.analysis.provider import MetricsProvider, Window, check_samples
from reconciler.clock import Timer
from reconciler.errors import ApiError, ConfigError, TransportError


class BakeInputs(Protocol):
    """What a bake needs of its plan step (the plan's `BakeParams` has these fields)."""

    @property
    def step(self) -> int: ...

    @property
    def of(self) -> int: ...

    @property
    def share(self) -> float: ...

    @property
    def bake_seconds(self) -> float: ...

    @property
    def canary(self) -> str: ...

    @property
    def baseline(self) -> list[str]: ...

    @property
    def analysis(self) -> AnalysisSpec: ...


@dataclass(frozen=True)
class BakeTick:
    """What a running bake reports after each check (for progress lines)."""

    step: int
    of: int
    share: float
    elapsed: float  # seconds of the bake served, at most bake_seconds
    bake_seconds: float
    check: CheckResult
    checks: int


@dataclass
class BakeResult:
    verdict: StepVerdict
    checks: list[CheckResult] = field(default_factory=list)
    problem: str = ""  # the canary's own failure (watch), when that is what ended the bake

    @property
    def passed(self) -> bool:
        return self.verdict.outcome is StepOutcome.PASSED


Watch = Callable[[], Awaitable[str | None]]
OnTick = Callable[[BakeTick], None]


async def _no_problem() -> str | None:
    return None


def _no_tick(tick: BakeTick) -> None:
    return None


def windows(start: float, bake_seconds: float, interval: float) -> list[Window]:
    """The bake's check windows: consecutive `interval`s from `start`, the last cut at the bake's end."""
    end = start + bake_seconds
    count = max(1, math.ceil(bake_seconds / interval - 1e-9)) if bake_seconds > 0 else 0
    return [Window(start + j * interval, min(start + (j + 1) * interval, end)) for j in range(count)]


def unreadable(window: Window, exc: Exception) -> CheckResult:
    """The check of a window whose numbers could not be read: inconclusive, the error as the reason."""
    return CheckResult(verdict=Verdict.INCONCLUSIVE, start=window.start, end=window.end, requests=None,
                       baseline_requests=None, measurements=(), reason=f"metrics unavailable: {exc}")


async def check(provider: MetricsProvider, group: str, inputs: BakeInputs, window: Window) -> CheckResult:
    """One check of the canary against the baseline over `window`."""
    try:
        fetched = await provider.fetch(group, [inputs.canary, *inputs.baseline], window)
    except (TransportError, ApiError) as exc:
        return unreadable(window, exc)
    return judge_check(check_samples(fetched, inputs.canary, inputs.baseline), inputs.analysis)


def _aborted(reason: str, verdicts: Sequence[Verdict]) -> StepVerdict:
    failed = sum(1 for v in verdicts if v is Verdict.FAIL)
    passed = sum(1 for v in verdicts if v is Verdict.PASS)
    return StepVerdict(StepOutcome.ABORTED, None, passed, failed, len(verdicts) - passed - failed, 0, reason)


async def bake(inputs: BakeInputs, group: str, provider: MetricsProvider, timer: Timer, started: float, *,
               watch: Watch = _no_problem, on_tick: OnTick = _no_tick) -> BakeResult:
    """Bake step `inputs.step` from `started` (epoch seconds; in the past when resumed) until passed or aborted."""
    if inputs.analysis.interval <= 0:
        raise ConfigError("a rollout's analysis interval must be positive")
    result = BakeResult(judge_step([], False, inputs.analysis.failure_limit))
    for window in windows(started, inputs.bake_seconds, inputs.analysis.interval):
        wait = window.end + provider.lag - timer.epoch()  # the window's numbers are published
        if wait > 0:
            await timer.sleep(wait)
        problem = await watch()
        if problem:
            result.problem = problem
            result.verdict = _aborted(problem, [c.verdict for c in result.checks])
            return result
        result.checks.append(await check(provider, group, inputs, window))
        served = window.end - started
        result.verdict = judge_step([c.verdict for c in result.checks], served >= inputs.bake_seconds - 1e-9,
                                    inputs.analysis.failure_limit)
        on_tick(BakeTick(inputs.step, inputs.of, inputs.share, served, inputs.bake_seconds, result.checks[-1],
                         len(result.checks)))
        if result.verdict.outcome is not StepOutcome.BAKING:
            return result
    if not result.checks:  # a bake of 0 s: judged on nothing, which never passes
        result.verdict = judge_step([], True, inputs.analysis.failure_limit)
    return result
