"""CloudMonitor's `DescribeMetricList` (API 2019-01-01) for namespace `acs_learn`, from the traffic routed here.

    POST|GET /   x-acs-action: DescribeMetricList (or query Action=DescribeMetricList), x-acs-version 2019-01-01
                 Namespace=acs_learn, MetricName, Period, StartTime, EndTime, Dimensions, Length, NextToken
    POST /_emulator/load          {"group": "<endpoint>", "requests": 600, "seconds": 60}: synthetic traffic
    GET|POST /_emulator/cloudmonitor  {"base_period": 1}: read or set the finest Period answered

The official CMS SDK (`alibabacloud-cms20190101`) signs RPC calls with ACS3-HMAC-SHA256 on
`POST /`, parameters in the query and the operation in `x-acs-action`; that is verified here with
the management API's canonicaliser, against version 2019-01-01. Any other action on `/` goes to
the management API (which answers InvalidApi.NotFound). v1 query signing is not accepted.

Metrics (per service, dimensions `userId` and `serviceName`), with the statistics CloudMonitor
lists for each: `qps_total` and `rps_status_{2xx,4xx,5xx}` in requests/s (Value, Average, Maximum:
the busiest second), their `_ratio` in percent (Average = share of the period's requests; Maximum
and Minimum over the period's busy seconds), `rt` in microseconds (Average, Maximum, Minimum). No
percentile: CloudMonitor publishes none.

Choices where CloudMonitor's docs are silent or would slow tests:
- `Period` must be a multiple of the base period, 1 s by default (the cloud: 60 s). Setting
  `base_period` to 60 (admin call or `CloudMonitorSettings`) makes the emulator as strict as the cloud.
  Periods are aligned to the epoch; a datapoint's `timestamp` (ms) is the start of its period.
- StartTime is exclusive and EndTime inclusive, on datapoint timestamps (ms epoch, or
  `YYYY-MM-DD hh:mm:ss` / `YYYY-MM-DDThh:mm:ssZ` read as UTC). Defaults: the hour up to now.
- Only periods in which a service answered something have datapoints (no zero rows).
- An unknown namespace, metric or a bad parameter is HTTP 400 `InvalidParameter`.
- `Express` is ignored; `Length` defaults to 1000 (at most 1440); `NextToken` is an offset.
- Injected faults for operation `DescribeMetricList` apply (errors and delays; a drop answers 503).

Synthetic load accounts `requests` over the next `seconds` of emulated time and moves the clock
by `seconds`: at most 120 slices, each routed by the gateway's own smooth weighted round robin
with the members of that moment, each member answering per its `emulator/error-rate` and
`emulator/latency-ms` labels (the latency is recorded, not slept). Synthetic requests are counted
in `/metrics` too, so Prometheus sees them.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from pydantic import Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator import errors
from reconciler.emulator.admin import HTTP_METHODS, AdminGuard, _Strict, validated
from reconciler.emulator.auth import Verifier
from reconciler.emulator.faults import Faults
from reconciler.emulator.gateway import ERROR_RATE_LABEL, LATENCY_LABEL, Gateway, _label_float
from reconciler.emulator.intake import Gate
from reconciler.emulator.metrics import Metrics
from reconciler.emulator.responses import Call
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store
from reconciler.emulator.usage import Counts

ACTION = "DescribeMetricList"
API_VERSION = "2019-01-01"
NAMESPACE = "acs_learn"
DEFAULT_PERIOD = 60
MAX_LENGTH = 1440
MAX_SLICES = 120
_RATE = ("Value", "Average", "Maximum")
_RATIO = ("Average", "Minimum", "Maximum", "Value")
STATISTICS = {"qps_total": _RATE, "rps_status_2xx": _RATE, "rps_status_4xx": _RATE, "rps_status_5xx": _RATE,
              "rps_status_2xx_ratio": _RATIO, "rps_status_4xx_ratio": _RATIO, "rps_status_5xx_ratio": _RATIO,
              "rt": ("Average", "Maximum", "Minimum")}
ErrorRenderer = Callable[[errors.WireError], Response]
MAX_LOAD_REQUESTS = 20_000  # one synthetic-load call: ~0.4 s on one core (each request is routed for real)
MAX_LOAD_SECONDS = 86_400.0  # a day of emulated time per call


class LoadBody(_Strict):
    group: str = Field(min_length=1, max_length=256, description="a group name, or `<group>.<service>`")
    requests: int = Field(ge=0, le=MAX_LOAD_REQUESTS)
    seconds: float = Field(default=60.0, gt=0.0, le=MAX_LOAD_SECONDS)


class CloudMonitorBody(_Strict):
    base_period: int = Field(ge=1, le=3600)

Endpoint = Callable[[Request], Awaitable[Response]]


@dataclass
class CloudMonitorSettings:
    base_period: int = 1  # seconds; every Period answered is a multiple (the real CloudMonitor: 60)
    user_id: str = "1000000000000000"  # the account id shown in the userId dimension
    default_length: int = 1000


class CmsVerifier(Verifier):
    """The management API's ACS3 verification, for CloudMonitor's version and its one operation."""

    @staticmethod
    def _check_operation(values: dict[str, list[str]], operation: str) -> None:
        version = values["x-acs-version"][0].strip()
        if version != API_VERSION:
            raise errors.auth_error("InvalidVersion", f"Specified parameter Version {version} is not valid.")
        if values["x-acs-action"][0].strip() != operation:
            raise errors.auth_error("InvalidApi.NotFound", f"x-acs-action does not name {operation}.", 404)


def parse_time(value: str, name: str) -> float:
    """Epoch seconds of a CloudMonitor time parameter (ms epoch, or a UTC date-time)."""
    text = value.strip()
    if text.isdigit():
        return int(text) / 1000.0
    for layout in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(text, layout).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise errors.invalid_parameter(f"{name} {value!r} is neither a millisecond timestamp nor YYYY-MM-DD hh:mm:ss.")


def _dimensions(raw: str) -> list[dict[str, str]]:
    if not raw.strip():
        return [{}]
    try:
        value = json.loads(raw)
    except ValueError:
        raise errors.invalid_parameter("Dimensions must be JSON, e.g. [{\"serviceName\":\"pmml_grey\"}].") from None
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, dict) and all(isinstance(v, str) for v in i.values()) for i in items):
        raise errors.invalid_parameter("Dimensions must be a JSON object or a list of objects of strings.")
    return items


def _statistics(metric: str, counts: Counts, busy: list[Counts], period: int) -> dict[str, float]:
    """The datapoint values of one metric over one period from its total and its busy seconds."""
    if metric == "rt":
        return {"Average": counts.latency_sum / counts.requests * 1e6, "Maximum": counts.latency_max * 1e6,
                "Minimum": counts.latency_min * 1e6}
    cls = metric.removeprefix("rps_status_").removesuffix("_ratio")
    part: Callable[[Counts], int] = (lambda c: c.requests) if metric == "qps_total" else (
        lambda c: int(getattr(c, f"status_{cls}")))
    if metric.endswith("_ratio"):
        ratios = [100.0 * part(c) / c.requests for c in busy]
        average = 100.0 * part(counts) / counts.requests
        return {"Average": average, "Value": average, "Maximum": max(ratios), "Minimum": min(ratios)}
    average = part(counts) / period
    return {"Value": average, "Average": average, "Maximum": float(max(part(c) for c in busy))}


class CloudMonitor:
    """The CloudMonitor API and synthetic load of one emulator app."""

    def __init__(self, settings: EmulatorSettings, gateway: Gateway, faults: Faults, metrics: Metrics,
                 store: Store, cms: CloudMonitorSettings | None = None) -> None:
        self.settings = settings
        self.gateway = gateway
        self.faults = faults
        self.metrics = metrics
        self.cms = cms or CloudMonitorSettings()
        # CloudMonitor's own version and operation, the management API's signature, nonces and size limit
        self.gate = Gate(settings, CmsVerifier(settings, store))
        self._rng = random.Random(settings.seed)

    # DescribeMetricList ------------------------------------------------------------------
    def describe_metric_list(self, params: Mapping[str, str]) -> dict[str, Any]:
        """The answer body for `params` (HTTP-free; raises `WireError`)."""
        namespace, metric = params.get("Namespace", ""), params.get("MetricName", "")
        if not namespace or not metric:
            raise errors.missing("Namespace" if not namespace else "MetricName")
        if namespace != NAMESPACE:
            raise errors.invalid_parameter(f"Namespace {namespace} is not served here (only {NAMESPACE}).")
        if metric not in STATISTICS:
            raise errors.invalid_parameter(f"MetricName {metric} is not a metric of {NAMESPACE} here: "
                                           f"{', '.join(sorted(STATISTICS))}.")
        call = Call({}, dict(params), b"", "")
        period = call.int("Period", DEFAULT_PERIOD)
        if period <= 0 or period % self.cms.base_period:
            raise errors.invalid_parameter(f"Period {period} must be a positive multiple of "
                                           f"{self.cms.base_period} seconds.")
        end = parse_time(params["EndTime"], "EndTime") if params.get("EndTime") else self.gateway.usage.clock()
        start = parse_time(params["StartTime"], "StartTime") if params.get("StartTime") else end - 3600
        if start >= end or end - start > 31 * 86400:
            raise errors.invalid_parameter("StartTime must be before EndTime, at most 31 days apart.")
        length = call.int("Length", self.cms.default_length)
        offset = call.int("NextToken", 0)
        if not 1 <= length <= MAX_LENGTH or offset < 0:
            raise errors.invalid_parameter(f"Length must be 1..{MAX_LENGTH} and NextToken a token from an answer.")
        points = self._datapoints(metric, period, start, end, _dimensions(params.get("Dimensions", "")))
        page = points[offset:offset + length]
        body: dict[str, Any] = {"RequestId": str(uuid.uuid4()).upper(), "Code": "200", "Success": True,
                                "Period": str(period), "Datapoints": json.dumps(page)}
        if offset + length < len(points):
            body["NextToken"] = str(offset + length)
        return body

    def _datapoints(self, metric: str, period: int, start: float, end: float,
                    dimensions: list[dict[str, str]]) -> list[dict[str, Any]]:
        wanted = sorted({name for dim in dimensions if dim.get("userId", self.cms.user_id) == self.cms.user_id
                         for name in ([dim["serviceName"]] if "serviceName" in dim else self.gateway.usage.services())})
        # whole periods from the one holding `start` to the one holding `end`; the stamps are filtered below
        first, last = (math.floor(t / period) * period for t in (start, end))
        out: list[dict[str, Any]] = []
        for service in wanted:
            periods: dict[int, tuple[Counts, list[Counts]]] = {}
            for second, counts in self.gateway.usage.seconds(service, first, last + period):
                stamp = second - second % period
                total, busy = periods.setdefault(stamp, (Counts(), []))
                total.merge(counts)
                busy.append(counts)
            for stamp, (total, busy) in sorted(periods.items()):
                if start * 1000 < stamp * 1000 <= end * 1000:
                    values = _statistics(metric, total, busy, period)
                    out.append({"timestamp": stamp * 1000, "userId": self.cms.user_id, "serviceName": service,
                                **{k: values[k] for k in STATISTICS[metric]}})
        return out

    async def api(self, request: Request, fallback: Endpoint) -> Response:
        raw_query = bytes(request.scope.get("query_string", b"")).decode("latin-1")
        query = dict(parse_qsl(raw_query, keep_blank_values=True))
        if (request.headers.get("x-acs-action") or query.get("Action")) != ACTION:
            return await fallback(request)
        body = await self.gate.admit(request, ACTION)
        outcome = self.faults.decide(ACTION)
        if outcome.delay_ms:
            await asyncio.sleep(outcome.delay_ms / 1000.0)
        if outcome.fails:
            raise outcome.error or errors.server_error(503)
        form = dict(parse_qsl(body.decode("utf-8", "replace"))) if body else {}
        answer = self.describe_metric_list({**form, **query})
        self.metrics.api_call(ACTION, 200)
        return JSONResponse(answer)

    # synthetic load ------------------------------------------------------------------------
    def load(self, endpoint: str, requests: int, seconds: float) -> dict[str, Any]:
        """Route `requests` synthetic requests to `endpoint` over the next `seconds` of emulated time."""
        if self.gateway.backend.route(endpoint).kind == "none":
            raise errors.invalid_parameter(f"There is no service or group named [{endpoint}].")
        group = self.gateway.group_label(endpoint)
        slices = max(1, min(MAX_SLICES, math.ceil(seconds)))
        served: dict[str, dict[str, int]] = {}
        unanswered = 0
        for index in range(slices):
            count = requests * (index + 1) // slices - requests * index // slices
            start = self.gateway.backend.generation()[1]
            for k in range(count):
                unanswered += self._one(endpoint, group, start + (seconds / slices) * k / count, served)
            self.gateway.backend.advance_clock(seconds / slices)
        return {"Now": self.gateway.backend.generation()[1], "Requests": requests, "Served": served,
                "Unanswered": unanswered}

    def _one(self, endpoint: str, group: str, at: float, served: dict[str, dict[str, int]]) -> int:
        """Account one synthetic request at emulated time `at`; 1 when nobody could answer it."""
        target = self.gateway.choose(endpoint)
        if target is None:
            self.metrics.gateway(group, "", 503, 0.0)
            return 1
        status = 500 if self._rng.random() < _label_float(target, ERROR_RATE_LABEL) else 200
        latency = _label_float(target, LATENCY_LABEL) / 1000.0
        self.gateway.usage.record(target.name, status, latency, at=at)
        self.metrics.gateway(group, target.name, status, latency)
        tally = served.setdefault(target.name, {"requests": 0, "errors": 0})
        tally["requests"] += 1
        tally["errors"] += status >= 500
        return 0

    # HTTP ----------------------------------------------------------------------------------
    async def load_endpoint(self, request: Request, body: bytes) -> Response:
        valid = validated(LoadBody, body)
        return JSONResponse(self.load(valid.group, valid.requests, valid.seconds))

    async def settings_endpoint(self, request: Request, body: bytes) -> Response:
        if request.method == "POST":
            self.cms.base_period = validated(CloudMonitorBody, body).base_period
        return JSONResponse({"BasePeriod": self.cms.base_period, "UserId": self.cms.user_id})

    def routes(self, render_error: ErrorRenderer, fallback: Endpoint, admin_guard: AdminGuard) -> list[Route]:
        """`/` (CloudMonitor, else `fallback`) and the admin endpoints (signed like every admin call)."""
        async def api(request: Request) -> Response:
            try:
                return await self.api(request, fallback)
            except errors.WireError as exc:
                self.metrics.api_call(ACTION, exc.status)
                return render_error(exc)

        every = [*HTTP_METHODS]
        return [Route("/", api, methods=["GET", "POST"]),
                Route("/_emulator/load", admin_guard(self.load_endpoint), methods=every),
                Route("/_emulator/cloudmonitor", admin_guard(self.settings_endpoint), methods=every)]

