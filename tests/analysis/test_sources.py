"""open_provider: the provider the spec names, the interval rule per target, and the emulator's base period."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from emulator.helpers import FakeClock

from reconciler.analysis.cloudmonitor import CloudMonitorProvider
from reconciler.analysis.gates import CLOUD_PERIOD, EMULATOR_PERIOD, AnalysisSpec
from reconciler.analysis.prometheus import PrometheusProvider
from reconciler.analysis.sources import open_provider
from reconciler.emulator.app import create_app
from reconciler.emulator.cloudmonitor import CloudMonitorSettings
from reconciler.emulator.settings import EmulatorSettings
from reconciler.errors import ConfigError

GATES = [{"name": "error_rate", "max": 1}]


def _open(spec: dict[str, Any], target: str, **kwargs: Any) -> Any:
    async def go() -> Any:
        async with open_provider(AnalysisSpec.model_validate(spec), target, "cn-shanghai", **kwargs) as provider:
            return provider
    return asyncio.run(go())


def test_cloudmonitor_for_local_and_url_targets() -> None:
    app = create_app(EmulatorSettings(clock=FakeClock()))
    local = _open({"interval": "4s", "metrics": GATES}, "local", transport=httpx.ASGITransport(app=app))
    assert isinstance(local, CloudMonitorProvider) and local.period == EMULATOR_PERIOD
    served = _open({"interval": "4s", "metrics": GATES}, "http://127.0.0.1:9")
    assert isinstance(served, CloudMonitorProvider) and served.period == 1


def test_aliyun_refuses_short_intervals_before_any_credential() -> None:
    with pytest.raises(ConfigError, match="shorter than the finest period of CloudMonitor on the aliyun target"):
        _open({"interval": "30s", "metrics": GATES}, "aliyun")


def test_prometheus_from_the_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = {"provider": "prometheus", "interval": "4s", "metrics": GATES,
            "prometheus": {"url": "http://127.0.0.1:9", "bearer_token_env": "PROM_TOKEN"}}
    assert isinstance(_open(spec, "aliyun", env={"PROM_TOKEN": "t"}), PrometheusProvider)  # no 60 s rule
    with pytest.raises(ConfigError, match="PROM_TOKEN"):
        _open(spec, "local", env={})


def test_emulator_base_period_is_the_one_validation_assumes() -> None:
    assert CloudMonitorSettings().base_period == EMULATOR_PERIOD and CLOUD_PERIOD == 60
