"""The emulated autoscaler: the rule on the virtual clock, and a plan meeting a member it scaled."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reconciler.apply.runtime import VirtualTimer
from reconciler.cli.main import app as cli_app
from reconciler.emulator import autoscaler
from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import AutoscalerSettings, EmulatorSettings

from .helpers import FakeClock, make_backend

GROUP_FILE = """\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata: {name: shop, region: cn-shanghai}
spec:
  services:
    - name: shop_base
      replicas: 2
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://b/m.pmml", processor: pmml}
    - name: shop_burst
      autoscaling: {min: 1, max: 4, metric: qps, threshold: 2}
      resources: {instance_type: ecs.c7.large}
      model: {path: "oss://b/m.pmml", processor: pmml}
"""


def scaled_config(low: int = 1, high: int = 4, threshold: float = 2, **extra: Any) -> dict[str, Any]:
    return {"name": "burst", "processor": "pmml", "model_path": "oss://b/m",
            "metadata": {"instance": low, "cpu": 1, "memory": 100},
            "autoscaler": {"min": low, "max": high, "strategies": {"qps": threshold}, **extra}}


def instances(backend: Backend, name: str = "burst") -> int:
    """metadata.instance after a settle (DescribeService settles, the autoscaler included)."""
    return int(backend.describe_service("cn-shanghai", name).record.config["metadata"]["instance"])


def load(backend: Backend, clock: FakeClock, per_second: int, seconds: int, name: str = "burst") -> None:
    for _ in range(seconds):
        for _ in range(per_second):
            backend.note_request(name)
        clock.advance(1)


def test_qps_over_threshold_scales_up_then_down_after_the_stabilization_window(clock: FakeClock) -> None:
    backend = make_backend(clock)
    backend.create_service(scaled_config(), {})
    clock.advance(5)
    load(backend, clock, per_second=7, seconds=80)  # 7 QPS / 2 per instance -> 4 once the window is full
    assert instances(backend) == 4
    clock.advance(200)  # load gone, but within the 300 s scale-down stabilization window
    assert instances(backend) == 4
    clock.advance(200)
    assert instances(backend) == 1
    events = [(e["kind"], e["action"], e["detail"].get("Instance")) for e in backend.history()[0]]
    assert ("autoscale", "AutoScale", 4) in events and ("autoscale", "AutoScale", 1) in events
    assert backend.describe_service("cn-shanghai", "burst").record.latest_version == 1  # scales, no version


def test_max_caps_and_each_decision_happens_at_its_own_tick(clock: FakeClock) -> None:
    backend = make_backend(clock)
    backend.create_service(scaled_config(high=3, threshold=1), {})
    load(backend, clock, per_second=200, seconds=2)  # 400 requests: 6.7 QPS over the window, capped at 3
    clock.advance(3600)  # settled only now: the scale-up still happened at the first tick, then back down
    assert instances(backend) == 1
    ups = [e for e in backend.history()[0] if e["kind"] == "autoscale"]
    assert [e["detail"]["Instance"] for e in ups] == [3, 1]
    assert ups[0]["time"] - ups[0]["time"] % 15 == ups[0]["time"]  # on a multiple of the interval


def test_behavior_windows_and_settings_shape_the_rule(clock: FakeClock) -> None:
    fast = AutoscalerSettings(interval=5, window=10, scale_down_stabilization=0)
    backend = make_backend(clock, autoscaler=fast)
    backend.create_service(scaled_config(behavior={"scaleDown": {"stabilizationWindowSeconds": 30}}), {})
    load(backend, clock, per_second=8, seconds=10)
    assert instances(backend) == 4
    clock.advance(25)  # the config's 30 s window holds the count (the setting alone would not)
    assert instances(backend) == 4
    clock.advance(30)
    assert instances(backend) == 1


def test_a_member_without_autoscaler_or_a_non_qps_metric_is_left_alone(clock: FakeClock) -> None:
    backend = make_backend(clock)
    backend.create_service({**scaled_config(), "autoscaler": {"min": 1, "max": 4, "strategies": {"cpu": 50}}}, {})
    load(backend, clock, per_second=20, seconds=30)
    assert instances(backend) == 1


def test_decide_is_the_documented_rule() -> None:
    meter, s = autoscaler.LoadMeter(), AutoscalerSettings()
    scaler = autoscaler.Scaler(0, 10, {"QPS": 5.0})
    for t in range(100, 160):
        for _ in range(11):
            meter.hit("x", t)
    assert autoscaler.decide(scaler, 0, meter, "x", 159, s) == 3  # ceil(11 / 5), metric name in any case
    assert autoscaler.decide(scaler, 7, meter, "x", 159, s) == 3  # down to the highest recent recommendation
    assert autoscaler.decide(scaler, 3, meter, "x", 159 + 200, s) == 3  # load gone, 3 was recommended < 300 s ago
    assert autoscaler.decide(scaler, 3, meter, "x", 159 + 60 + 300 + 15, s) == 0
    assert autoscaler.decide(autoscaler.Scaler(1, 2, {"qps": 5.0}), 0, meter, "x", 159, s) == 2  # within max
    waking = autoscaler.Scaler(0, 9, {"qps": 500.0}, {"onZero": {"scaleUpActivationReplicas": 4}})
    assert autoscaler.decide(waking, 0, meter, "x", 159, s) == 4  # from 0: the activation replicas at least
    assert autoscaler.decide(waking, 1, meter, "x", 159, s) == 1


@pytest.mark.parametrize(("body", "code"), [
    ({"min": 1, "max": 1, "scaleStrategies": [{"metricName": "qps", "threshold": 1}]}, "InvalidParameter"),
    ({"min": 1, "max": 3, "scaleStrategies": [{"metricName": "qps", "threshold": 0}]}, "InvalidParameter"),
    ({"min": 1, "max": 3}, "MissingscaleStrategies"),
    ({"min": -1, "max": 3, "scaleStrategies": [{"metricName": "qps", "threshold": 1}]}, "InvalidParameter"),
])
def test_the_api_refuses_bad_bodies(clock: FakeClock, body: dict[str, Any], code: str) -> None:
    backend = make_backend(clock)
    backend.create_service({**scaled_config(), "autoscaler": None}, {})
    with pytest.raises(Exception) as refused:
        backend.create_service_autoscaler("cn-shanghai", "burst", body)
    assert getattr(refused.value, "code", "") == code


def test_a_malformed_autoscaler_in_a_config_is_refused(clock: FakeClock) -> None:
    backend = make_backend(clock)
    with pytest.raises(Exception) as refused:
        backend.create_service(scaled_config(low=3, high=2), {})
    assert getattr(refused.value, "code", "") == "InvalidParameter"


# A plan meets a member the autoscaler moved ------------------------------------------------


def _token(app: Any, endpoint: str) -> str:
    """The AccessToken `/api/predict/<endpoint>` takes where the gateway checks tokens ("" where it does not)."""
    return str(getattr(app.state.emulator.backend.route(endpoint), "token", ""))


async def _requests(app: Any, n: int, endpoint: str = "shop", status: int = 200) -> None:
    headers = {"Authorization": _token(app, endpoint)}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://emulator",
                                 headers=headers) as http:
        for _ in range(n):
            assert (await http.post(f"/api/predict/{endpoint}", content=b"{}")).status_code == status


def test_direct_requests_wake_a_member_scaled_to_zero() -> None:
    clock = FakeClock()
    emulator = create_app(EmulatorSettings(clock=clock, initial_traffic_state="grouping"))
    backend = emulator.state.emulator.backend
    backend.create_service({**scaled_config(low=0, high=3), "metadata": {"instance": 0, "cpu": 1, "memory": 100,
                                                                        "group": "wake"}}, {})
    asyncio.run(_requests(emulator, 5, "wake", status=503))  # the group has nobody to answer: not counted
    clock.advance(20)
    assert instances(backend) == 0
    asyncio.run(_requests(emulator, 5, "wake.burst", status=503))  # its direct endpoint: counted, unanswered
    clock.advance(20)
    assert instances(backend) == 1


def test_plan_after_the_autoscaler_scaled_a_member_shows_no_change(cli: tuple[Path, VirtualTimer],
                                                                 tmp_path: Path) -> None:
    state, timer = cli
    (tmp_path / "shop.yaml").write_text(GROUP_FILE, encoding="utf-8")
    runner = CliRunner()
    applied = runner.invoke(cli_app, ["apply", "shop.yaml", "--auto-approve", "--state", str(state)])
    assert applied.exit_code == 0, applied.output
    emulator = create_app(EmulatorSettings(state_path=state, clock=timer))
    asyncio.run(_requests(emulator, 600))  # 10 QPS over the 60 s window, a third of it to shop_burst
    timer.advance(30)
    burst = emulator.state.emulator.backend.describe_service("cn-shanghai", "shop_burst")
    assert burst.record.config["metadata"]["instance"] == 2  # moved by itself from min 1
    emulator.state.emulator.store.close()
    planned = runner.invoke(cli_app, ["plan", "shop.yaml", "--detailed-exitcode", "--state", str(state)])
    assert planned.exit_code == 0, planned.output
    assert "No changes" in planned.output


def test_a_config_in_the_api_list_form_is_accepted(clock: FakeClock) -> None:
    backend = make_backend(clock)
    listed = {"min": 1, "max": 4, "scaleStrategies": [{"metricName": "qps", "threshold": 2}]}
    backend.create_service({**scaled_config(), "autoscaler": listed}, {})
    load(backend, clock, per_second=7, seconds=80)
    assert instances(backend) == 4


def test_decisions_never_go_back_before_the_last_settle(clock: FakeClock) -> None:
    backend = make_backend(clock)
    backend.create_service({**scaled_config(), "metadata": {"instance": 3, "cpu": 1, "memory": 100}}, {})
    clock.advance(100)
    backend.update_service_label("cn-shanghai", "burst", {"a": "1"})  # a settle at t0 + 100
    settled = clock.now
    clock.advance(1)
    backend.note_request("burst")
    clock.advance(400)
    assert instances(backend) == 1  # 1 request: min; the count above it goes once the window allows
    events = backend.history()[0]
    times = [e["time"] for e in events]
    assert times == sorted(times)
    scale = next(e for e in events if e["kind"] == "autoscale")
    assert scale["time"] > settled
