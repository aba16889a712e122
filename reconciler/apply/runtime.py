"""How apply reaches EAS and time: one `Link` (client + smoke tester) per region, and a `Timer`.

`target_connector` builds links for a CLI target:
- local: the embedded emulator in-process (`reconciler.targets.local_app`: one app per region
  over the same SQLite state file); smoke tests go to the same app's gateway in-process.
- http(s)://host:port: the served emulator or an EAS-compatible URL; smoke tests go to
  `<url>/api/predict/<group>.<service>`.
- Every target: the smoke request carries the service's AccessToken (DescribeService) as the raw
  `Authorization` header, as EAS's gateway wants it; the token is never logged or put in an error.
- aliyun: smoke tests go to `<scheme://host of the service's InternetEndpoint (else
  IntranetEndpoint) from DescribeService>/api/predict/<group>.<service>`, with the service's
  AccessToken in the `Authorization` header.

A smoke test's `path` is appended to the direct endpoint unless it is `/` (the endpoint itself).
`Timer` (`reconciler.clock`) is injectable: tests pass a
`VirtualTimer` whose `sleep` advances the emulated clock, so nothing really sleeps and the
emulator (`EmulatorSettings.clock=timer`) sees the same time.
`Timer.now` measures durations (monotonic); `Timer.epoch` is the wall clock a rollout reads its
metric windows and writes its progress label on (unix seconds; the emulated time with a VirtualTimer).

A link also opens the metrics provider a rollout's analysis names (`Link.metrics`), for the same
target: on `local` the CloudMonitor queried is the embedded emulator's own app (same transport),
since only that app has seen the traffic.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from reconciler.analysis.gates import AnalysisSpec
from reconciler.analysis.provider import MetricsProvider
from reconciler.analysis.sources import open_provider
from reconciler.clock import Timer
from reconciler.eas.client import EasClient
from reconciler.eas.retry import RetrySettings
from reconciler.errors import TransportError
from reconciler.target_names import LOCAL_BASE_URL, TargetKind, resolve_target
from reconciler.targets import close_local_app, local_app, open_client

SmokeTester = Callable[[str, str, str, str | None], Awaitable[int]]  # (group, service, path, body) -> HTTP status
MetricsOpener = Callable[[AnalysisSpec], AbstractAsyncContextManager[MetricsProvider]]
SMOKE_TIMEOUT = 30.0


class VirtualTimer:
    """Emulated time for tests and benchmarks: nothing really sleeps, and time moves only when idle.

    `sleep` parks the caller until the virtual clock reaches its wake-up time; a driver task moves
    the clock to the earliest wake-up only once every other task of the event loop is blocked (the
    loop has nothing ready to run), so concurrent work between two sleeps takes no virtual time,
    as it takes next to no real time. In-process only (ASGI transport, no real I/O to wait for).
    Also usable as the emulator's clock (`EmulatorSettings(clock=timer)`): calling it returns now.
    """

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.t = start
        self.slept = 0.0  # total virtual seconds the clock was moved by sleeps
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._driver: asyncio.Task[None] | None = None

    def __call__(self) -> float:
        return self.t

    def now(self) -> float:
        return self.t

    def epoch(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)

    async def sleep(self, seconds: float) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._sleepers, (self.t + max(seconds, 0.0), self._seq, future))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.create_task(self._drive())
        await future

    async def _drive(self) -> None:
        loop = asyncio.get_running_loop()
        while self._sleepers:
            await asyncio.sleep(0)
            if getattr(loop, "_ready", ()):  # someone can still run: let them, time stands still
                continue
            wake, _, future = heapq.heappop(self._sleepers)
            if future.cancelled():
                continue
            if wake > self.t:
                self.slept += wake - self.t
                self.t = wake
            future.set_result(None)


@dataclass
class Link:
    """What apply needs of one region."""

    region: str
    client: EasClient
    smoke: SmokeTester
    metrics: MetricsOpener | None = None  # None: this link cannot run a rollout's analysis


def metrics_opener(target: str | None, region: str, transport: httpx.AsyncBaseTransport | None) -> MetricsOpener:
    """The provider an analysis names, on `target` (`transport`: the embedded emulator of `local`)."""
    def opener(analysis: AnalysisSpec) -> AbstractAsyncContextManager[MetricsProvider]:
        return open_provider(analysis, target, region, transport=transport)
    return opener


Connector = Callable[[str], AbstractAsyncContextManager[Link]]


@asynccontextmanager
async def connect_all(connector: Connector, regions: Iterable[str]) -> AsyncIterator[dict[str, Link]]:
    """A link per region, all closed on exit."""
    async with AsyncExitStack() as stack:
        links = {r: await stack.enter_async_context(connector(r)) for r in sorted(set(regions))}
        yield links


def direct_path(group: str, service: str, path: str) -> str:
    tail = "" if path in ("", "/") else path
    return f"/api/predict/{quote(group, safe='')}.{quote(service, safe='')}{tail}"


def _token_header(token: str) -> dict[str, str]:
    return {"Authorization": token} if token else {}


def http_smoke(client: EasClient, http: httpx.AsyncClient) -> SmokeTester:
    """Smoke tests through `http` (its base URL is the gateway), with the service's token (DescribeService)."""
    async def smoke(group: str, service: str, path: str, body: str | None) -> int:
        url = direct_path(group, service, path)
        headers = _token_header((await client.describe_service(service)).access_token)
        try:
            if body is None:
                response = await http.get(url, headers=headers)
            else:
                response = await http.post(url, content=body.encode(), headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"smoke test {group}.{service}: {type(exc).__name__}: {exc}") from exc
        return response.status_code
    return smoke


