"""Read-back: checking a step's `Expect` against what EAS lists, and one shared poller per region.

`Observer.wait` parks a waiter until its predicate holds on the service as listed. One poll task
per region serves every waiter of every group: each round it sleeps `interval`, then lists, and
settles every waiter from that round's listings. A round lists whichever costs fewer pages (round
trips) of ListServices:
- one listing per waiting group (`GroupName=<group>`, concurrently): pages of the waiting groups'
  members only, whatever else the region holds: 2 groups waiting in a region of 10,000 services
  cost 2 calls a round, not the 100 pages of the whole region;
- or one listing of the whole region, when that is fewer pages: 50 new groups waiting in a region
  of 100 services cost 1 call a round, not 50.
Either way one listing per round serves every waiting service of a group, never one per service.
The choice uses the sizes seen last (a group's members as listed; the region's size from the
whole-region listing, or from `region_size`, which the executor sets from the plan's read plus the
services it creates): an estimate only moves the cost, never the outcome, because a waiter finds
its service only among its own group's members in both forms. A service is never moved between
groups (the planner refuses that), so one that left its group counts as absent.
A waiter that names no group (apply always names one; kept for callers that know only a name) gets
a `ServiceName=<name>` listing of its own.
A waiter fails at once when its service reaches a failed status, and at its deadline otherwise;
both messages name the service, its status and EAS's Reason.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from reconciler.clock import Timer
from reconciler.desired.model import TrafficMode
from reconciler.eas.client import DEFAULT_PAGE_SIZE, EasClient
from reconciler.eas.models import Service
from reconciler.errors import ApplyError
from reconciler.live.model import ServiceStatus
from reconciler.live.read import list_services, live_service
from reconciler.plan.model import Expect

Predicate = Callable[[Service | None], str | None]  # None: satisfied; else what is still missing
FAILED = frozenset({ServiceStatus.FAILED, ServiceStatus.DELETE_FAILED, ServiceStatus.STOPPED})
GOING = frozenset({ServiceStatus.DELETING, ServiceStatus.DELETED})


def describe(svc: Service | None) -> str:
    if svc is None:
        return "absent"
    running = f"{svc.running_instance}/{svc.total_instance} running"
    reason = f", Reason: {svc.reason}" if svc.reason else ""
    message = f" ({svc.message})" if svc.message and svc.message != svc.reason else ""
    return f"status {svc.status or '?'}, {running}, {svc.traffic_state or 'no traffic state'}{reason}{message}"


def status_of(svc: Service) -> ServiceStatus:
    return live_service(svc, svc.region).status


def unmet(expect: Expect, svc: Service | None, mode: TrafficMode | None) -> str | None:
    """What `svc` still lacks to satisfy `expect` (None: satisfied). `mode`: the group's current mode."""
    if not expect.exists:
        return None if svc is None else f"still exists ({describe(svc)})"
    if svc is None:
        return "does not exist"
    lv = live_service(svc, svc.region)
    checks: list[tuple[bool, str]] = [
        (expect.status is None or lv.status is expect.status, f"status {lv.status.value}, want {expect.status}"),
        (expect.running is None or lv.running == expect.running,
         f"{lv.running} running, want {expect.running}"),
        (expect.min_version is None or lv.current_version >= expect.min_version,
         f"version {lv.current_version}, want {expect.min_version}"),
        (expect.traffic_state is None or lv.traffic_state is expect.traffic_state,
         f"traffic state {lv.traffic_state.value}, want {expect.traffic_state}"),
        (expect.weight is None or mode is not TrafficMode.CUSTOMIZED or lv.weight == expect.weight,
         f"weight {lv.weight}, want {expect.weight}"),
        (expect.labels is None or all(lv.labels.get(k) == v for k, v in expect.labels.items()),
         "labels not set yet"),
    ]
    return next((why for ok, why in checks if not ok), None)


def failure(svc: Service | None, expect_gone: bool) -> str | None:
    """A final state no wait can get out of."""
    if svc is None:
        return None if expect_gone else "the service disappeared"
    status = status_of(svc)
    if status in FAILED and not expect_gone:
        return f"{svc.service_name} is {svc.status}"
    return None


@dataclass
class _Waiter:
    name: str
    group: str | None
    check: Predicate
    expect_gone: bool
    deadline: float
    future: asyncio.Future[Service | None]
    last: Service | None = None


