"""PageNumber/PageSize listings: the first page alone, then the rest concurrently, yielded in page order.

The first page gives TotalCount and so the number of pages. The following pages are requested
with at most `concurrency` in flight (each request still goes through the caller's retries and
its shared token bucket, so the rate limit holds) and are yielded strictly in page order, so a
listing reads the same as page after page. Stop rules are those of a sequential reader: a short or
empty page ends the listing, and so does having seen TotalCount items. TotalCount is re-read from
every page: if it grows while the listing runs, further pages are requested; if it is absent, pages
are requested one after another. Leaving the iteration early (or an error) cancels the pages in
flight.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

Json = dict[str, Any]
Fetch = Callable[[int], Awaitable[Json]]  # page number (1-based) -> the answer
ITEM_KEYS = ("Services", "Groups", "Versions", "Instances")


def items_of(page: Json) -> list[Any]:
    found = next((v for k, v in page.items() if k in ITEM_KEYS), None)
    return found if isinstance(found, list) else []


def last_page(total: int, page_size: int) -> int:
    """The number of pages TotalCount implies (0 when TotalCount is absent)."""
    return -(-total // page_size) if total > 0 else 0


def _quiet(task: asyncio.Task[Json]) -> None:
    """A cancelled or abandoned page's failure is not news: mark it retrieved."""
    if not task.cancelled():
        task.exception()


async def pages(fetch: Fetch, page_size: int, concurrency: int = 4) -> AsyncIterator[Json]:
    """Every page of a listing, in order (see the module docstring)."""
    page, number = await fetch(1), 1
    in_flight: dict[int, asyncio.Task[Json]] = {}
    following, seen, last = 2, 0, 0  # next page to request, items seen, last page TotalCount implies
    try:
        while True:
            found = items_of(page)
            seen += len(found)
            total = int(page.get("TotalCount") or 0)
            done = len(found) < page_size or bool(total and seen >= total)
            if not done:  # request what follows before handing this page out
                last = max(last, last_page(total, page_size))
                while following <= max(last, number + 1) and len(in_flight) < max(1, concurrency):
                    in_flight[following] = asyncio.ensure_future(fetch(following))
                    following += 1
            yield page
            if done:
                return
            number += 1
            page = await in_flight.pop(number)
    finally:
        for task in in_flight.values():
            task.cancel()
            task.add_done_callback(_quiet)