def aliyun_smoke(client: EasClient, http: httpx.AsyncClient) -> SmokeTester:
    """Smoke tests on the service's own endpoint, with its token (DescribeService)."""
    async def smoke(group: str, service: str, path: str, body: str | None) -> int:
        live = await client.describe_service(service)
        endpoint = urlsplit(live.internet_endpoint or live.intranet_endpoint)
        if not endpoint.netloc:
            raise TransportError(f"smoke test {group}.{service}: DescribeService gave no endpoint")
        headers = _token_header(live.access_token)
        url = f"{endpoint.scheme}://{endpoint.netloc}{direct_path(group, service, path)}"
        try:
            response = await http.request("POST" if body is not None else "GET", url,
                                          content=body.encode() if body is not None else None, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"smoke test {group}.{service}: {type(exc).__name__}") from exc
        return response.status_code
    return smoke


def target_connector(target: str | None, *, state: Path | None = None, vpc: bool = False,
                     retry: RetrySettings | None = None, emulator: Callable[[str], Any] | None = None,
                     timer: Timer | None = None) -> Connector:
    """Links for a CLI target. `emulator(region)` gives the local target's EmulatorSettings (tests);
    `timer` sleeps the client's retries (tests: a VirtualTimer)."""

    @asynccontextmanager
    async def connect(region: str) -> AsyncIterator[Link]:
        kind = resolve_target(target, region, vpc)
        extra: dict[str, Any] = {}
        if timer is not None:
            extra.update(sleep=timer.sleep, clock=timer.now)
        app = local_app(state, emulator(region) if emulator else None, region) if kind.kind is TargetKind.LOCAL \
            else None
        transport = httpx.ASGITransport(app=app) if app is not None else None
        try:
            async with open_client(target, region, state=state, vpc=vpc, settings=retry, transport=transport,
                                   **extra) as client:
                if kind.kind is TargetKind.ALIYUN:
                    async with httpx.AsyncClient(timeout=SMOKE_TIMEOUT) as http:
                        yield Link(region, client, aliyun_smoke(client, http), metrics_opener(target, region, None))
                else:
                    base = LOCAL_BASE_URL if transport is not None else kind.base_url
                    async with httpx.AsyncClient(transport=transport, base_url=base, timeout=SMOKE_TIMEOUT) as http:
                        yield Link(region, client, http_smoke(client, http),
                                   metrics_opener(target, region, transport))
        finally:
            if app is not None:
                close_local_app(app)
    return connect

