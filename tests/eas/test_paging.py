"""Listing pages: after the first, pages are fetched concurrently (bounded), yielded in page order, rate-limited."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import Any, cast

import httpx
import pytest

from reconciler.eas.models import Service
from reconciler.errors import NotFoundError

from .helpers import FakeTime, answer, error, mock_client

pytestmark = pytest.mark.anyio


def _service(i: int) -> dict[str, Any]:
    return {"ServiceName": f"s{i:04d}", "ServiceConfig": json.dumps({"name": f"s{i:04d}"})}


class SlowPages:
    """An async transport handler over `count` services: counts requests in flight; later pages answer sooner."""

    def __init__(self, count: int, *, totals: dict[int, int] | None = None, fail_page: int = 0) -> None:
        self.services = [_service(i) for i in range(count)]
        self.totals = totals or {}  # page number -> TotalCount it reports (default: count)
        self.fail_page = fail_page
        self.requested: list[int] = []
        self.answered: list[int] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["PageNumber"]), int(request.url.params["PageSize"])
        self.requested.append(number)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            for _ in range(max(0, 40 - 3 * number)):  # event-loop turns, not time: page 2 is the slowest
                await asyncio.sleep(0)
        finally:
            self.in_flight -= 1
        self.answered.append(number)
        if number == self.fail_page:
            return error(404, "InvalidService.NotFound")
        page = self.services[(number - 1) * size: number * size]
        return answer(200, {"RequestId": f"r{number}", "TotalCount": self.totals.get(number, len(self.services)),
                            "PageNumber": number, "PageSize": size, "Services": page})


async def names(handler: SlowPages, fake_time: FakeTime, **settings: Any) -> list[str]:
    client = mock_client(handler, fake_time, **settings)
    return [s.service_name async for s in client.list_services()]


async def test_pages_after_the_first_are_requested_concurrently_and_yielded_in_order(fake_time: FakeTime) -> None:
    handler = SlowPages(1150)  # 12 pages of 100
    got = await names(handler, fake_time)
    assert got == [f"s{i:04d}" for i in range(1150)]
    assert handler.max_in_flight == 4  # bounded: page_concurrency
    assert sorted(handler.requested) == list(range(1, 13)) and handler.requested[:5] == [1, 2, 3, 4, 5]
    assert handler.answered.index(3) < handler.answered.index(2)  # answered out of order, yielded in order


async def test_concurrency_setting_and_one_at_a_time(fake_time: FakeTime) -> None:
    handler = SlowPages(1150)
    assert len(await names(handler, fake_time, page_concurrency=2)) == 1150
    assert handler.max_in_flight == 2
    handler = SlowPages(1150)
    assert len(await names(handler, fake_time, page_concurrency=1)) == 1150
    assert handler.max_in_flight == 1 and handler.requested == list(range(1, 13))


async def test_the_rate_limit_still_holds(fake_time: FakeTime) -> None:
    handler = SlowPages(3000)  # 30 pages: a burst of 20, then 10 more at 20 per second
    got = await names(handler, fake_time, rate_limit=20, burst=20)
    assert len(got) == 3000 and got == sorted(got)
    assert sum(fake_time.sleeps) == pytest.approx(10 / 20)
    assert handler.max_in_flight == 4


async def test_a_growing_total_is_followed_and_no_total_reads_one_page_at_a_time(fake_time: FakeTime) -> None:
    handler = SlowPages(450, totals={1: 250, 2: 250})  # services appeared while listing
    assert len(await names(handler, fake_time)) == 450
    assert sorted(handler.requested) == [1, 2, 3, 4, 5]
    handler = SlowPages(450, totals=dict.fromkeys(range(1, 7), 0))  # no TotalCount: until a short page
    assert len(await names(handler, fake_time)) == 450
    assert handler.requested == [1, 2, 3, 4, 5] and handler.max_in_flight == 1


async def test_an_error_or_an_early_stop_cancels_the_pages_in_flight(fake_time: FakeTime) -> None:
    handler = SlowPages(1150, fail_page=3)
    client = mock_client(handler, fake_time)
    seen: list[str] = []
    with pytest.raises(NotFoundError):
        async for s in client.list_services():
            seen.append(s.service_name)
    assert len(seen) == 200  # pages 1 and 2, then page 3's error
    await asyncio.sleep(0)
    assert handler.in_flight == 0 and max(handler.requested) <= 6
    handler = SlowPages(1150)
    listing = cast(AsyncGenerator[Service, None], mock_client(handler, fake_time).list_services())
    first = [await anext(listing) for _ in range(50)]  # within page 1: pages 2-5 are on their way
    await asyncio.sleep(0)
    assert sorted(handler.requested) == [1, 2, 3, 4, 5]
    await listing.aclose()
    for _ in range(10):  # let the cancelled requests unwind (fewer turns than any page needs to answer)
        await asyncio.sleep(0)
    assert first[-1].service_name == "s0049" and handler.in_flight == 0
    assert handler.answered == [1] and sorted(handler.requested) == [1, 2, 3, 4, 5]  # the rest was cancelled