@dataclass(frozen=True)
class Scope:
    """What one listing of a round covers: a group's members, or one service by name."""

    group: str | None
    name: str = ""


def scope_of(waiter: _Waiter) -> Scope:
    return Scope(waiter.group) if waiter.group is not None else Scope(None, waiter.name)


def pages(services: int) -> int:
    """Round trips of a listing of `services` services (an empty listing still costs one)."""
    return max(1, -(-services // DEFAULT_PAGE_SIZE))


def within(scope: Scope, svc: Service) -> bool:
    return svc.service_group == scope.group if scope.group is not None else svc.service_name == scope.name


class Observer:
    """The shared poller of one region."""

    def __init__(self, client: EasClient, timer: Timer, interval: float) -> None:
        self.client, self.timer, self.interval = client, timer, interval
        self.rounds = 0  # polling rounds made
        self.listings = 0  # ListServices listings made (one per waiting group a round; each may be several pages)
        self.region_size = 0  # services the region is thought to hold (see the module docstring)
        self._sizes: dict[str, int] = {}  # members of each group as last listed
        self._waiters: list[_Waiter] = []
        self._task: asyncio.Task[None] | None = None

    async def wait(self, name: str, group: str | None, check: Predicate, *, timeout: float,
                   expect_gone: bool = False, last: Service | None = None) -> Service | None:
        """The service as listed once `check` passes; ApplyError on failure or timeout."""
        future: asyncio.Future[Service | None] = asyncio.get_running_loop().create_future()
        self._waiters.append(_Waiter(name, group, check, expect_gone, self.timer.now() + timeout, future, last))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._poll())
        return await future

    async def _poll(self) -> None:
        while self._waiters:
            await self.timer.sleep(self.interval)
            self._waiters = [w for w in self._waiters if not w.future.done()]
            waiters = list(self._waiters)  # a copy: waiters that arrive during the listing wait for the next round
            if not waiters:
                return
            try:
                listed = await self._list(waiters)
            except Exception as exc:  # every waiter learns why the poll failed
                for w in waiters:
                    w.future.set_exception(exc)
                self._waiters = []
                return
            self.rounds += 1
            self._settle(waiters, listed)

    async def _list(self, waiters: list[_Waiter]) -> dict[Scope, dict[str, Service]]:
        """Each waiter's scope -> its services as listed this round (see the module docstring)."""
        scopes = sorted({scope_of(w) for w in waiters}, key=lambda sc: (sc.group is None, sc.group or sc.name))
        by_scope = sum(pages(self._sizes.get(sc.group, 0)) if sc.group is not None else 1 for sc in scopes)
        if pages(self.region_size) < by_scope:
            region = await list_services(self.client)
            self.listings += 1
            self.region_size = len(region)
            return {sc: {s.service_name: s for s in region if within(sc, s)} for sc in scopes}
        results = await asyncio.gather(*(self._list_one(sc) for sc in scopes), return_exceptions=True)
        error = next((r for r in results if isinstance(r, BaseException)), None)
        if error is not None:  # raised only once every listing ended: none is left running unwatched
            raise error
        return {sc: r for sc, r in zip(scopes, results, strict=True) if not isinstance(r, BaseException)}

    async def _list_one(self, scope: Scope) -> dict[str, Service]:
        if scope.group is not None:
            found = await list_services(self.client, group=scope.group)
            self._sizes[scope.group] = len(found)
        else:
            found = await list_services(self.client, service=scope.name)
        self.listings += 1
        return {s.service_name: s for s in found if within(scope, s)}

    def _settle(self, waiters: list[_Waiter], listed: dict[Scope, dict[str, Service]]) -> None:
        now = self.timer.now()
        for w in waiters:
            if w.future.done():  # its group was cancelled during the listing
                continue
            svc = listed[scope_of(w)].get(w.name)
            w.last = svc
            broken = failure(svc, w.expect_gone)
            missing = w.check(svc)
            if missing is None:
                w.future.set_result(svc)
            elif broken is not None:
                w.future.set_exception(ApplyError(f"{w.name}: {broken}: {describe(svc)}"))
            elif now >= w.deadline:
                w.future.set_exception(ApplyError(
                    f"{w.name}: timed out waiting ({missing}); now {describe(svc)}"))
        self._waiters = [w for w in self._waiters if not w.future.done()]
