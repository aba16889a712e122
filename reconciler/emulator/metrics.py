"""Counters and latency histograms of one emulator app, exposed with `prometheus_client`.

Each `Metrics` owns its own `CollectorRegistry` (never the process-global one), so several apps in
one process (tests, the embedded target beside a served one) count apart and can be created any
number of times without "Duplicated timeseries" errors.

    eas_emulator_api_calls_total{action, code}                 management calls by operation and HTTP status
                                                               (code "0": the connection was dropped by a fault)
    eas_emulator_gateway_requests_total{group, service, code}  prediction requests by serving member and status
                                                               (service "": nobody could answer, 503, or an
                                                               injected fault answered: its status, "0" = dropped)
    eas_emulator_gateway_errors_total{group, service}          prediction requests answered with 5xx
    eas_emulator_gateway_latency_seconds{group, service}       histogram of the gateway's own time per request
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._api = Counter("eas_emulator_api_calls", "Management API calls by action and HTTP status.",
                            ["action", "code"], registry=self.registry)
        self._requests = Counter("eas_emulator_gateway_requests",
                                 "Prediction requests by group, serving member and HTTP status.",
                                 ["group", "service", "code"], registry=self.registry)
        self._errors = Counter("eas_emulator_gateway_errors", "Prediction requests answered with 5xx.",
                               ["group", "service"], registry=self.registry)
        self._latency = Histogram("eas_emulator_gateway_latency_seconds", "Prediction latency per member.",
                                  ["group", "service"], buckets=BUCKETS, registry=self.registry)

    def api_call(self, action: str, status: int) -> None:
        self._api.labels(action=action, code=str(status)).inc()

    def gateway(self, group: str, service: str, status: int, seconds: float | None) -> None:
        """Count one prediction request; `seconds` None (an injected fault answered) adds no latency sample."""
        self._requests.labels(group=group, service=service, code=str(status)).inc()
        if status >= 500:
            self._errors.labels(group=group, service=service).inc()
        if seconds is not None:
            self._latency.labels(group=group, service=service).observe(seconds)

    def render(self) -> bytes:
        """The exposition for `/metrics` (serve it with `CONTENT_TYPE`)."""
        return generate_latest(self.registry)
