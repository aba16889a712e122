"""Real requests to a group's endpoint at a steady rate, for demos and end-to-end tests of rollouts.

`send_load` sends `rps` requests per second for `duration` seconds to `/api/predict/<group>` with the
group's AccessToken in `Authorization` (EAS's gateway wants the raw token), and tallies who answered
what: the emulator names the member that answered in the `x-eas-emulator-service` header (on a 500
injected by `emulator/error-rate` too). The traffic is what CloudMonitor and `/metrics` then count.

Bounds (a load generator must not become a flood by a typo): at most `MAX_RPS` requests per second,
`MAX_DURATION` seconds, `MAX_IN_FLIGHT` requests at once. Requests are started on a fixed schedule
(request i at i / rps seconds); when the target is slower than the schedule, requests wait for a
free slot rather than pile up, so the rate achieved can be lower than asked (the summary says it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx

from reconciler.errors import ConfigError, TransportError

MAX_RPS = 1000.0
MAX_DURATION = 3600.0
MAX_IN_FLIGHT = 64
UNANSWERED = "(no member)"  # refused or black-holed requests: no member named in the answer


@dataclass
class MemberTally:
    requests: int = 0
    errors: int = 0  # 5xx answers
    latency_total: float = 0.0  # seconds, as the load generator saw them

    @property
    def latency_avg(self) -> float:
        return self.latency_total / self.requests if self.requests else 0.0


@dataclass
class LoadSummary:
    sent: int = 0
    seconds: float = 0.0
    members: dict[str, MemberTally] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def check_bounds(rps: float, duration: float) -> None:
    if not 0 < rps <= MAX_RPS:
        raise ConfigError(f"--rps must be in (0, {MAX_RPS:g}], not {rps:g}")
    if not 0 < duration <= MAX_DURATION:
        raise ConfigError(f"--duration must be in (0, {MAX_DURATION:g}s], not {duration:g}s")


async def _one(http: httpx.AsyncClient, path: str, token: str, summary: LoadSummary) -> None:
    started = time.perf_counter()
    try:
        response = await http.post(path, content=b"{}", headers={"Authorization": token} if token else {})
    except httpx.HTTPError as exc:
        raise TransportError(f"cannot reach {http.base_url}: {type(exc).__name__}: {exc}") from None
    elapsed = time.perf_counter() - started
    member = response.headers.get("x-eas-emulator-service") or UNANSWERED
    tally = summary.members.setdefault(member, MemberTally())
    tally.requests += 1
    tally.errors += response.status_code >= 500
    tally.latency_total += elapsed
    summary.statuses[response.status_code] = summary.statuses.get(response.status_code, 0) + 1


async def send_load(http: httpx.AsyncClient, group: str, token: str, rps: float, duration: float, *,
                    clock: Callable[[], float] = time.monotonic) -> LoadSummary:
    """Send `rps` x `duration` requests to `group` (bounded: see the module docstring)."""
    check_bounds(rps, duration)
    path = f"/api/predict/{quote(group, safe='')}"
    summary = LoadSummary()
    slots = asyncio.Semaphore(MAX_IN_FLIGHT)
    tasks: set[asyncio.Task[None]] = set()
    failures: list[BaseException] = []

    async def guarded() -> None:
        try:
            await _one(http, path, token, summary)
        except TransportError as exc:
            failures.append(exc)
        finally:
            slots.release()

    start = clock()
    total = max(1, round(rps * duration))
    try:
        for i in range(total):
            if failures:
                raise failures[0]
            delay = start + i / rps - clock()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(guarded())
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            summary.sent += 1
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
    if failures:
        raise failures[0]
    summary.seconds = clock() - start
    return summary
