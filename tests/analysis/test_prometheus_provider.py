"""The prometheus provider against a real Prometheus (its own process on a free loopback port) scraping the
served emulator every second; plus the HTTP details (token, errors) against a mock transport."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from emulator.helpers import Served, endpoint_token

from reconciler.analysis.gates import AnalysisSpec, PrometheusSettings, QueryName
from reconciler.analysis.judge import Verdict, judge_check
from reconciler.analysis.prometheus import PrometheusProvider, render
from reconciler.analysis.provider import Window, check_samples
from reconciler.errors import ApiError, AuthError, ConfigError, TransportError

from .conftest import make_group

PROMETHEUS = shutil.which("prometheus")
GROUP = "promg"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait(predicate: Any, what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:g}s waiting for {what}")


@pytest.fixture(scope="module")
def prometheus(served: Served, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Prometheus of our own (never the packaged daemon) scraping the served emulator's /metrics each second."""
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus; .ci/run installs it)")
    root: Path = tmp_path_factory.mktemp("prometheus")
    config = root / "prometheus.yml"
    config.write_text(json.dumps({  # JSON is YAML
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "scrape_configs": [{"job_name": "emulator", "metrics_path": "/metrics",
                            "static_configs": [{"targets": [f"127.0.0.1:{served.port}"]}]}],
    }))
    port = _free_port()
    process = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={root / 'data'}",
         f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False
    try:
        _wait(ready, "Prometheus to start")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _instant(url: str, promql: str) -> float:
    result = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=5).json()["data"]["result"]
    return float(result[0]["value"][1]) if result else 0.0


@pytest.mark.slow
def test_real_prometheus_scraping_the_served_emulator(served: Served, prometheus: str) -> None:
    make_group(served.app, GROUP, {f"{GROUP}_prod": (3, {"emulator/latency-ms": "20"}),
                                   f"{GROUP}_grey": (1, {"emulator/error-rate": "0.5", "emulator/latency-ms": "400"})})
    served.admin("POST", "/_emulator/load", {"group": GROUP, "requests": 8, "seconds": 1})  # the series exist
    total = f'sum(eas_emulator_gateway_requests_total{{group="{GROUP}"}})'
    _wait(lambda: _instant(prometheus, total) >= 8, "the first scrape")  # ~5 s: Prometheus's discovery delay
    start = time.time()
    time.sleep(1.2)  # a scrape inside the window still sees the counters before the load
    served.admin("POST", "/_emulator/load", {"group": GROUP, "requests": 800, "seconds": 60})
    token = {"Authorization": endpoint_token(served.app, GROUP)}
    real = [httpx.post(f"{served.base_url}/api/predict/{GROUP}", content=b"{}", headers=token,
                       timeout=10).status_code for _ in range(8)]
    assert set(real) <= {200, 500}
    _wait(lambda: _instant(prometheus, total) >= 816, "the load to be scraped")
    time.sleep(1.2)
    window = Window(start, time.time())

    async def go() -> Any:
        provider = PrometheusProvider.from_settings(PrometheusSettings(url=prometheus))
        try:
            return await provider.fetch(GROUP, [f"{GROUP}_grey", f"{GROUP}_prod", f"{GROUP}_none"], window)
        finally:
            await provider.aclose()
    fetched = asyncio.run(go())
    grey, prod, none = (fetched.samples[f"{GROUP}_{n}"] for n in ("grey", "prod", "none"))
    # increase() extrapolates to the window's edges: counts are close, not exact; ratios are exact
    assert 150 < (grey.requests or 0) < 320 and 450 < (prod.requests or 0) < 950
    assert 30 < (grey.error_rate or 0) < 70 and prod.error_rate == 0.0
    assert grey.latency_avg == pytest.approx(0.4, rel=0.05) and prod.latency_avg == pytest.approx(0.02, rel=0.3)
    assert (none.requests, none.error_rate, none.latency_avg) == (None, None, None)
    gates = AnalysisSpec.model_validate({"provider": "prometheus", "prometheus": {"url": prometheus},
                                         "min_requests": 50, "interval": "4s",
                                         "metrics": [{"name": "error_rate", "max": 1}]})
    verdict = judge_check(check_samples(fetched, f"{GROUP}_grey", [f"{GROUP}_prod"]), gates)
    assert verdict.verdict is Verdict.FAIL and "over the limit" in verdict.reason


def test_real_prometheus_refuses_bad_queries(prometheus: str) -> None:
    async def ask(promql: str) -> float | None:
        provider = PrometheusProvider(prometheus)
        try:
            return await provider.query(promql, time.time())
        finally:
            await provider.aclose()
    with pytest.raises(ApiError, match="bad_data"):
        asyncio.run(ask("sum(rate(x[5m]"))
    _wait(lambda: _instant(prometheus, "count(up)") >= 1, "a scrape")
    with pytest.raises(ConfigError, match="not one number"):
        asyncio.run(ask('{__name__=~"eas_emulator_.*"}'))
    assert asyncio.run(ask("vector(2) * 3")) == 6.0
    assert asyncio.run(ask("scalar(vector(1))")) == 1.0
    assert asyncio.run(ask('sum(nothing_here{a="b"})')) is None


def test_render_fills_placeholders_and_escapes() -> None:
    window = Window(100, 104.4)
    assert render('x{service="{{service}}",group="{{ group }}"}[{{interval}}]', 'a"b', "g", window) == \
        'x{service="a\\"b",group="g"}[4s]'
    assert render("[{{interval}}]", "s", "g", Window(0, 0.2)) == "[1s]"


def _mock(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_token_from_environment_and_error_mapping() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.headers.get("authorization") != "Bearer s3cret":
            return httpx.Response(401, json={"status": "error", "errorType": "unauthorized", "error": "no token"})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {}, "value": [1, "NaN"]}]}})

    settings = PrometheusSettings(url="http://prom.example:9090/", bearer_token_env="PROM_TOKEN",
                                  queries={QueryName.REQUESTS: 'count(x{service="{{service}}"})'})
    provider = PrometheusProvider.from_settings(settings, env={"PROM_TOKEN": "s3cret"}, transport=_mock(handler))
    assert "s3cret" not in repr(provider)
    sample = asyncio.run(provider.fetch("g", ["s"], Window(0, 60))).samples["s"]
    assert sample.requests is not None and sample.requests != sample.requests  # NaN answered is NaN, not a pass
    sent = sorted(r.url.params["query"] for r in seen)
    assert 'count(x{service="s"})' in sent and all(r.url.params["time"] == "60.000" for r in seen)
    with pytest.raises(ConfigError, match="PROM_TOKEN, which is not set"):
        PrometheusProvider.from_settings(settings, env={})
    anonymous = PrometheusProvider(settings.url, transport=_mock(handler))
    with pytest.raises(AuthError, match="no token"):
        asyncio.run(anonymous.query("up", 0))

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")
    with pytest.raises(TransportError):
        asyncio.run(PrometheusProvider(settings.url, transport=_mock(down)).query("up", 0))
