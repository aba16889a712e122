"""The pure judge: one check's rules, one step's rules, and properties over random checks."""

from __future__ import annotations

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.analysis.gates import AnalysisSpec, GateKind, MetricName
from reconciler.analysis.judge import (
    AbortCause,
    CheckSamples,
    MemberSample,
    StepOutcome,
    Verdict,
    judge_check,
    judge_step,
    longest_failure_run,
)

NAN = math.nan
SPEC = AnalysisSpec.model_validate({
    "interval": "1m", "min_requests": 200, "failure_limit": 2,
    "metrics": [{"name": "error_rate", "max": 1}, {"name": "error_rate", "max_over_baseline": 0.5},
                {"name": "latency_avg", "max": "300ms"}],
})
HEALTHY_BASE = MemberSample(requests=5000, error_rate=0.2, latency_avg=0.1)


def check(canary: MemberSample, baseline: MemberSample = HEALTHY_BASE, spec: AnalysisSpec = SPEC) -> Verdict:
    return judge_check(CheckSamples(canary, baseline, 0, 60), spec).verdict


def test_healthy_canary_passes_with_every_value_reported() -> None:
    result = judge_check(CheckSamples(MemberSample(400, 0.5, 0.12), HEALTHY_BASE, 100.0, 160.0), SPEC)
    assert result.verdict is Verdict.PASS
    assert (result.start, result.end, result.requests, result.baseline_requests) == (100.0, 160.0, 400, 5000)
    assert [(m.metric, m.gate, m.canary, m.baseline, m.value, m.verdict) for m in result.measurements] == [
        (MetricName.ERROR_RATE, GateKind.MAX, 0.5, None, 0.5, Verdict.PASS),
        (MetricName.ERROR_RATE, GateKind.MAX_OVER_BASELINE, 0.5, 0.2, pytest.approx(0.3), Verdict.PASS),
        (MetricName.LATENCY_AVG, GateKind.MAX, 0.12, None, 0.12, Verdict.PASS),
    ]


@pytest.mark.parametrize(("canary", "baseline", "verdict"), [
    (MemberSample(199, 0.0, 0.1), HEALTHY_BASE, Verdict.INCONCLUSIVE),  # below min_requests
    (MemberSample(200, 0.0, 0.1), HEALTHY_BASE, Verdict.PASS),  # exactly min_requests
    (MemberSample(None, None, None), HEALTHY_BASE, Verdict.INCONCLUSIVE),  # no data is never a pass
    (MemberSample(0, NAN, NAN), HEALTHY_BASE, Verdict.INCONCLUSIVE),  # idle: 0/0 is no evidence
    (MemberSample(NAN, 0.0, 0.1), HEALTHY_BASE, Verdict.FAIL),  # broken request count
    (MemberSample(500, NAN, 0.1), HEALTHY_BASE, Verdict.FAIL),  # NaN is a failure
    (MemberSample(500, 0.1, NAN), HEALTHY_BASE, Verdict.FAIL),
    (MemberSample(500, 0.1, 0.1), MemberSample(5000, NAN, 0.1), Verdict.FAIL),  # NaN baseline
    (MemberSample(500, 0.1, 0.1), MemberSample(NAN, 0.1, 0.1), Verdict.FAIL),  # NaN baseline count
    (MemberSample(500, 1.0, 0.1), MemberSample(5000, 0.5, 0.1), Verdict.PASS),  # at the limits
    (MemberSample(500, 1.01, 0.1), MemberSample(5000, 0.9, 0.1), Verdict.FAIL),  # over max
    (MemberSample(500, 0.9, 0.1), MemberSample(5000, 0.3, 0.1), Verdict.FAIL),  # 0.6 pp over baseline
    (MemberSample(500, 0.1, 0.301), HEALTHY_BASE, Verdict.FAIL),  # latency over 300ms
    (MemberSample(500, 0.1, None), HEALTHY_BASE, Verdict.INCONCLUSIVE),  # a metric missing
    (MemberSample(500, 5.0, None), HEALTHY_BASE, Verdict.FAIL),  # a breach beats a missing metric
    (MemberSample(500, 0.1, 0.1), MemberSample(150, 0.0, 0.1), Verdict.INCONCLUSIVE),  # baseline too idle
    (MemberSample(500, 0.1, 0.1), MemberSample(None, None, None), Verdict.INCONCLUSIVE),  # no baseline
    (MemberSample(500, math.inf, 0.1), HEALTHY_BASE, Verdict.FAIL),
])
def test_check_rules(canary: MemberSample, baseline: MemberSample, verdict: Verdict) -> None:
    assert check(canary, baseline) is verdict


