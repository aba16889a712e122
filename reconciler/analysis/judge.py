"""The judge: samples of one check and the gates -> pass | fail | inconclusive, with the values that decided.

Pure functions over plain values: no clock, no I/O. Providers fetch numbers, the runner keeps
time, and everything that decides is here, so the rules can be tested exhaustively.

One check (`judge_check`), first rule that applies wins:
1. The canary's request count is NaN: **fail** (broken data is never read as health).
2. The canary answered fewer than `min_requests` requests (no data counts as 0): **inconclusive**.
3. Each gate gives a measurement:
   - `max`: the canary's value; no value -> inconclusive; NaN -> fail; above the limit -> fail.
   - `max_over_baseline`: canary minus baseline; the baseline also needs `min_requests` requests
     (a comparison with a nearly idle baseline says nothing) and a value, else inconclusive;
     NaN on either side (values or the baseline's request count) -> fail.
4. Any measurement failed: **fail** (a breach is evidence even when another metric is missing);
   else any inconclusive: **inconclusive**; else **pass**.

One step (`judge_step`), over the verdicts of its checks in time order:
- a run of `failure_limit` consecutive failed checks aborts at once, bake elapsed or not;
  inconclusive checks neither count in a run nor break it (only a pass ends a run);
- while the bake has not elapsed the step keeps baking (no early success);
- once it has: no conclusive check at all aborts (`no_conclusive_check`), conclusive checks but
  none passing aborts (`no_passing_check`), else the step passes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, field_serializer

from reconciler.analysis.gates import AnalysisSpec, GateKind, MetricGate, MetricName


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    INCONCLUSIVE = "inconclusive"


class StepOutcome(StrEnum):
    BAKING = "baking"  # keep checking
    PASSED = "passed"
    ABORTED = "aborted"


class AbortCause(StrEnum):
    FAILURE_LIMIT = "failure_limit"  # failure_limit consecutive failed checks
    NO_CONCLUSIVE_CHECK = "no_conclusive_check"  # the bake ended without one conclusive check
    NO_PASSING_CHECK = "no_passing_check"  # the bake ended with conclusive checks, none passing


@dataclass(frozen=True)
class MemberSample:
    """What a provider measured for one member in one window. None: no data for that number."""

    requests: float | None = None  # requests answered in the window
    error_rate: float | None = None  # percent of them with a 5xx status
    latency_avg: float | None = None  # mean response time, seconds

    def value(self, metric: MetricName) -> float | None:
        return self.error_rate if metric is MetricName.ERROR_RATE else self.latency_avg


@dataclass(frozen=True)
class CheckSamples:
    """The samples of one check: the canary and the baseline over the same window (epoch seconds)."""

    canary: MemberSample
    baseline: MemberSample
    start: float = 0.0
    end: float = 0.0


def _json_number(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those are written as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Measurement(_Report):
    """One gate applied in one check: the numbers, the limit and what they gave."""

    metric: MetricName
    gate: GateKind
    limit: float  # percent / percentage points for error_rate, seconds for latency_avg
    canary: float | None
    baseline: float | None
    value: float | None  # what was compared with the limit: canary, or canary - baseline
    verdict: Verdict
    reason: str  # display only

    @field_serializer("limit", "canary", "baseline", "value")
    def _numbers(self, value: float | None) -> float | str | None:
        return _json_number(value)


class CheckResult(_Report):
    """The verdict of one check, with every number that went into it."""

    verdict: Verdict
    start: float
    end: float
    requests: float | None  # the canary's
    baseline_requests: float | None
    measurements: tuple[Measurement, ...]
    reason: str  # display only

    @field_serializer("requests", "baseline_requests")
    def _numbers(self, value: float | None) -> float | str | None:
        return _json_number(value)


def _nan(value: float | None) -> bool:
    return value is not None and math.isnan(value)


def _measure(gate: MetricGate, samples: CheckSamples, min_requests: int) -> Measurement:
    canary, baseline = samples.canary.value(gate.metric), samples.baseline.value(gate.metric)
    relative = gate.kind is GateKind.MAX_OVER_BASELINE
    fields: dict[str, Any] = {"metric": gate.metric, "gate": gate.kind, "limit": gate.limit, "canary": canary,
                              "baseline": baseline if relative else None}

    def verdict(v: Verdict, value: float | None, reason: str) -> Measurement:
        return Measurement(**fields, value=value, verdict=v, reason=reason)

    if _nan(canary) or (relative and (_nan(baseline) or _nan(samples.baseline.requests))):
        return verdict(Verdict.FAIL, math.nan, "the measured value is NaN")
    if canary is None:
        return verdict(Verdict.INCONCLUSIVE, None, "no data for the canary")
    value = canary
    if relative:
        if baseline is None or (samples.baseline.requests or 0.0) < min_requests:
            return verdict(Verdict.INCONCLUSIVE, None,
                           f"the baseline has too few requests or no data (needs {min_requests})")
        value = canary - baseline
    if value > gate.limit:
        return verdict(Verdict.FAIL, value, f"{gate.format_value(value, relative)} "
                                            f"is over the limit ({gate.describe()})")
    return verdict(Verdict.PASS, value, gate.describe())


def judge_check(samples: CheckSamples, analysis: AnalysisSpec) -> CheckResult:
    """The verdict of one check (rules in the module docstring)."""
    requests = samples.canary.requests
    base = {"start": samples.start, "end": samples.end, "requests": requests,
            "baseline_requests": samples.baseline.requests}
    if _nan(requests):
        return CheckResult(**base, verdict=Verdict.FAIL, measurements=(), reason="the canary's request count is NaN")
    measurements = tuple(_measure(gate, samples, analysis.min_requests) for gate in analysis.metrics)
    if (requests or 0.0) < analysis.min_requests:
        return CheckResult(**base, verdict=Verdict.INCONCLUSIVE, measurements=measurements,
                           reason=f"the canary answered {requests or 0:g} requests, fewer than min_requests "
                                  f"{analysis.min_requests}")
    verdicts = {m.verdict for m in measurements}
    if Verdict.FAIL in verdicts:
        failed = [m for m in measurements if m.verdict is Verdict.FAIL]
        return CheckResult(**base, verdict=Verdict.FAIL, measurements=measurements,
                           reason="; ".join(f"{m.metric}: {m.reason}" for m in failed))
    if Verdict.INCONCLUSIVE in verdicts:
        return CheckResult(**base, verdict=Verdict.INCONCLUSIVE, measurements=measurements,
                           reason="; ".join(f"{m.metric}: {m.reason}" for m in measurements
                                            if m.verdict is Verdict.INCONCLUSIVE))
    return CheckResult(**base, verdict=Verdict.PASS, measurements=measurements, reason="every gate passed")


@dataclass(frozen=True)
class StepVerdict:
    outcome: StepOutcome
    cause: AbortCause | None
    passed: int
    failed: int
    inconclusive: int
    longest_failure_run: int
    reason: str  # display only


def longest_failure_run(verdicts: Sequence[Verdict]) -> int:
    """The most failed checks in a row, inconclusive checks skipped (only a pass ends a run)."""
    longest = run = 0
    for verdict in verdicts:
        if verdict is Verdict.FAIL:
            run += 1
            longest = max(longest, run)
        elif verdict is Verdict.PASS:
            run = 0
    return longest


def judge_step(verdicts: Sequence[Verdict], bake_elapsed: bool, failure_limit: int) -> StepVerdict:
    """Whether a step goes on baking, passed or must abort, from its checks' verdicts in time order."""
    counts = {v: sum(1 for x in verdicts if x is v) for v in Verdict}
    run = longest_failure_run(verdicts)

    def outcome(o: StepOutcome, cause: AbortCause | None, reason: str) -> StepVerdict:
        return StepVerdict(o, cause, counts[Verdict.PASS], counts[Verdict.FAIL], counts[Verdict.INCONCLUSIVE], run,
                           reason)

    if run >= failure_limit:
        return outcome(StepOutcome.ABORTED, AbortCause.FAILURE_LIMIT,
                       f"{run} consecutive failed checks (failure_limit {failure_limit})")
    if not bake_elapsed:
        return outcome(StepOutcome.BAKING, None, "the bake has not elapsed")
    if counts[Verdict.PASS] + counts[Verdict.FAIL] == 0:
        return outcome(StepOutcome.ABORTED, AbortCause.NO_CONCLUSIVE_CHECK,
                       f"no conclusive check in the bake ({counts[Verdict.INCONCLUSIVE]} inconclusive)")
    if counts[Verdict.PASS] == 0:
        return outcome(StepOutcome.ABORTED, AbortCause.NO_PASSING_CHECK, "no check in the bake passed")
    return outcome(StepOutcome.PASSED, None, f"{counts[Verdict.PASS]} passing checks, no run of {failure_limit} "
                                             "failures")
