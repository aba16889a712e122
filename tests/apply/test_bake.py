"""The bake loop on a virtual clock with a scripted provider: windows, early abort, resume, unreadable checks."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from reconciler.analysis.gates import AnalysisSpec
from reconciler.analysis.judge import AbortCause, CheckSamples, MemberSample, StepOutcome, Verdict, judge_check
from reconciler.analysis.provider import Fetched, Window
from reconciler.apply.bake import BakeResult, BakeTick, bake, windows
from reconciler.apply.report import CheckRecord, check_lines
from reconciler.apply.runtime import VirtualTimer
from reconciler.errors import TransportError

T0 = 1_700_000_000.0
GOOD = MemberSample(100, 0.0, 0.01)
BAD = MemberSample(100, 50.0, 0.01)
IDLE = MemberSample(3, 0.0, 0.01)
ANALYSIS = AnalysisSpec.model_validate(
    {"interval": "10s", "min_requests": 20, "failure_limit": 2,
     "metrics": [{"name": "error_rate", "max": 1}, {"name": "error_rate", "max_over_baseline": 0.5}]})


@dataclass(frozen=True)
class Inputs:
    step: int = 1
    of: int = 2
    share: float = 10.0
    bake_seconds: float = 60.0
    canary: str = "grey"
    baseline: list[str] = field(default_factory=lambda: ["main"])
    analysis: AnalysisSpec = ANALYSIS


class Scripted:
    """Answers the canary's sample from `canary(k)`, k = the index of the window asked (10 s windows)."""

    def __init__(self, canary: Callable[[int], MemberSample | Exception], timer: VirtualTimer,
                 lag: float = 0.0) -> None:
        self.canary, self.timer, self.lag = canary, timer, lag
        self.asked: list[tuple[Window, float]] = []

    async def fetch(self, group: str, services: Sequence[str], window: Window) -> Fetched:
        self.asked.append((window, self.timer.epoch()))
        sample = self.canary(int((window.start - T0) // 10))
        if isinstance(sample, Exception):
            raise sample
        return Fetched(window, {"grey": sample, "main": GOOD})

    async def aclose(self) -> None:
        return None


Outcome = tuple[BakeResult, "Scripted", list[BakeTick]]


def run_bake(canary: Callable[[int], MemberSample | Exception], *, started: float = T0, now: float = T0,
             inputs: Inputs | None = None, problem_at: int | None = None, lag: float = 0.0) -> Outcome:
    timer = VirtualTimer(now)
    provider = Scripted(canary, timer, lag)
    ticks: list[BakeTick] = []
    calls = 0

    async def watch() -> str | None:
        nonlocal calls
        calls += 1
        return "grey is Failed" if problem_at is not None and calls > problem_at else None

    async def go() -> BakeResult:
        return await bake(inputs or Inputs(), "g", provider, timer, started, watch=watch, on_tick=ticks.append)

    return asyncio.run(go()), provider, ticks


def test_windows_are_a_grid_cut_at_the_bake_end() -> None:
    assert windows(100.0, 25.0, 10.0) == [Window(100, 110), Window(110, 120), Window(120, 125)]
    assert windows(100.0, 20.0, 10.0) == [Window(100, 110), Window(110, 120)]
    assert windows(100.0, 5.0, 10.0) == [Window(100, 105)]
    assert windows(100.0, 0.0, 10.0) == []


def test_a_healthy_canary_passes_after_the_whole_bake() -> None:
    result, provider, ticks = run_bake(lambda k: GOOD)
    assert result.passed
    assert [w for w, _ in provider.asked] == windows(T0, 60, 10)
    assert all(asked_at >= w.end for w, asked_at in provider.asked)  # a window is read once it has ended
    assert provider.asked[-1][1] == T0 + 60  # no early success: the last check is at the bake's end
    assert [t.elapsed for t in ticks] == [10, 20, 30, 40, 50, 60]
    assert ticks[-1].check.verdict is Verdict.PASS


def test_a_late_publishing_source_is_read_after_its_lag_over_exactly_the_bake() -> None:
    # CloudMonitor in the cloud: a window is complete `lag` seconds after it ends. The bake waits for
    # it and reads the window itself, never an earlier one: every second of the bake is judged once,
    # nothing from before the step, and the last check comes after the bake's end + lag.
    result, provider, ticks = run_bake(lambda k: GOOD, inputs=Inputs(bake_seconds=55.0), lag=120.0)
    asked = [w for w, _ in provider.asked]
    assert result.passed
    assert asked[0].start == T0 and asked[-1].end == T0 + 55
    assert all(a.end == b.start for a, b in itertools.pairwise(asked))  # the windows tile the bake
    assert all(at >= w.end + 120 for w, at in provider.asked)
    assert provider.asked[-1][1] == T0 + 55 + 120
    assert [t.elapsed for t in ticks] == [10, 20, 30, 40, 50, 55]


def test_failure_limit_consecutive_failures_abort_early() -> None:
    result, provider, _ = run_bake(lambda k: BAD if k >= 1 else GOOD)
    assert result.verdict.outcome is StepOutcome.ABORTED
    assert result.verdict.cause is AbortCause.FAILURE_LIMIT
    assert len(provider.asked) == 3 and provider.asked[-1][1] == T0 + 30


def test_single_failures_between_passes_do_not_abort() -> None:
    result, _, _ = run_bake(lambda k: BAD if k % 2 else GOOD)
    assert result.passed


def test_a_bake_without_enough_requests_aborts_inconclusive() -> None:
    result, provider, _ = run_bake(lambda k: IDLE)
    assert result.verdict.cause is AbortCause.NO_CONCLUSIVE_CHECK
    assert len(provider.asked) == 6


def test_an_unreadable_source_is_inconclusive_never_a_pass() -> None:
    result, _, _ = run_bake(lambda k: TransportError("metrics down"))
    assert result.verdict.cause is AbortCause.NO_CONCLUSIVE_CHECK
    assert all(c.verdict is Verdict.INCONCLUSIVE and "metrics down" in c.reason
               for c in result.checks)
    result, _, _ = run_bake(lambda k: TransportError("blip") if k == 2 else GOOD)
    assert result.passed


def test_a_resumed_bake_checks_the_served_windows_at_once_then_goes_on_live() -> None:
    result, provider, _ = run_bake(lambda k: GOOD, started=T0, now=T0 + 35)
    assert result.passed
    assert [w for w, _ in provider.asked] == windows(T0, 60, 10)  # nothing restarted, nothing skipped
    assert [at for _, at in provider.asked[:3]] == [T0 + 35] * 3  # the served part, read back right away
    assert provider.asked[-1][1] == T0 + 60


def test_a_resumed_bake_past_its_end_finishes_without_waiting() -> None:
    result, provider, _ = run_bake(lambda k: GOOD, started=T0, now=T0 + 600)
    assert result.passed and len(provider.asked) == 6
    assert {at for _, at in provider.asked} == {T0 + 600}


def test_served_failures_count_when_resumed() -> None:
    result, provider, _ = run_bake(lambda k: BAD, started=T0, now=T0 + 45)
    assert result.verdict.cause is AbortCause.FAILURE_LIMIT
    assert len(provider.asked) == 2


def test_the_canary_failing_aborts_at_once() -> None:
    result, provider, _ = run_bake(lambda k: GOOD, problem_at=2)
    assert result.verdict.outcome is StepOutcome.ABORTED
    assert result.problem == "grey is Failed" and len(provider.asked) == 2


def test_a_bake_of_nothing_never_passes() -> None:
    result, _, _ = run_bake(lambda k: GOOD, inputs=Inputs(bake_seconds=0.0))
    assert result.verdict.outcome is StepOutcome.ABORTED


def test_report_lines_show_time_metric_values_limit_and_verdict() -> None:
    spec = AnalysisSpec.model_validate({"interval": "10s", "min_requests": 20, "metrics": [
        {"name": "error_rate", "max_over_baseline": 0.5}, {"name": "latency_avg", "max": "300ms"}]})
    samples = CheckSamples(MemberSample(100, 4.0, float("nan")), MemberSample(900, 1.0, 0.1), T0, T0 + 10)
    lines = check_lines(CheckRecord(1, 2, 10.0, judge_check(samples, spec)))
    assert lines[0] == "2023-11-14T22:13:30Z step 1/2 (10 %): fail, canary 100 requests, baseline 900"
    assert lines[1] == "    error_rate: canary 4.00%, baseline 1.00%, limit max_over_baseline 0.5 pp -> fail"
    assert lines[2] == "    latency_avg: canary NaN, baseline -, limit max 300ms -> fail"
