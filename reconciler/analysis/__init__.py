"""Canary evidence: gates, a pure judge over samples, and the providers that fetch the samples.

    gates.py         what the files declare (AnalysisSpec, metric gates, interval rule per target)
    durations.py     `300ms`, `4s`, `10m`: the Duration type the models use
    judge.py         samples + gates -> pass | fail | inconclusive, per check and per step (pure)
    provider.py      the protocol every provider implements: numbers per member per window
    cloudmonitor.py  CloudMonitor DescribeMetricList (acs_learn), on the cloud or the emulator
    prometheus.py    any Prometheus-compatible HTTP API, PromQL templates per metric
    sources.py       open_provider: the provider an AnalysisSpec names, for a target

Nothing here changes EAS: a provider only reads, the judge only computes. The names below are the
package's API; the providers are imported from their modules (they pull in HTTP clients).
"""

from reconciler.analysis.durations import Duration, format_duration, parse_duration
from reconciler.analysis.gates import (
    AnalysisSpec,
    ErrorRateGate,
    GateKind,
    LatencyGate,
    MetricGate,
    MetricName,
    PrometheusSettings,
    ProviderName,
    QueryName,
    interval_problem,
)
from reconciler.analysis.judge import (
    AbortCause,
    CheckResult,
    CheckSamples,
    Measurement,
    MemberSample,
    StepOutcome,
    StepVerdict,
    Verdict,
    judge_check,
    judge_step,
)
from reconciler.analysis.provider import Fetched, MetricsProvider, Window, check_samples, combine

__all__ = [
    "AbortCause", "AnalysisSpec", "CheckResult", "CheckSamples", "Duration", "ErrorRateGate", "Fetched", "GateKind",
    "LatencyGate", "Measurement", "MemberSample", "MetricGate", "MetricName", "MetricsProvider", "PrometheusSettings",
    "ProviderName", "QueryName", "StepOutcome", "StepVerdict", "Verdict", "Window", "check_samples", "combine",
    "format_duration", "interval_problem", "judge_check", "judge_step", "parse_duration",
]
