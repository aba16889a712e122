"""The cloudmonitor provider against the emulator's CloudMonitor: the official CMS SDK, the project's signed
client over HTTP, and the embedded emulator in-process; all read the same numbers."""

from __future__ import annotations

import asyncio
import json
import math
from typing import Any

import httpx
import pytest
from alibabacloud_cms20190101 import models as cms
from alibabacloud_cms20190101.client import Client
from alibabacloud_tea_openapi.models import Config
from emulator.helpers import FakeClock, Served

from reconciler.analysis.cloudmonitor import CloudMonitorProvider, SdkCms, open_cloudmonitor
from reconciler.analysis.gates import AnalysisSpec
from reconciler.analysis.judge import MemberSample, Verdict, judge_check
from reconciler.analysis.provider import Window, check_samples
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET, EmulatorSettings
from reconciler.errors import ApiError, AuthError, ConfigError
from reconciler.targets import local_credentials

from .conftest import clock_of, make_group

GATES = AnalysisSpec.model_validate({"interval": "4s", "min_requests": 50, "failure_limit": 2, "metrics": [
    {"name": "error_rate", "max": 1}, {"name": "error_rate", "max_over_baseline": 0.5},
    {"name": "latency_avg", "max": "300ms"}]})


def sdk(port: int, secret: str = LOCAL_ACCESS_KEY_SECRET) -> Any:
    return Client(Config(access_key_id=LOCAL_ACCESS_KEY_ID, access_key_secret=secret, endpoint=f"127.0.0.1:{port}",
                         protocol="http"))


def aligned_now(served: Served) -> float:
    """Move the emulated clock to the next whole minute (the served app's clock is shared by the session)."""
    now = served.admin("POST", "/_emulator/clock", {"advance": 0})["Now"]
    aligned: float = served.admin("POST", "/_emulator/clock", {"advance": (60 - now % 60) % 60})["Now"]
    return aligned


def loaded_group(served: Served, group: str, canary_labels: dict[str, str]) -> Window:
    """`group`: prod (3 instances, healthy, 20 ms) and grey (1 instance, `canary_labels`), 60 s of 800 requests."""
    make_group(served.app, group, {f"{group}_prod": (3, {"emulator/latency-ms": "20"}),
                                   f"{group}_grey": (1, canary_labels)})
    start = aligned_now(served)
    served.admin("POST", "/_emulator/load", {"group": group, "requests": 800, "seconds": 60})
    return Window(start, start + 60)


def test_official_sdk_reads_the_emulator(served: Served) -> None:
    window = loaded_group(served, "sdkraw", {"emulator/latency-ms": "150"})
    request = cms.DescribeMetricListRequest(namespace="acs_learn", metric_name="qps_total", period="60",
                                            start_time=str(int(window.start * 1000) - 1),
                                            end_time=str(int(window.end * 1000)),
                                            dimensions=json.dumps([{"serviceName": "sdkraw_grey"}]))
    body = sdk(served.port).describe_metric_list(request).body
    assert (body.success, body.code, body.period) == (True, "200", "60")
    points = json.loads(body.datapoints)
    assert [(p["serviceName"], p["timestamp"], p["Average"] * 60) for p in points] == [
        ("sdkraw_grey", int(window.start * 1000), pytest.approx(200))]
    rt = sdk(served.port).describe_metric_list(cms.DescribeMetricListRequest(
        namespace="acs_learn", metric_name="rt", period="60", start_time=request.start_time,
        end_time=request.end_time, dimensions=request.dimensions)).body
    assert json.loads(rt.datapoints)[0]["Average"] == pytest.approx(150_000)


def test_official_sdk_errors_are_wire_errors(served: Served) -> None:
    from alibabacloud_tea_openapi.exceptions import ClientException

    with pytest.raises(ClientException) as info:
        sdk(served.port).describe_metric_list(cms.DescribeMetricListRequest(
            namespace="acs_learn", metric_name="rt", period="7.5"))
    assert info.value.code == "InvalidParameter"
    with pytest.raises(ClientException) as bad_key:
        sdk(served.port, secret="wrong").describe_metric_list(cms.DescribeMetricListRequest(
            namespace="acs_learn", metric_name="rt"))
    assert bad_key.value.code == "SignatureDoesNotMatch"


