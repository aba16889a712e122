"""The emulated service autoscaler: where it is stored, the load it sees, and how it decides (HTTP-free).

Stored in one place: the `autoscaler` key of the service config, in the form the service-config
reference documents, `{min, max, strategies: {qps: 10}, behavior}`. CreateService / UpdateService
with that key and the autoscaler API (Create/Describe/Update/DeleteServiceAutoScaler, whose bodies
use `min`, `max`, `scaleStrategies: [{metricName, threshold}]`, `behavior`) read and write the same
thing, so `ServiceConfig` always shows the autoscaler in force and `AutoscalerEnabled` is true
exactly when the config holds one. The API writes it without a new version (like a scale). A
config that says `scaleStrategies` (the API's list) instead of `strategies` is accepted too.

The rule (the emulator's own; EAS does not publish its algorithm). Every `interval` seconds of
emulated time (at its multiples), for each member with an autoscaler that this process saw load for:

- QPS(t) = gateway requests to the member in `(t - window, t]`, divided by `window`: group requests
  it was chosen for, and requests to its direct endpoint (counted even when it has no instance to
  answer: that is what wakes a member at 0). Only `qps` has a load model; other metrics keep the count.
- recommendation(t) = ceil(QPS(t) / threshold) clamped to [min, max].
- Scale up to the smallest recommendation of the last `scaleUp.stabilizationWindowSeconds` when it is
  above the current count (from 0: at least `onZero.scaleUpActivationReplicas`, default 1); scale
  down to the largest recommendation of the last `scaleDown.stabilizationWindowSeconds` when it is
  below (defaults 0 s and 300 s, the documented ones, as settings). A decision is a scale:
  `metadata.instance` changes, no new version.

Decisions are computed when state is settled (every write, describe or history read), one per
tick between the last settle and now, in time order, so the history is the same whenever it is
looked at. Load is counted in memory by the process whose gateway answered (a served emulator sees
all of its gateway's traffic; an embedded one-off CLI process only its own requests).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from reconciler.emulator import errors
from reconciler.emulator.settings import AutoscalerSettings

QPS = "qps"


@dataclass(frozen=True)
class Scaler:
    """One service's autoscaler, in the config form."""

    min: int
    max: int
    strategies: dict[str, float]
    behavior: dict[str, Any] = field(default_factory=dict)

    def config_form(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min": self.min, "max": self.max, "strategies": dict(self.strategies)}
        if self.behavior:
            out["behavior"] = self.behavior
        return out

    def qps_threshold(self) -> float | None:
        return next((t for m, t in self.strategies.items() if m.lower() == QPS), None)

    def activation(self) -> int:
        """behavior.onZero.scaleUpActivationReplicas: instances started when waking from 0 (default 1)."""
        value = (self.behavior.get("onZero") or {}).get("scaleUpActivationReplicas")
        return value if isinstance(value, int) and not isinstance(value, bool) and value >= 1 else 1

    def window(self, direction: str, default: float) -> float:
        """behavior.<scaleUp|scaleDown>.stabilizationWindowSeconds, else `default`."""
        value = (self.behavior.get(direction) or {}).get("stabilizationWindowSeconds")
        if isinstance(value, int | float) and _is_number(value) and value >= 0:
            return float(value)
        return default


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise errors.invalid_parameter(f"autoscaler {name} must be an integer >= 0, got {value!r}.")
    return value


def _strategies(value: Any) -> dict[str, float]:
    if not isinstance(value, dict) or not value:
        raise errors.invalid_parameter("autoscaler strategies must be a non-empty object of metric: threshold.")
    for metric, threshold in value.items():
        if not _is_number(threshold) or threshold <= 0:
            raise errors.invalid_parameter(f"autoscaler threshold of {metric} must be a number > 0, got {threshold!r}.")
    return {str(k): float(v) for k, v in value.items()}


def _scaler(low: Any, high: Any, strategies: Any, behavior: Any, strict_range: bool) -> Scaler:
    low, high = _count(low, "min"), _count(high, "max")
    if high < low or (strict_range and high == low):
        relation = "greater than" if strict_range else "at least"
        raise errors.invalid_parameter(f"autoscaler max ({high}) must be {relation} min ({low}).")
    if behavior is not None and not isinstance(behavior, dict):
        raise errors.invalid_parameter("autoscaler behavior must be a JSON object.")
    return Scaler(low, high, _strategies(strategies), dict(behavior or {}))


def from_config(config: dict[str, Any]) -> Scaler | None:
    """The autoscaler a service config holds (None without one); InvalidParameter when malformed."""
    value = config.get("autoscaler")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise errors.invalid_parameter("autoscaler must be a JSON object.")
    strategies = value.get("strategies")
    if strategies is None and isinstance(value.get("scaleStrategies"), list):  # the API's list form, also accepted
        strategies = _listed(value["scaleStrategies"])
    return _scaler(value.get("min"), value.get("max"), strategies, value.get("behavior"), False)


def _listed(listed: Any) -> dict[str, Any]:
    if not isinstance(listed, list) or not all(isinstance(s, dict) and s.get("metricName") for s in listed):
        raise errors.invalid_parameter("scaleStrategies must be a list of {metricName, threshold}.")
    return {str(s["metricName"]): s.get("threshold") for s in listed}


def from_api_body(body: dict[str, Any]) -> Scaler:
    """Create/UpdateServiceAutoScaler body -> Scaler (min, max and scaleStrategies are required)."""
    for name in ("min", "max", "scaleStrategies"):
        if body.get(name) is None:
            raise errors.missing(name)
    return _scaler(body["min"], body["max"], _listed(body["scaleStrategies"]), body.get("behavior"), True)


def describe(name: str, scaler: Scaler, qps: float) -> dict[str, Any]:
    """DescribeServiceAutoScaler body: PascalCase outside, lowerCamel inside (as the SDK models it)."""
    strategies = [{"metricName": m, "threshold": _plain(t), "service": name} for m, t in scaler.strategies.items()]
    current = [{"metricName": m, "service": name, "value": round(qps, 3) if m.lower() == QPS else 0}
               for m in scaler.strategies]
    return {"ServiceName": name, "MinReplica": scaler.min, "MaxReplica": scaler.max, "Behavior": scaler.behavior,
            "ScaleStrategies": strategies, "CurrentMetrics": current}


def _plain(value: float) -> int | float:
    return int(value) if value.is_integer() else value


class LoadMeter:
    """Gateway requests per member, in one-second buckets of emulated time (this process only)."""

    def __init__(self) -> None:
        self._hits: dict[str, dict[int, int]] = defaultdict(dict)

    def hit(self, name: str, t: float) -> None:
        buckets = self._hits[name]
        second = math.floor(t)
        buckets[second] = buckets.get(second, 0) + 1

    def names(self) -> list[str]:
        return sorted(self._hits)

    def qps(self, name: str, t: float, window: float) -> float:
        """Requests in (t - window, t] per second."""
        buckets = self._hits.get(name, {})
        low = t - window
        return sum(n for second, n in buckets.items() if low < second <= t) / window

    def first_hit(self, name: str) -> float | None:
        buckets = self._hits.get(name)
        return float(min(buckets)) if buckets else None

    def forget_before(self, name: str, t: float) -> None:
        """Drop buckets older than `t`; forget the member once nothing is left."""
        buckets = {s: n for s, n in self._hits.get(name, {}).items() if s > t}
        if buckets:
            self._hits[name] = buckets
        else:
            self._hits.pop(name, None)


def ticks(after: float, until: float, interval: float, limit: int) -> list[float]:
    """Multiples of `interval` in (after, until], the last `limit` of them at most."""
    first = math.floor(after / interval) + 1
    last = math.floor(until / interval)
    return [k * interval for k in range(max(first, last - limit + 1), last + 1)]


def decide(scaler: Scaler, current: int, meter: LoadMeter, name: str, t: float, s: AutoscalerSettings) -> int:
    """The instance count the autoscaler sets at tick `t` (== current: no change)."""
    threshold = scaler.qps_threshold()
    if threshold is None:
        return min(max(current, scaler.min), scaler.max)

    def recommend(at: float) -> int:
        wanted = math.ceil(meter.qps(name, at, s.window) / threshold - 1e-9)
        return min(max(wanted, scaler.min), scaler.max)

    def recent(seconds: float) -> list[int]:
        steps = int(seconds // s.interval)
        return [recommend(t - k * s.interval) for k in range(steps + 1)]

    up = min(recent(scaler.window("scaleUp", s.scale_up_stabilization)))
    if up > current:
        return max(up, min(scaler.activation(), scaler.max)) if current == 0 else up
    down = max(recent(scaler.window("scaleDown", s.scale_down_stabilization)))
    return down if down < current else current


def horizon(scaler: Scaler, s: AutoscalerSettings) -> float:
    """How far back a decision looks at load: older buckets can be dropped."""
    return s.window + max(scaler.window("scaleUp", s.scale_up_stabilization),
                          scaler.window("scaleDown", s.scale_down_stabilization)) + s.interval
