"""Durations, the gate models and the interval rule per target."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from reconciler.analysis.duration_text import format_duration, parse_duration
from reconciler.analysis.gates import (
    AnalysisSpec,
    ErrorRateGate,
    GateKind,
    LatencyGate,
    MetricName,
    ProviderName,
    interval_problem,
)
from reconciler.target_names import TargetKind

EXAMPLE = {
    "provider": "cloudmonitor", "interval": "1m", "min_requests": 200, "failure_limit": 2,
    "metrics": [{"name": "error_rate", "max": 1}, {"name": "error_rate", "max_over_baseline": 0.5},
                {"name": "latency_avg", "max": "300ms"}],
}


@pytest.mark.parametrize(("text", "seconds"), [
    ("300ms", 0.3), ("4s", 4.0), ("10m", 600.0), ("1h", 3600.0), ("1m30s", 90.0), ("1.5s", 1.5), ("0s", 0.0),
    ("2h5m", 7500.0), (" 20m ", 1200.0),
])
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["60", "", "m", "10 m", "1d", "-5s", "5sec", "1e3s", "s5"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


@given(st.integers(min_value=0, max_value=10 * 86_400_000))
def test_format_then_parse_round_trips(millis: int) -> None:
    text = format_duration(millis / 1000)
    assert parse_duration(text) == pytest.approx(millis / 1000)
    assert format_duration(parse_duration(text)) == text


def test_format_duration_canonical() -> None:
    assert [format_duration(s) for s in (0.3, 4, 90, 600, 3600, 3661.5)] == [
        "300ms", "4s", "1m30s", "10m", "1h", "1h1m1s500ms"]


def test_documented_example_parses_and_round_trips() -> None:
    spec = AnalysisSpec.model_validate(EXAMPLE)
    assert (spec.provider, spec.interval, spec.min_requests, spec.failure_limit) == (
        ProviderName.CLOUDMONITOR, 60.0, 200, 2)
    assert [(g.metric, g.kind, g.limit) for g in spec.metrics] == [
        (MetricName.ERROR_RATE, GateKind.MAX, 1.0), (MetricName.ERROR_RATE, GateKind.MAX_OVER_BASELINE, 0.5),
        (MetricName.LATENCY_AVG, GateKind.MAX, pytest.approx(0.3))]
    assert [g.describe() for g in spec.metrics] == [
        "error_rate <= 1 %", "error_rate <= baseline + 0.5 pp", "latency_avg <= 300ms"]
    dumped = spec.model_dump(mode="json", exclude_none=True)
    assert dumped["interval"] == "1m" and dumped["metrics"][2]["max"] == "300ms"
    assert AnalysisSpec.model_validate(dumped) == spec


def test_defaults_are_the_guards() -> None:
    spec = AnalysisSpec.model_validate({"metrics": [{"name": "error_rate", "max": 1}]})
    assert (spec.provider, spec.interval, spec.min_requests, spec.failure_limit) == (
        ProviderName.CLOUDMONITOR, 60.0, 100, 2)


def _error(data: dict[str, object]) -> str:
    with pytest.raises(ValidationError) as info:
        AnalysisSpec.model_validate(data)
    return str(info.value)


@pytest.mark.parametrize(("change", "message"), [
    ({"metrics": []}, "at least 1 item"),
    ({"metrics": [{"name": "latency_p99", "max": "1s"}]}, "does not match any of the expected tags"),
    ({"metrics": [{"name": "error_rate"}]}, "exactly one of max and max_over_baseline"),
    ({"metrics": [{"name": "error_rate", "max": 1, "max_over_baseline": 1}]}, "exactly one"),
    ({"metrics": [{"name": "error_rate", "max": 101}]}, "less than or equal to 100"),
    ({"metrics": [{"name": "error_rate", "max": -1}]}, "greater than or equal to 0"),
    ({"metrics": [{"name": "error_rate", "max": "1"}]}, "valid number"),
    ({"metrics": [{"name": "latency_avg", "max": 300}]}, "not a duration"),
    ({"metrics": [{"name": "error_rate", "max": 1}, {"name": "error_rate", "max": 2}]}, "two max gates"),
    ({"interval": 60}, "not a duration"),
    ({"interval": "0s"}, "at least 1s"),
    ({"interval": "999ms"}, "at least 1s"),
    ({"min_requests": 0}, "greater than or equal to 1"),
    ({"failure_limit": 0}, "greater than or equal to 1"),
    ({"min_requests": "200"}, "valid integer"),
    ({"provider": "datadog"}, "'cloudmonitor' or 'prometheus'"),
    ({"provider": "prometheus"}, "needs a prometheus section"),
    ({"prometheus": {"url": "http://p:9090"}}, "the provider is cloudmonitor"),
    ({"unknown": 1}, "Extra inputs are not permitted"),
])
def test_invalid_analysis(change: dict[str, object], message: str) -> None:
    assert message in _error({**EXAMPLE, **change})


def test_prometheus_settings() -> None:
    spec = AnalysisSpec.model_validate({**EXAMPLE, "provider": "prometheus", "prometheus": {
        "url": "http://127.0.0.1:9090", "bearer_token_env": "PROM_TOKEN",
        "queries": {"requests": 'sum(increase(x{service="{{service}}"}[{{ interval }}]))'}}})
    assert spec.prometheus is not None and spec.prometheus.timeout == 10.0
    bad = {**EXAMPLE, "provider": "prometheus"}
    assert "unknown placeholder {{svc}}" in _error({**bad, "prometheus": {"url": "http://p", "queries": {
        "requests": "sum(x{s='{{svc}}'})"}}})
    assert "latency_p99" in _error({**bad, "prometheus": {"url": "http://p", "queries": {"latency_p99": "x"}}})
    assert "should match pattern" in _error({**bad, "prometheus": {"url": "p:9090"}})
    assert "should match pattern" in _error({**bad, "prometheus": {"url": "http://p", "bearer_token_env": "A-B"}})


def test_gate_limits_in_their_units() -> None:
    assert LatencyGate.model_validate({"name": "latency_avg", "max_over_baseline": "50ms"}).limit == pytest.approx(0.05)
    assert ErrorRateGate.model_validate({"name": "error_rate", "max": 0}).limit == 0.0
    assert math.isclose(LatencyGate.model_validate({"name": "latency_avg", "max": "1m"}).limit, 60.0)


@pytest.mark.parametrize(("interval", "target", "refused"), [
    ("59s", TargetKind.ALIYUN, True), ("1m", TargetKind.ALIYUN, False), ("4s", TargetKind.ALIYUN, True),
    ("4s", TargetKind.LOCAL, False), ("4s", TargetKind.URL, False), ("1s", TargetKind.URL, False),
])
def test_interval_per_target(interval: str, target: TargetKind, refused: bool) -> None:
    spec = AnalysisSpec.model_validate({**EXAMPLE, "interval": interval})
    problem = interval_problem(spec, target is TargetKind.ALIYUN)
    assert (problem is not None) == refused
    if refused:
        assert interval in problem  # type: ignore[operator]


def test_an_interval_under_a_second_is_refused_on_every_target() -> None:
    with pytest.raises(ValueError, match="at least 1s"):
        AnalysisSpec.model_validate({**EXAMPLE, "interval": "500ms"})
    assert AnalysisSpec.model_validate({**EXAMPLE, "interval": "1s"}).interval == 1.0


def test_interval_rule_only_for_cloudmonitor() -> None:
    spec = AnalysisSpec.model_validate({**EXAMPLE, "interval": "4s", "provider": "prometheus",
                                        "prometheus": {"url": "http://p:9090"}})
    assert interval_problem(spec, True) is None


def test_json_schema_matches_the_model() -> None:
    import jsonschema

    schema = AnalysisSpec.model_json_schema(mode="validation")
    jsonschema.validate(AnalysisSpec.model_validate(EXAMPLE).model_dump(mode="json", exclude_none=True), schema)
    for bad in ({**EXAMPLE, "interval": 60},
                {**EXAMPLE, "metrics": [{"name": "error_rate", "max": 1, "max_over_baseline": 1}]},
                {**EXAMPLE, "metrics": [{"name": "error_rate"}]}):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)