def _fetch(provider: CloudMonitorProvider, group: str, window: Window) -> dict[str, MemberSample]:
    async def go() -> dict[str, MemberSample]:
        fetched = await provider.fetch(group, [f"{group}_grey", f"{group}_prod", f"{group}_none"], window)
        assert fetched.window == window
        return dict(fetched.samples)
    return asyncio.run(go())


def _via_url(served: Served, group: str, window: Window) -> dict[str, MemberSample]:
    async def go() -> dict[str, MemberSample]:
        async with open_cloudmonitor(served.base_url, "cn-shanghai") as provider:
            assert (provider.period, provider.lag) == (1, 0)
            fetched = await provider.fetch(group, [f"{group}_grey", f"{group}_prod", f"{group}_none"], window)
            return dict(fetched.samples)
    return asyncio.run(go())


def test_sdk_and_signed_client_read_the_same_samples(served: Served) -> None:
    window = loaded_group(served, "twoways", {"emulator/error-rate": "0.5", "emulator/latency-ms": "400"})
    through_sdk = _fetch(CloudMonitorProvider(SdkCms.for_endpoint(f"127.0.0.1:{served.port}", local_credentials(),
                                                                  protocol="http"), 60), "twoways", window)
    through_client = _via_url(served, "twoways", window)
    grey, prod = through_sdk["twoways_grey"], through_sdk["twoways_prod"]
    assert grey.requests == pytest.approx(200) and prod.requests == pytest.approx(600)
    assert 35 < (grey.error_rate or 0) < 65 and prod.error_rate == 0.0
    assert grey.latency_avg == pytest.approx(0.4) and prod.latency_avg == pytest.approx(0.02)
    assert through_sdk["twoways_none"] == MemberSample()  # no traffic: no data, not zeros
    for name in ("twoways_grey", "twoways_prod"):  # 1 s periods summed = one 60 s period
        assert through_client[name].requests == pytest.approx(through_sdk[name].requests)
        assert through_client[name].error_rate == pytest.approx(through_sdk[name].error_rate)
        assert through_client[name].latency_avg == pytest.approx(through_sdk[name].latency_avg)


def test_judged_end_to_end(served: Served) -> None:
    bad_window = loaded_group(served, "badgrey", {"emulator/error-rate": "0.5"})
    bad = _via_url(served, "badgrey", bad_window)
    bad_check = judge_check(check_samples_of(bad, "badgrey", bad_window), GATES)
    assert bad_check.verdict is Verdict.FAIL
    assert bad_check.measurements[0].canary is not None and bad_check.measurements[0].canary > 30
    good_window = loaded_group(served, "goodgrey", {"emulator/latency-ms": "50"})
    good = _via_url(served, "goodgrey", good_window)
    good_check = judge_check(check_samples_of(good, "goodgrey", good_window), GATES)
    assert good_check.verdict is Verdict.PASS, good_check.reason
    assert good_check.requests == pytest.approx(200) and good_check.baseline_requests == pytest.approx(600)


def check_samples_of(samples: dict[str, MemberSample], group: str, window: Window) -> Any:
    from reconciler.analysis.provider import Fetched

    return check_samples(Fetched(window, samples), f"{group}_grey", [f"{group}_prod"])


def test_embedded_emulator_in_process_and_window_alignment() -> None:
    app = create_app(EmulatorSettings(clock=FakeClock()))  # signatures verified, as on the wire
    make_group(app, "inproc", {"inproc_a": (1, {}), "inproc_b": (1, {"emulator/error-rate": "1"})})
    emulator = app.state.emulator
    start = emulator.backend.advance_clock(60 - clock_of(app)() % 60)
    emulator.cloudmonitor.load("inproc", 100, 10)

    async def go() -> Any:
        async with open_cloudmonitor("local", "cn-shanghai", transport=httpx.ASGITransport(app=app)) as provider:
            whole = await provider.fetch("inproc", ["inproc_a", "inproc_b"], Window(start, start + 10.7))
            half = await provider.fetch("inproc", ["inproc_b"], Window(start + 0.5, start + 5.2))
            empty = await provider.fetch("inproc", ["inproc_b"], Window(start + 0.2, start + 0.9))
            return whole, half, empty
    whole, half, empty = asyncio.run(go())
    assert whole.window == Window(start, start + 10)  # the period in progress is the next check's
    assert whole.samples["inproc_a"] == MemberSample(50, 0.0, 0.0)
    assert whole.samples["inproc_b"] == MemberSample(50, 100.0, 0.0)
    assert half.window == Window(start, start + 5) and half.samples["inproc_b"].requests == 25
    assert empty.samples == {"inproc_b": MemberSample()}


