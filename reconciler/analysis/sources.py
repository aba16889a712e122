"""One entry point for the rollout runner: the provider an `AnalysisSpec` names, for a target.

`open_provider` refuses, before anything is read, an interval the target's source cannot serve
(`interval_problem`: under 60 s for CloudMonitor on the real cloud), and closes the provider's
connections on exit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx

from reconciler.analysis.cloudmonitor import open_cloudmonitor
from reconciler.analysis.gates import AnalysisSpec, ProviderName, interval_problem
from reconciler.analysis.prometheus import PrometheusProvider
from reconciler.analysis.provider import MetricsProvider
from reconciler.errors import ConfigError
from reconciler.target_names import TargetKind, resolve_target


@asynccontextmanager
async def open_provider(analysis: AnalysisSpec, target: str | None, region: str, *,
                        transport: httpx.AsyncBaseTransport | None = None,
                        env: Mapping[str, str] | None = None) -> AsyncIterator[MetricsProvider]:
    """The provider of `analysis` for `target`; `transport` reaches the embedded emulator (local target)."""
    problem = interval_problem(analysis, resolve_target(target, region).kind is TargetKind.ALIYUN)
    if problem:
        raise ConfigError(problem)
    if analysis.provider is ProviderName.CLOUDMONITOR:
        async with open_cloudmonitor(target, region, transport=transport) as cloudmonitor:
            yield cloudmonitor
        return
    assert analysis.prometheus is not None  # AnalysisSpec requires it with provider prometheus
    prometheus = PrometheusProvider.from_settings(analysis.prometheus, env)
    try:
        yield prometheus
    finally:
        await prometheus.aclose()
