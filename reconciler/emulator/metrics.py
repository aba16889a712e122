"""Counters and latency histograms of one emulator process, in the Prometheus text format (0.0.4).

Written by hand: a dozen lines of formatting do not justify a new dependency.
"""

from __future__ import annotations

import threading
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
Labels = tuple[tuple[str, str], ...]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{k}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: dict[Labels, int] = defaultdict(int)
        self._requests: dict[Labels, int] = defaultdict(int)
        self._errors: dict[Labels, int] = defaultdict(int)
        self._hist: dict[Labels, list[int]] = {}
        self._sum: dict[Labels, float] = defaultdict(float)

    def api_call(self, action: str, status: int) -> None:
        with self._lock:
            self._api[(("action", action), ("code", str(status)))] += 1

    def gateway(self, group: str, service: str, status: int, seconds: float) -> None:
        member: Labels = (("group", group), ("service", service))
        with self._lock:
            self._requests[(*member, ("code", str(status)))] += 1
            if status >= 500:
                self._errors[member] += 1
            counts = self._hist.setdefault(member, [0] * (len(BUCKETS) + 1))
            index = next((i for i, bound in enumerate(BUCKETS) if seconds <= bound), len(BUCKETS))
            counts[index] += 1
            self._sum[member] += seconds

    def render(self) -> str:
        with self._lock:
            lines = self._counter("eas_emulator_api_calls_total", "Management API calls by action and HTTP status.",
                                  self._api)
            lines += self._counter("eas_emulator_gateway_requests_total",
                                   "Prediction requests by group, serving member and HTTP status.", self._requests)
            lines += self._counter("eas_emulator_gateway_errors_total", "Prediction requests answered with 5xx.",
                                   self._errors)
            lines += self._histogram()
        return "\n".join(lines) + "\n"

    @staticmethod
    def _counter(name: str, help_text: str, values: dict[Labels, int]) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} counter"]
        lines += [f"{name}{_labels(k)} {v}" for k, v in sorted(values.items())]
        return lines

    def _histogram(self) -> list[str]:
        name = "eas_emulator_gateway_latency_seconds"
        lines = [f"# HELP {name} Prediction latency per member.", f"# TYPE {name} histogram"]
        for member, counts in sorted(self._hist.items()):
            running = 0
            for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
                running += count
                le = "+Inf" if bound == float("inf") else repr(bound)
                bucket = _labels(member, f'le="{le}"')
                lines.append(f"{name}_bucket{bucket} {running}")
            lines.append(f"{name}_sum{_labels(member)} {self._sum[member]:.6f}")
            lines.append(f"{name}_count{_labels(member)} {running}")
        return lines