def test_local_needs_the_emulator_transport_and_errors_map() -> None:
    async def no_transport() -> None:
        async with open_cloudmonitor("local", "cn-shanghai"):
            pass
    with pytest.raises(ConfigError, match="pass its transport"):
        asyncio.run(no_transport())
    app = create_app(EmulatorSettings(clock=FakeClock()))

    async def bad(credentials: Any = None, period: int = 1) -> None:
        async with open_cloudmonitor("local", "cn-shanghai", transport=httpx.ASGITransport(app=app),
                                     credentials=credentials, period=period) as provider:
            await provider.fetch("g", ["x"], Window(0, 120))
    app.state.emulator.cloudmonitor.cms.base_period = 60
    with pytest.raises(ApiError, match="multiple of 60"):
        asyncio.run(bad(period=7))
    from reconciler.eas.auth import Credentials

    with pytest.raises(AuthError, match=r"InvalidAccessKeyId\.NotFound"):
        asyncio.run(bad(Credentials("nobody", "x"), 60))


class FakeCms:
    """A CloudMonitor answering fixed datapoints (what the real service could send: gaps, NaN, pages)."""

    def __init__(self, answers: dict[str, list[dict[str, Any]]], page: int = 2) -> None:
        self.answers = answers
        self.page = page
        self.calls: list[dict[str, str]] = []

    async def describe_metric_list(self, params: dict[str, str]) -> dict[str, Any]:
        self.calls.append(dict(params))
        points = self.answers.get(params["MetricName"], [])
        offset = int(params.get("NextToken", "0"))
        body: dict[str, Any] = {"Success": True, "Code": "200", "Datapoints": json.dumps(
            points[offset:offset + self.page])}
        if offset + self.page < len(points):
            body["NextToken"] = str(offset + self.page)
        return body

    async def aclose(self) -> None:
        return None


def _points(values: dict[int, float | None], key: str = "Average") -> list[dict[str, Any]]:
    return [{"timestamp": ms, "serviceName": "s", **({key: v} if v is not None else {})} for ms, v in values.items()]


def test_weighting_gaps_nan_and_paging() -> None:
    api = FakeCms({
        "qps_total": _points({0: 1.0, 60_000: 3.0, 120_000: 2.0, 180_000: 9.0}),  # 180 s is outside the window
        "rps_status_5xx_ratio": _points({0: 10.0, 60_000: 0.0}),  # no ratio for the third period
        "rt": _points({0: 100_000.0, 60_000: 200_000.0, 120_000: 400_000.0}),
    })
    sample = asyncio.run(CloudMonitorProvider(api, 60).fetch("g", ["s"], Window(0, 180))).samples["s"]
    assert sample.requests == pytest.approx(360)  # (1 + 3 + 2) x 60
    assert sample.error_rate == pytest.approx(10.0 * 60 / 240)  # weighted over the periods that have a ratio
    assert sample.latency_avg == pytest.approx((0.1 * 60 + 0.2 * 180 + 0.4 * 120) / 360)
    first = api.calls[0]
    assert (first["Namespace"], first["Period"], first["StartTime"], first["EndTime"]) == (
        "acs_learn", "60", "-1", "179999")
    assert json.loads(first["Dimensions"]) == [{"serviceName": "s"}]
    assert sum(1 for c in api.calls if c["MetricName"] == "qps_total") == 2  # followed NextToken
    broken = FakeCms({"qps_total": _points({0: 1.0}), "rps_status_5xx_ratio": _points({0: None}),
                      "rt": _points({0: 1.0})})
    nan = asyncio.run(CloudMonitorProvider(broken, 60).fetch("g", ["s"], Window(0, 60))).samples["s"]
    assert nan.requests == 60 and nan.error_rate is not None and math.isnan(nan.error_rate)
    assert judge_check(check_samples_of_single(nan), GATES).verdict is Verdict.FAIL


