"""The gates a canary must pass, as the files write them (`spec.rollout.analysis`).

    analysis:
      provider: cloudmonitor       # cloudmonitor | prometheus
      interval: 1m                 # one check per interval while a step bakes
      min_requests: 200            # fewer canary requests in a check: inconclusive, never a pass
      failure_limit: 2             # consecutive failed checks that abort the step
      metrics:
        - {name: error_rate, max: 1}                 # percent of the canary's answers that are 5xx
        - {name: error_rate, max_over_baseline: 0.5} # canary minus baseline, in percentage points
        - {name: latency_avg, max: 300ms}            # the canary's mean response time

Every model is frozen and forbids unknown keys, like the rest of the desired state, so the rollout
spec can embed `AnalysisSpec` as it is. Cross-field errors are `PydanticCustomError("conflict")`
whose context names the key to point at (`ctx["at"]`) and a hint, as in `reconciler.desired.model`.

Choices where nothing is documented:
- Defaults are the guards, not the absence of them: `min_requests` 100, `failure_limit` 2,
  `interval` 1m. A gate list is required: a step without a gate could never be judged.
- Each gate entry has exactly one limit: `max` (absolute) or `max_over_baseline` (relative to
  the baseline, the members still on the old version, measured in the same window).
- Latency gates are on the mean: CloudMonitor publishes the average and maximum of `rt` per
  period, no percentile, so a `p99` gate would claim what the data cannot show.
- CloudMonitor on the real cloud answers whole minutes (`Period` a multiple of 60 s): there an
  interval under 60 s is refused (`interval_problem`). The emulator's CloudMonitor answers whole
  seconds, so demos and tests can bake for seconds; an interval under 1 s is refused everywhere.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from reconciler.analysis.duration_text import format_duration
from reconciler.analysis.durations import Duration

CLOUD_PERIOD = 60.0  # seconds: CloudMonitor's finest Period for acs_learn on the real cloud
EMULATOR_PERIOD = 1.0  # seconds: the emulator's CloudMonitor default base period
PLACEHOLDERS = ("service", "group", "interval")
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"


def _conflict(message: str, at: str, hint: str) -> PydanticCustomError:
    return PydanticCustomError("conflict", message, {"at": at, "hint": hint})


class MetricName(StrEnum):
    """The metrics a gate can name (closed: the providers know how to fetch each)."""

    ERROR_RATE = "error_rate"  # percent of answers with a 5xx status
    LATENCY_AVG = "latency_avg"  # mean response time, seconds


class GateKind(StrEnum):
    MAX = "max"  # canary value <= limit
    MAX_OVER_BASELINE = "max_over_baseline"  # canary value - baseline value <= limit


class ProviderName(StrEnum):
    CLOUDMONITOR = "cloudmonitor"
    PROMETHEUS = "prometheus"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


def _present(name: str) -> dict[str, Any]:
    return {"required": [name], "properties": {name: {"not": {"type": "null"}}}}


_ONE_LIMIT: dict[str, Any] = {"oneOf": [_present("max"), _present("max_over_baseline")]}


class _Gate(_Strict):
    """One limit on one metric; subclasses fix the metric and the unit of the limit."""

    name: str
    max: float | None = None
    max_over_baseline: float | None = None

    @model_validator(mode="after")
    def _one_limit(self) -> _Gate:
        values = {"max": self.max, "max_over_baseline": self.max_over_baseline}
        given = [k for k, v in values.items() if v is not None]
        if len(given) != 1:
            raise _conflict("a metric gate needs exactly one of max and max_over_baseline", given[-1] if given else "",
                            "write one limit per entry; list the metric twice for both")
        return self

    @property
    def metric(self) -> MetricName:
        return MetricName(self.name)

    @property
    def kind(self) -> GateKind:
        return GateKind.MAX if self.max is not None else GateKind.MAX_OVER_BASELINE

    @property
    def limit(self) -> float:
        """The limit in the metric's unit: percent (or percentage points) for error_rate, seconds for latency."""
        value = self.max if self.max is not None else self.max_over_baseline
        assert value is not None  # _one_limit
        return float(value)

    def format_value(self, value: float, relative: bool = False) -> str:
        """`value` in the metric's unit for display (`relative`: a difference to the baseline)."""
        raise NotImplementedError

    def describe(self) -> str:
        """`error_rate <= 1 %`, `error_rate <= baseline + 0.5 pp`, `latency_avg <= 300ms` (display only)."""
        if self.kind is GateKind.MAX:
            return f"{self.metric} <= {self.format_value(self.limit)}"
        return f"{self.metric} <= baseline + {self.format_value(self.limit, relative=True)}"


class ErrorRateGate(_Gate):
    """Share of the canary's answers with a 5xx status, in percent."""

    model_config = ConfigDict(json_schema_extra=_ONE_LIMIT)

    name: Literal["error_rate"] = Field(description="Percent of the canary's answers that are 5xx.")
    max: float | None = Field(default=None, ge=0, le=100, strict=True,
                              description="Highest error rate in percent, e.g. 1 for 1 %.")
    max_over_baseline: float | None = Field(default=None, ge=0, le=100, strict=True,
                                            description="Most percentage points above the baseline's error rate.")

    def format_value(self, value: float, relative: bool = False) -> str:
        return f"{value:g} {'pp' if relative else '%'}"