def test_baseline_needed_only_by_relative_gates() -> None:
    absolute = AnalysisSpec.model_validate({"min_requests": 10, "metrics": [{"name": "error_rate", "max": 1}]})
    assert check(MemberSample(50, 0.0, None), MemberSample(), absolute) is Verdict.PASS
    relative = AnalysisSpec.model_validate({"min_requests": 10, "metrics": [
        {"name": "latency_avg", "max_over_baseline": "50ms"}]})
    assert check(MemberSample(50, 0.0, 0.149), MemberSample(20, 0.0, 0.1), relative) is Verdict.PASS
    assert check(MemberSample(50, 0.0, 0.151), MemberSample(20, 0.0, 0.1), relative) is Verdict.FAIL


def test_failing_check_names_the_metric_and_serialises_nan() -> None:
    result = judge_check(CheckSamples(MemberSample(500, NAN, 0.5), HEALTHY_BASE, 0, 60), SPEC)
    assert result.verdict is Verdict.FAIL
    assert "error_rate: the measured value is NaN" in result.reason and "latency_avg" in result.reason
    dumped = json.loads(result.model_dump_json())
    assert dumped["measurements"][0]["canary"] == "NaN" and dumped["measurements"][2]["value"] == 0.5


def test_too_few_requests_still_reports_the_values() -> None:
    result = judge_check(CheckSamples(MemberSample(12, 50.0, 0.1), HEALTHY_BASE, 0, 60), SPEC)
    assert result.verdict is Verdict.INCONCLUSIVE and "12 requests, fewer than min_requests 200" in result.reason
    assert result.measurements[0].canary == 50.0


P, F, I = Verdict.PASS, Verdict.FAIL, Verdict.INCONCLUSIVE  # noqa: E741


@pytest.mark.parametrize(("verdicts", "elapsed", "outcome", "cause"), [
    ([], False, StepOutcome.BAKING, None),
    ([P, P], False, StepOutcome.BAKING, None),  # no early success
    ([P], True, StepOutcome.PASSED, None),
    ([I, I, P], True, StepOutcome.PASSED, None),
    ([P, F], True, StepOutcome.PASSED, None),  # one blip is not a run
    ([F, P, F], True, StepOutcome.PASSED, None),
    ([F, F], False, StepOutcome.ABORTED, AbortCause.FAILURE_LIMIT),  # aborts before the bake ends
    ([F, I, F], False, StepOutcome.ABORTED, AbortCause.FAILURE_LIMIT),  # inconclusive does not break a run
    ([P, F, P, F, P], True, StepOutcome.PASSED, None),
    ([], True, StepOutcome.ABORTED, AbortCause.NO_CONCLUSIVE_CHECK),
    ([I, I, I], True, StepOutcome.ABORTED, AbortCause.NO_CONCLUSIVE_CHECK),
    ([F], True, StepOutcome.ABORTED, AbortCause.NO_PASSING_CHECK),
    ([I, F, I], True, StepOutcome.ABORTED, AbortCause.NO_PASSING_CHECK),
])
def test_step_rules(verdicts: list[Verdict], elapsed: bool, outcome: StepOutcome, cause: AbortCause | None) -> None:
    result = judge_step(verdicts, elapsed, failure_limit=2)
    assert (result.outcome, result.cause) == (outcome, cause)


def test_failure_limit_counts_consecutive_failures() -> None:
    assert longest_failure_run([F, F, P, F, I, F, F, P]) == 3
    assert judge_step([F, F, P], True, failure_limit=3).outcome is StepOutcome.PASSED
    assert judge_step([F, F, F, P], True, failure_limit=3).cause is AbortCause.FAILURE_LIMIT
    assert judge_step([F], False, failure_limit=1).cause is AbortCause.FAILURE_LIMIT


