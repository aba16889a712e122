"""The apply poller's reads grow with the waiting groups, never with the region (counted, not timed)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar, cast

import pytest

from reconciler.apply import ApplySettings, Executor, Journal, Link, connect_all
from reconciler.apply.observe import Observer, unmet
from reconciler.apply.runtime import VirtualTimer
from reconciler.eas.client import EasClient
from reconciler.eas.models import Service
from reconciler.live.model import ServiceStatus
from reconciler.live.read import read_live
from reconciler.plan.build import build_plan
from reconciler.plan.model import Expect

from .harness import World
from .test_read import REGION, group, seed_backend


def apply_new_groups(bystanders: int) -> tuple[int, int]:
    """ListServices round trips of the plan's read and of apply, for 2 new groups of 2 members in a
    region already holding `bystanders` running services (groups of 10)."""
    world = World()
    seed_backend(world, [group(f"old{i:03d}", 10) for i in range(bystanders // 10)])
    desired = [group("new_a", 2), group("new_b", 2)]
    clients: list[EasClient] = []

    @asynccontextmanager
    async def recorded(region: str) -> AsyncIterator[Link]:
        async with world.link(region) as link:
            clients.append(link.client)
            yield link

    async def go() -> tuple[int, int]:
        async with connect_all(recorded, [REGION]) as links:
            live = await read_live({REGION: links[REGION].client})
            read = links[REGION].client.stats.round_trips["ListServices"]
            links[REGION].client.stats.reset()
            report = await Executor(links, world.timer, settings=ApplySettings(poll_interval=1.0),
                                    journal=Journal(None)).run(build_plan(desired, live), live)
        assert report.ok, report
        return read, clients[0].stats.round_trips["ListServices"]

    return asyncio.run(go())


def test_apply_listings_do_not_grow_with_the_region() -> None:
    small_read, small = apply_new_groups(300)
    big_read, big = apply_new_groups(900)
    assert big_read > small_read  # the plan's read does see the crowd (9 pages, not 3) ...
    assert big == small, (small, big)  # ... the poller does not: one listing per waiting group and round
    empty_read, empty = apply_new_groups(0)
    assert empty_read == 1 and 0 < empty <= small  # an empty region: one page lists both new groups


class CountingLister:
    """Lists services of two groups; records the filters of every call."""

    region = REGION
    members: ClassVar[dict[str, tuple[str, ...]]] = {"g1": ("a1", "a2", "a3"), "g2": ("b1", "b2", "b3")}

    def __init__(self) -> None:
        self.queries: list[dict[str, Any]] = []

    async def list_services(self, **query: Any) -> AsyncIterator[Service]:
        self.queries.append({k: v for k, v in query.items() if v is not None})
        for grp, names in self.members.items():
            for name in names:
                if query.get("group_name") in (None, grp) and query.get("service_name") in (None, name):
                    yield Service.model_validate({"ServiceName": name, "ServiceGroup": grp, "Status": "Running",
                                                  "RunningInstance": 1, "TotalInstance": 1})


def one_round(region_size: int) -> tuple[Observer, list[dict[str, Any]]]:
    """Every member of both groups and one service by name, waited for at once."""
    async def main() -> tuple[Observer, list[dict[str, Any]]]:
        lister = CountingLister()
        observer = Observer(cast(EasClient, lister), VirtualTimer(), interval=1.0)
        observer.region_size = region_size
        ready = Expect(status=ServiceStatus.RUNNING)
        waits = [observer.wait(name, grp, lambda s: unmet(ready, s, None), timeout=60)
                 for grp, names in lister.members.items() for name in names]
        waits.append(observer.wait("loose", None, lambda s: None if s is None else "still there", timeout=60,
                                   expect_gone=True))
        found = await asyncio.wait_for(asyncio.gather(*waits), timeout=5)
        assert [s.service_name if s else None for s in found] == ["a1", "a2", "a3", "b1", "b2", "b3", None]
        return observer, lister.queries

    return asyncio.run(main())


def test_in_a_big_region_a_round_lists_each_waiting_group_once() -> None:
    observer, queries = one_round(region_size=10_000)  # 100 pages: more than the 3 listings by group and name
    assert observer.rounds == 1 and observer.listings == 3
    assert sorted(map(str, queries)) == sorted(map(str, [
        {"group_name": "g1"}, {"group_name": "g2"}, {"service_name": "loose"}])), queries


def test_in_a_small_region_a_round_lists_the_region_once() -> None:
    observer, queries = one_round(region_size=150)  # 2 pages: fewer than 3 listings
    assert observer.rounds == 1 and observer.listings == 1 and queries == [{}]
    assert observer.region_size == 6  # learnt from the listing


@pytest.mark.parametrize("region_size", [0, 10_000])
def test_a_waiter_finds_its_service_only_in_its_own_group(region_size: int) -> None:
    async def main() -> str:
        observer = Observer(cast(EasClient, CountingLister()), VirtualTimer(), interval=1.0)
        observer.region_size = region_size
        waits = [observer.wait("a1", "g2", lambda s: None if s is not None else "absent", timeout=1.5),
                 observer.wait("b1", "g2", lambda s: None if s is not None else "absent", timeout=1.5),
                 observer.wait("b2", "g1", lambda s: None if s is not None else "absent", timeout=1.5)]
        results = await asyncio.gather(*waits, return_exceptions=True)
        return " | ".join(str(r.service_name) if isinstance(r, Service) else str(r) for r in results)

    assert asyncio.run(main()) == "a1: the service disappeared: absent | b1 | b2: the service disappeared: absent"