class LatencyGate(_Gate):
    """The canary's mean response time (CloudMonitor publishes no percentile)."""

    model_config = ConfigDict(json_schema_extra=_ONE_LIMIT)

    name: Literal["latency_avg"] = Field(description="The canary's mean response time.")
    max: Duration | None = Field(default=None, description="Highest mean response time, e.g. 300ms.")
    max_over_baseline: Duration | None = Field(default=None,
                                               description="Most time above the baseline's mean, e.g. 50ms.")

    def format_value(self, value: float, relative: bool = False) -> str:
        return format_duration(value)


MetricGate = Annotated[ErrorRateGate | LatencyGate, Field(discriminator="name")]


class QueryName(StrEnum):
    """The PromQL queries a prometheus provider runs per member (each answers one number)."""

    REQUESTS = "requests"  # requests answered in the window
    ERROR_RATE = "error_rate"  # percent 5xx in the window
    LATENCY_AVG = "latency_avg"  # mean latency in the window, seconds


class PrometheusSettings(_Strict):
    """Where the prometheus provider asks, and optionally how (PromQL templates per query)."""

    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$",
                     description="Base URL of a Prometheus-compatible HTTP API (the part before /api/v1).")
    bearer_token_env: str | None = Field(default=None, pattern=ENV_NAME_PATTERN,
                                         description="Environment variable holding a bearer token, if any.")
    queries: dict[QueryName, str] = Field(
        default_factory=dict,
        description="PromQL templates replacing the defaults; {{service}}, {{group}} and {{interval}} are "
                    "filled in. Each must answer one number.")
    timeout: Duration = Field(default=10.0, description="Time allowed for one query, e.g. 10s.")

    @field_validator("queries")
    @classmethod
    def _known_placeholders(cls, queries: dict[QueryName, str]) -> dict[QueryName, str]:
        for name, template in queries.items():
            unknown = sorted(set(_PLACEHOLDER.findall(template)) - set(PLACEHOLDERS))
            if unknown:
                raise _conflict(f"query {name}: unknown placeholder {{{{{unknown[0]}}}}}", str(name),
                                "use {{service}}, {{group}} or {{interval}}")
        return queries


class AnalysisSpec(_Strict):
    """How each check of a bake reads the evidence and judges it."""

    provider: ProviderName = Field(default=ProviderName.CLOUDMONITOR, description="Where the numbers come from.")
    interval: Duration = Field(default=60.0, description="Time between checks while a step bakes, e.g. 1m.")
    min_requests: int = Field(default=100, ge=1, strict=True,
                              description="Canary requests a check needs to be conclusive (fewer: inconclusive).")
    failure_limit: int = Field(default=2, ge=1, strict=True,
                               description="Consecutive failed checks that abort the step.")
    metrics: list[MetricGate] = Field(min_length=1, description="The gates every check applies.")
    prometheus: PrometheusSettings | None = Field(default=None,
                                                  description="Required with provider: prometheus.")

    @field_validator("interval")
    @classmethod
    def _positive(cls, value: float) -> float:
        if value < EMULATOR_PERIOD:  # no metrics source this project reads has a finer period
            raise PydanticCustomError("value_error", "the interval must be at least 1s (the finest period of "
                                      "the emulator's CloudMonitor)", {"hint": "use interval: 1s or more"})
        return value

    @model_validator(mode="after")
    def _consistent(self) -> AnalysisSpec:
        if self.provider is ProviderName.PROMETHEUS and self.prometheus is None:
            raise _conflict("provider prometheus needs a prometheus section", "provider",
                            "add prometheus: {url: http://prometheus:9090}")
        if self.provider is not ProviderName.PROMETHEUS and self.prometheus is not None:
            raise _conflict(f"a prometheus section is given but the provider is {self.provider}", "prometheus",
                            "set provider: prometheus, or remove the prometheus section")
        seen: set[tuple[MetricName, GateKind]] = set()
        for index, gate in enumerate(self.metrics):
            key = (gate.metric, gate.kind)
            if key in seen:
                raise _conflict(f"metric {gate.metric} has two {gate.kind} gates", f"metrics.{index}",
                                "keep one limit per metric and kind")
            seen.add(key)
        return self


def finest_period(cloud: bool) -> float:
    """The shortest CloudMonitor period of the real cloud (`cloud`) or of an emulator, in seconds."""
    return CLOUD_PERIOD if cloud else EMULATOR_PERIOD


def interval_problem(analysis: AnalysisSpec, cloud: bool) -> str | None:
    """Why `analysis.interval` cannot work against the real cloud (`cloud`) or an emulator, or None.

    The real CloudMonitor aggregates `acs_learn` per minute at the finest, so a check every few
    seconds would read no data; the emulator's CloudMonitor answers whole seconds.
    """
    if analysis.provider is not ProviderName.CLOUDMONITOR:
        return None
    finest = finest_period(cloud)
    if analysis.interval < finest:
        where = "CloudMonitor on the aliyun target" if cloud else "the emulator's CloudMonitor"
        return (f"interval {format_duration(analysis.interval)} is shorter than the finest period of {where} "
                f"({format_duration(finest)})")
    return None
