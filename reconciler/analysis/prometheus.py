"""The `prometheus` provider: any Prometheus-compatible HTTP API (`GET <url>/api/v1/query`).

Per member and window it runs three instant queries at the window's end, one per number of a
`MemberSample`: `requests`, `error_rate` (percent) and `latency_avg` (seconds). Each is a PromQL
template; `{{service}}`, `{{group}}` and `{{interval}}` (the window's length, e.g. `60s`) are
filled in. The defaults read the series the emulator exposes on `/metrics`:

    eas_emulator_gateway_requests_total{group, service, code}
    eas_emulator_gateway_latency_seconds_{sum,count}{group, service}

so a Prometheus scraping a served emulator works with no query written; a team exporting other
names writes its own templates under `prometheus.queries`. A query must answer one number (an
empty answer is "no data"; several series are a configuration error: aggregate with `sum`).

Choices:
- The error-rate numerator falls back to 0 (`or vector(0)`) when no 5xx series exists yet, so a
  healthy member reads 0 %, not "no data"; with no requests at all it reads NaN (0/0), which the
  judge never reaches because the request count is below `min_requests` first.
- Prometheus keeps wall-clock time: windows given to this provider are real epoch seconds, so a
  rollout judged by Prometheus bakes in real time even against the emulator (whose CloudMonitor
  follows its emulated clock instead). `increase` extrapolates to the window's edges, so counts are
  approximate; keep the scrape interval well under the analysis interval.
- An optional bearer token is read from the environment variable `bearer_token_env` when the
  provider is made; it is sent as `Authorization: Bearer ...` and never printed.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from reconciler.analysis.gates import PrometheusSettings, QueryName
from reconciler.analysis.judge import MemberSample
from reconciler.analysis.provider import Fetched, Window
from reconciler.errors import ApiError, AuthError, ConfigError, TransportError

OPERATION = "PrometheusQuery"
_MATCH = 'group="{{group}}",service="{{service}}"'
DEFAULT_QUERIES: dict[QueryName, str] = {
    QueryName.REQUESTS: f"sum(increase(eas_emulator_gateway_requests_total{{{_MATCH}}}[{{{{interval}}}}]))",
    QueryName.ERROR_RATE: (
        f'100 * (sum(increase(eas_emulator_gateway_requests_total{{{_MATCH},code=~"5.."}}[{{{{interval}}}}])) '
        f"or vector(0)) / sum(increase(eas_emulator_gateway_requests_total{{{_MATCH}}}[{{{{interval}}}}]))"),
    QueryName.LATENCY_AVG: (
        f"sum(increase(eas_emulator_gateway_latency_seconds_sum{{{_MATCH}}}[{{{{interval}}}}])) / "
        f"sum(increase(eas_emulator_gateway_latency_seconds_count{{{_MATCH}}}[{{{{interval}}}}]))"),
}
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _label_value(text: str) -> str:
    """`text` safe inside a double-quoted PromQL string."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


def render(template: str, service: str, group: str, window: Window) -> str:
    """The PromQL of `template` for one member and window (`{{interval}}`: whole seconds, at least 1s)."""
    values = {"service": _label_value(service), "group": _label_value(group),
              "interval": f"{max(1, round(window.seconds))}s"}
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def _value(data: Any, query: str) -> float | None:
    """The one number of an instant query's `data`; None for an empty vector."""
    kind, result = (data or {}).get("resultType"), (data or {}).get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return float(result[1])
    if kind != "vector" or not isinstance(result, list):
        raise ConfigError(f"prometheus query answered a {kind}, not one number: {query}")
    if not result:
        return None
    if len(result) > 1:
        raise ConfigError(f"prometheus query answered {len(result)} series, not one number (aggregate it with "
                          f"sum): {query}")
    return float(result[0]["value"][1])  # "NaN", "+Inf" parse as floats


class PrometheusProvider:
    """Samples per member from PromQL instant queries."""

    lag = 0.0  # an instant query answers from what was scraped; nothing to wait for past a window's end

    def __init__(self, url: str, *, queries: Mapping[QueryName, str] | None = None, token: str | None = None,
                 timeout: float = 10.0, transport: httpx.AsyncBaseTransport | None = None) -> None:
        headers = {"accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self.queries = {**DEFAULT_QUERIES, **(queries or {})}
        self._http = httpx.AsyncClient(base_url=url.rstrip("/"), headers=headers, timeout=timeout,
                                       transport=transport, trust_env=False)

    def __repr__(self) -> str:
        return f"PrometheusProvider(url={str(self._http.base_url)!r})"  # never the token

    @classmethod
    def from_settings(cls, settings: PrometheusSettings, env: Mapping[str, str] | None = None,
                      transport: httpx.AsyncBaseTransport | None = None) -> PrometheusProvider:
        token = None
        if settings.bearer_token_env:
            token = (os.environ if env is None else env).get(settings.bearer_token_env)
            if not token:
                raise ConfigError(f"prometheus.bearer_token_env names {settings.bearer_token_env}, which is not set")
        return cls(settings.url, queries=settings.queries, token=token, timeout=settings.timeout,
                   transport=transport)

    async def query(self, promql: str, at: float) -> float | None:
        """One instant query at epoch seconds `at`."""
        try:
            response = await self._http.get("/api/v1/query", params={"query": promql, "time": f"{at:.3f}"})
        except httpx.HTTPError as exc:
            raise TransportError(f"{OPERATION}: Prometheus did not answer ({type(exc).__name__})") from exc
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code >= 400 or body.get("status") != "success":
            cls = AuthError if response.status_code in (401, 403) else ApiError
            raise cls(response.status_code, str(body.get("errorType") or "PrometheusError"),
                      str(body.get("error") or response.reason_phrase), "", OPERATION)
        return _value(body.get("data"), promql)

    async def _member(self, group: str, service: str, window: Window) -> MemberSample:
        names = (QueryName.REQUESTS, QueryName.ERROR_RATE, QueryName.LATENCY_AVG)
        requests, error_rate, latency = await asyncio.gather(
            *(self.query(render(self.queries[name], service, group, window), window.end) for name in names))
        return MemberSample(requests, error_rate, latency)

    async def fetch(self, group: str, services: Sequence[str], window: Window) -> Fetched:
        samples = await asyncio.gather(*(self._member(group, name, window) for name in services))
        return Fetched(window, dict(zip(services, samples, strict=True)))

    async def aclose(self) -> None:
        await self._http.aclose()
