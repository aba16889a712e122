"""A fast in-process world for apply tests: emulator apps per region on a VirtualTimer, no real sleeps.

Its links also read each app's own CloudMonitor, so a release's bakes can be judged in process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.apply import ApplySettings, Executor, Journal, Link, VirtualTimer, connect_all
from reconciler.apply.report import ApplyReport, Progress, no_progress
from reconciler.apply.runtime import Connector, http_smoke, metrics_opener
from reconciler.desired.loader import load_paths
from reconciler.desired.model import ServiceGroup
from reconciler.eas.auth import StaticCredentials
from reconciler.eas.retry import RetrySettings
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings
from reconciler.live.model import LiveState
from reconciler.live.read import read_live
from reconciler.plan.build import build_plan
from reconciler.plan.model import Plan
from reconciler.target_names import LOCAL_BASE_URL
from reconciler.targets import local_credentials, open_client

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "groups"
# Throttle waits are sent in milliseconds by the emulator; keep retries fast but real.
RETRY = RetrySettings(attempts=8, base=0.05, cap=0.5, retry_after_unit=0.001, rate_limit=0)


class World:
    """One emulator app per region over a shared clock; `connector` gives apply its links."""

    def __init__(self, initial: str = "standalone", state: Path | None = None, **overrides: Any) -> None:
        self.timer = VirtualTimer()
        self.initial, self.state, self.overrides = initial, state, overrides
        self.apps: dict[str, Any] = {}

    def settings(self, region: str) -> EmulatorSettings:
        return EmulatorSettings(state_path=self.state, region=region, clock=self.timer,
                                initial_traffic_state=self.initial, **self.overrides)  # type: ignore[arg-type]

    def app(self, region: str) -> Any:
        if region not in self.apps:
            self.apps[region] = create_app(self.settings(region))
        return self.apps[region]

    def emulator(self, region: str) -> Any:
        return self.app(region).state.emulator

    @asynccontextmanager
    async def link(self, region: str) -> AsyncIterator[Link]:
        transport = httpx.ASGITransport(app=self.app(region))
        async with (open_client("local", region, transport=transport, settings=RETRY, sleep=self.timer.sleep,
                                clock=self.timer.now, credentials=StaticCredentials(local_credentials())) as client,
                    httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL) as http):
            yield Link(region, client, http_smoke(client, http), metrics_opener("local", region, transport))

    @property
    def connector(self) -> Connector:
        return self.link

    def history(self, region: str = "cn-shanghai") -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        events, timeline, _ = self.emulator(region).backend.history(None)
        shares: dict[str, list[dict[str, Any]]] = {}
        for snap in timeline:
            shares.setdefault(snap["group"], []).append(snap)
        return events, shares

    def writes(self, region: str = "cn-shanghai") -> list[dict[str, Any]]:
        return [e for e in self.history(region)[0] if e["kind"] == "write"]

    # ---- plan / apply ------------------------------------------------------------------------------------

    async def live(self, regions: Sequence[str]) -> LiveState:
        async with connect_all(self.connector, regions) as links:
            return await read_live({r: link.client for r, link in links.items()})

    async def plan(self, groups: Sequence[ServiceGroup], regions: Sequence[str] | None = None,
                   **options: Any) -> tuple[Plan, LiveState]:
        regions = regions or sorted({g.region for g in groups})
        live = await self.live(regions)
        return build_plan(list(groups), live, **options), live

    async def apply(self, plan: Plan, live: LiveState, *, progress: Progress = no_progress,
                    **settings: Any) -> ApplyReport:
        regions = sorted({g.region for g in plan.groups})
        async with connect_all(self.connector, regions) as links:
            executor = Executor(links, self.timer, settings=ApplySettings(poll_interval=1.0, **settings),
                                journal=Journal(None), progress=progress)
            return await executor.run(plan, live)

    async def converge(self, groups: Sequence[ServiceGroup], **settings: Any) -> ApplyReport:
        plan, live = await self.plan(groups)
        return await self.apply(plan, live, **settings)


def load(*paths: Path) -> list[ServiceGroup]:
    return [g.group for g in load_paths(list(paths))]


def run(coro: Any) -> Any:
    return asyncio.run(coro)
