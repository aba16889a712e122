"""The `cloudmonitor` provider: CloudMonitor `DescribeMetricList` (API 2019-01-01), namespace `acs_learn`.

Per member and window it reads three metrics with dimension `serviceName` (CloudMonitor adds the
caller's `userId`): `qps_total` (requests/s), `rps_status_5xx_ratio` (percent) and `rt` (average,
microseconds). Each datapoint covers one `Period`; its request count is `qps_total` x Period, and
the window's error rate and mean latency are the periods' values weighted by those counts. No
percentile latency: CloudMonitor does not publish one for EAS.

Where the numbers come from, by target (`open_cloudmonitor`):
- `aliyun`: the official SDK `alibabacloud-cms20190101` (extra `aliyun`) at the regional endpoint
  the SDK knows (`metrics.<region>.aliyuncs.com`), credentials from the Alibaba Cloud default chain.
  Period 60 s: the finest CloudMonitor keeps for `acs_learn`.
- `http(s)://...` and `local`: the emulator at that same target (its CloudMonitor answers on `/`),
  through this project's ACS3 signer with version 2019-01-01. Period 1 s, the emulator's default.
  For `local` the caller passes the transport of the embedded emulator it already drives, since
  only that app has seen the traffic.

The window is narrowed to whole periods (`Window.aligned`): the period in progress belongs to the
next check. On the cloud a window's numbers are complete only `lag` seconds after it ends (default
120 s; CloudMonitor publishes a minute some time after it ends, and how long is not documented): the
provider reads exactly the window it is given and says its lag (`lag`), and the bake loop waits
until `window.end + lag` before it asks, so a check never judges traffic from before its window and
the end of a step is judged too. The emulator publishes at once (lag 0). The query asks for
`StartTime` = window start - 1 ms (CloudMonitor's start is exclusive) and keeps only datapoints
stamped inside the window. A datapoint without a number is broken data and reads as NaN (a failure
for the judge), never as 0.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, Protocol

import httpx

from reconciler.analysis.gates import CLOUD_PERIOD, EMULATOR_PERIOD
from reconciler.analysis.judge import MemberSample
from reconciler.analysis.provider import Fetched, Window
from reconciler.eas import errormap
from reconciler.eas.auth import AcsSigner, Credentials, StaticCredentials
from reconciler.eas.retry import RetrySettings
from reconciler.eas.transport import Caller, Request
from reconciler.errors import ApiError, ConfigError, CredentialsError, TransportError
from reconciler.target_names import TargetKind, resolve_target
from reconciler.targets import MISSING_ALIYUN_CREDENTIALS, local_credentials, url_credentials

ACTION = "DescribeMetricList"
API_VERSION = "2019-01-01"
NAMESPACE = "acs_learn"
REQUESTS, ERROR_RATIO, LATENCY = "qps_total", "rps_status_5xx_ratio", "rt"
CLOUD_LAG = 120.0  # seconds the real CloudMonitor may take to publish a minute (a choice: not documented)
PAGE_LENGTH = 1440  # the API's largest page
MAX_PAGES = 50


class CmsApi(Protocol):
    """One DescribeMetricList call: query parameters in, the answer body (a JSON object) out."""

    async def describe_metric_list(self, params: dict[str, str]) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


class SignedCms:
    """DescribeMetricList through this project's signed client (ACS3, version 2019-01-01, POST /)."""

    def __init__(self, base_url: str, credentials: Credentials, transport: httpx.AsyncBaseTransport | None = None,
                 settings: RetrySettings | None = None) -> None:
        settings = settings or RetrySettings()
        self._http = httpx.AsyncClient(base_url=base_url, transport=transport, trust_env=False,
                                       auth=AcsSigner(StaticCredentials(credentials), api_version=API_VERSION),
                                       timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout))
        self._caller = Caller(self._http, settings)

    async def describe_metric_list(self, params: dict[str, str]) -> dict[str, Any]:
        return await self._caller.call(Request(ACTION, "POST", "/", params))

    async def aclose(self) -> None:
        await self._http.aclose()