def check_samples_of_single(canary: MemberSample) -> Any:
    from reconciler.analysis.judge import CheckSamples

    return CheckSamples(canary, MemberSample(1000, 0.0, 0.01))


def test_refused_answers() -> None:
    class Failing(FakeCms):
        async def describe_metric_list(self, params: dict[str, str]) -> dict[str, Any]:
            return {"Success": False, "Code": "403", "Message": "no permission", "RequestId": "R1"}

    with pytest.raises(ApiError, match="no permission"):
        asyncio.run(CloudMonitorProvider(Failing({}), 60).fetch("g", ["s"], Window(0, 60)))
    with pytest.raises(ConfigError):
        CloudMonitorProvider(FakeCms({}), 0)


def test_provider_through_the_sdk_maps_errors(served: Served) -> None:
    provider = CloudMonitorProvider(SdkCms.for_endpoint(f"127.0.0.1:{served.port}", local_credentials(),
                                                        protocol="http"), 7)
    served.admin("POST", "/_emulator/cloudmonitor", {"base_period": 60})
    try:
        with pytest.raises(ApiError, match="InvalidParameter") as info:
            asyncio.run(provider.fetch("g", ["x"], Window(0, 70)))
        assert info.value.status == 400 and info.value.operation == "DescribeMetricList"
    finally:
        served.admin("POST", "/_emulator/cloudmonitor", {"base_period": 1})


class FakeChain:
    """Stands for the Alibaba Cloud credential chain (which reads the environment once, at import)."""

    def __init__(self, works: bool) -> None:
        self.works = works

    def get_credential(self) -> Any:
        if not self.works:
            raise RuntimeError("unable to load credentials from any of the providers in the chain")
        from alibabacloud_credentials.models import CredentialModel

        return CredentialModel(access_key_id="LTAI-test", access_key_secret="x", type="access_key")


def test_aliyun_uses_the_regional_endpoint() -> None:
    provider = CloudMonitorProvider(SdkCms.for_aliyun("cn-hangzhou", FakeChain(True)), 60)
    assert provider.api._client._endpoint == "metrics.cn-hangzhou.aliyuncs.com"  # type: ignore[attr-defined]


def test_aliyun_without_credentials_says_so() -> None:
    from reconciler.errors import CredentialsError

    with pytest.raises(CredentialsError, match="No Alibaba Cloud credentials found"):
        SdkCms.for_aliyun("cn-hangzhou", FakeChain(False))


def test_a_lag_never_shifts_the_window_read() -> None:
    # The lag is the caller's wait (the bake loop waits window end + lag); the provider reads the
    # window it is given, cut to whole periods, so nothing from before the window is judged.
    api = FakeCms({"qps_total": _points({0: 1.0, 60_000: 2.0, 120_000: 4.0})}, page=10)
    provider = CloudMonitorProvider(api, 60, lag=120)
    first = asyncio.run(provider.fetch("g", ["s"], Window(60, 120)))
    second = asyncio.run(provider.fetch("g", ["s"], Window(120, 180)))
    assert first.window == Window(60, 120) and second.window == Window(120, 180)
    assert (first.samples["s"].requests, second.samples["s"].requests) == (120, 240)
    assert provider.lag == 120
    with pytest.raises(ConfigError):
        CloudMonitorProvider(api, 60, lag=-1)


def test_aliyun_period_and_lag(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(SdkCms, "for_aliyun", classmethod(lambda cls, region: cls(None)))

    async def go() -> Any:
        async with open_cloudmonitor("aliyun", "cn-hangzhou") as provider:
            return provider
    provider = asyncio.run(go())
    assert (provider.period, provider.lag) == (60, 120)