verdict_lists = st.lists(st.sampled_from(list(Verdict)), max_size=12)
limits = st.integers(min_value=1, max_value=4)


@settings(max_examples=300)
@given(verdict_lists, st.booleans(), limits, st.integers(min_value=0, max_value=12), st.integers(1, 3))
def test_adding_failed_checks_never_turns_abort_into_pass(verdicts: list[Verdict], elapsed: bool, limit: int,
                                                          at: int, count: int) -> None:
    before = judge_step(verdicts, elapsed, limit).outcome
    worse = verdicts[:at] + [F] * count + verdicts[at:]
    after = judge_step(worse, elapsed, limit).outcome
    if before is not StepOutcome.PASSED:
        assert after is not StepOutcome.PASSED
    assert longest_failure_run(worse) >= longest_failure_run(verdicts)


@settings(max_examples=300)
@given(verdict_lists, st.booleans(), limits, st.data())
def test_turning_a_pass_into_a_failure_never_helps(verdicts: list[Verdict], elapsed: bool, limit: int,
                                                  data: st.DataObject) -> None:
    passes = [i for i, v in enumerate(verdicts) if v is P]
    if not passes:
        return
    index = data.draw(st.sampled_from(passes))
    worse = [F if i == index else v for i, v in enumerate(verdicts)]
    if judge_step(verdicts, elapsed, limit).outcome is not StepOutcome.PASSED:
        assert judge_step(worse, elapsed, limit).outcome is not StepOutcome.PASSED


@settings(max_examples=300)
@given(verdict_lists, st.booleans(), limits)
def test_a_pass_needs_the_bake_a_passing_check_and_no_failure_run(verdicts: list[Verdict], elapsed: bool,
                                                                  limit: int) -> None:
    result = judge_step(verdicts, elapsed, limit)
    if result.outcome is StepOutcome.PASSED:
        assert elapsed and P in verdicts and longest_failure_run(verdicts) < limit
    if not any(v is P for v in verdicts):
        assert result.outcome is not StepOutcome.PASSED  # inconclusive and failed checks never pass a step
    if elapsed and result.outcome is StepOutcome.BAKING:
        pytest.fail("a step whose bake elapsed is decided")


samples = st.builds(
    MemberSample,
    requests=st.one_of(st.none(), st.floats(min_value=0, max_value=1e6), st.just(NAN)),
    error_rate=st.one_of(st.none(), st.floats(min_value=0, max_value=100), st.just(NAN)),
    latency_avg=st.one_of(st.none(), st.floats(min_value=0, max_value=10), st.just(NAN)),
)


@settings(max_examples=300)
@given(samples, samples)
def test_check_pass_needs_enough_requests_and_real_numbers(canary: MemberSample, baseline: MemberSample) -> None:
    result = judge_check(CheckSamples(canary, baseline), SPEC)
    if result.verdict is Verdict.PASS:
        assert canary.requests is not None and canary.requests >= SPEC.min_requests
        assert baseline.requests is not None and baseline.requests >= SPEC.min_requests
        for value in (canary.error_rate, canary.latency_avg, baseline.error_rate):
            assert value is not None and not math.isnan(value)
        assert all(m.value is not None and m.value <= m.limit for m in result.measurements)
    if canary.requests is None or (not math.isnan(canary.requests) and canary.requests < SPEC.min_requests):
        assert result.verdict is Verdict.INCONCLUSIVE


@settings(max_examples=200)
@given(samples, st.floats(min_value=0, max_value=100), st.floats(min_value=0, max_value=50))
def test_a_higher_error_rate_never_turns_fail_into_pass(canary: MemberSample, rate: float, extra: float) -> None:
    low = MemberSample(canary.requests, rate, canary.latency_avg)
    high = MemberSample(canary.requests, min(100.0, rate + extra), canary.latency_avg)
    if check(low) is Verdict.FAIL:
        assert check(high) is Verdict.FAIL