class SdkCms:
    """DescribeMetricList through the official SDK `alibabacloud-cms20190101`."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    def for_aliyun(cls, region: str, chain: Any = None) -> SdkCms:
        """The regional endpoint, credentials from the Alibaba Cloud default chain (`chain`: for tests)."""
        try:
            from alibabacloud_cms20190101.client import Client
            from alibabacloud_tea_openapi.models import Config
        except ImportError as exc:
            raise ConfigError("provider cloudmonitor on the aliyun target needs the CloudMonitor SDK: "
                              "pip install alibabacloud-cms20190101 "
                              "(or the aliyun extra: pip install -e '.[aliyun]' in a checkout)") from exc
        if chain is None:
            from alibabacloud_credentials.client import Client as CredentialClient

            chain = CredentialClient()
        try:
            chain.get_credential()  # fail now, in one sentence, rather than on the first check
        except Exception as exc:  # the chain raises its own exception types
            raise CredentialsError(MISSING_ALIYUN_CREDENTIALS) from exc
        return cls(Client(Config(credential=chain, region_id=region)))

    @classmethod
    def for_endpoint(cls, endpoint: str, credentials: Credentials, protocol: str = "https") -> SdkCms:
        """A fixed endpoint (`host:port`), e.g. a served emulator with `protocol` http."""
        from alibabacloud_cms20190101.client import Client
        from alibabacloud_tea_openapi.models import Config

        return cls(Client(Config(access_key_id=credentials.access_key_id,
                                 access_key_secret=credentials.access_key_secret,
                                 security_token=credentials.security_token, endpoint=endpoint, protocol=protocol)))

    async def describe_metric_list(self, params: dict[str, str]) -> dict[str, Any]:
        from alibabacloud_cms20190101 import models

        request = models.DescribeMetricListRequest(
            namespace=params.get("Namespace"), metric_name=params.get("MetricName"), period=params.get("Period"),
            start_time=params.get("StartTime"), end_time=params.get("EndTime"),
            dimensions=params.get("Dimensions"), length=params.get("Length"), next_token=params.get("NextToken"))
        try:
            response = await self._client.describe_metric_list_async(request)
        except Exception as exc:  # the SDK's exceptions carry status, code and message
            raise _sdk_error(exc) from exc
        body: dict[str, Any] = response.body.to_map()
        return body

    async def aclose(self) -> None:
        return None


def _sdk_error(exc: Exception) -> ApiError | TransportError:
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "code", None)
    if not isinstance(status, int) or not code:
        return TransportError(f"{ACTION}: CloudMonitor did not answer ({type(exc).__name__})")
    cls = errormap.error_class(status, str(code), str(code).startswith("Throttling"))
    return cls(status, str(code), str(getattr(exc, "message", "") or ""), str(getattr(exc, "request_id", "") or ""),
               ACTION)


def _number(point: dict[str, Any], key: str) -> float:
    value = point.get(key)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else math.nan


class CloudMonitorProvider:
    """Samples per member from CloudMonitor datapoints of `period` seconds."""

    def __init__(self, api: CmsApi, period: int, lag: float = 0.0) -> None:
        if period < 1 or lag < 0:
            raise ConfigError(f"a CloudMonitor period must be a whole number of seconds >= 1 and its lag >= 0 "
                              f"(got {period}, {lag})")
        self.api = api
        self.period = period
        self.lag = lag

    async def _datapoints(self, metric: str, service: str, window: Window) -> dict[int, dict[str, Any]]:
        """The datapoints of `metric` for `service` stamped inside `window`, by timestamp (ms)."""
        params = {"Namespace": NAMESPACE, "MetricName": metric, "Period": str(self.period),
                  "StartTime": str(int(window.start * 1000) - 1), "EndTime": str(int(window.end * 1000) - 1),
                  "Dimensions": json.dumps([{"serviceName": service}]), "Length": str(PAGE_LENGTH)}
        found: dict[int, dict[str, Any]] = {}
        for _ in range(MAX_PAGES):
            body = await self.api.describe_metric_list(params)
            if body.get("Success") is False:
                raise ApiError(200, str(body.get("Code", "")), str(body.get("Message", "")),
                               str(body.get("RequestId", "")), ACTION)
            for point in json.loads(body.get("Datapoints") or "[]"):
                stamp = point.get("timestamp")
                if isinstance(stamp, int) and point.get("serviceName", service) == service and (
                        window.start * 1000 <= stamp < window.end * 1000):
                    found[stamp] = point
            token = body.get("NextToken")
            if not token:
                return found
            params["NextToken"] = str(token)
        raise ApiError(200, "TooManyPages", f"more than {MAX_PAGES} pages of datapoints", "", ACTION)

    async def _member(self, service: str, window: Window) -> MemberSample:
        qps, ratio, rt = await asyncio.gather(*(self._datapoints(m, service, window)
                                               for m in (REQUESTS, ERROR_RATIO, LATENCY)))
        counts = {stamp: _number(p, "Average") * self.period for stamp, p in qps.items()}
        if not counts:
            return MemberSample()
        requests = math.fsum(counts.values())

        def weighted(points: dict[int, dict[str, Any]], scale: float) -> float | None:
            pairs = [(_number(points[s], "Average") * scale, n) for s, n in counts.items() if s in points and n > 0]
            if any(math.isnan(v) for v, _ in pairs) or math.isnan(requests):
                return math.nan
            total = math.fsum(n for _, n in pairs)
            return math.fsum(v * n for v, n in pairs) / total if total > 0 else None

        return MemberSample(requests, weighted(ratio, 1.0), weighted(rt, 1e-6))

    async def fetch(self, group: str, services: Sequence[str], window: Window) -> Fetched:
        aligned = window.aligned(self.period)
        if aligned.end <= aligned.start:
            return Fetched(aligned, {name: MemberSample() for name in services})
        samples = await asyncio.gather(*(self._member(name, aligned) for name in services))
        return Fetched(aligned, dict(zip(services, samples, strict=True)))

    async def aclose(self) -> None:
        await self.api.aclose()


@asynccontextmanager
async def open_cloudmonitor(target: str | None, region: str, *, transport: httpx.AsyncBaseTransport | None = None,
                            credentials: Credentials | None = None,
                            period: int | None = None, lag: float | None = None) -> AsyncIterator[CloudMonitorProvider]:
    """The CloudMonitor of `target` (see the module docstring), closed on exit."""
    resolved = resolve_target(target, region)
    api: CmsApi
    if resolved.kind is TargetKind.ALIYUN:
        api, default = SdkCms.for_aliyun(region), int(CLOUD_PERIOD)
    elif resolved.kind is TargetKind.URL:
        api = SignedCms(resolved.base_url, credentials or url_credentials(resolved), transport)
        default = int(EMULATOR_PERIOD)
    else:
        if transport is None:
            raise ConfigError("the local target's CloudMonitor is the embedded emulator that routed the traffic: "
                              "pass its transport")
        api, default = SignedCms(resolved.base_url, credentials or local_credentials(), transport), int(EMULATOR_PERIOD)
    cloud = resolved.kind is TargetKind.ALIYUN
    provider = CloudMonitorProvider(api, period or default, CLOUD_LAG if lag is None and cloud else lag or 0.0)
    try:
        yield provider
    finally:
        await provider.aclose()
