"""What each service answered, per second of emulated time: the data behind the emulator's CloudMonitor.

The gateway records every request a member answered (its status class and latency) in the
second of the emulator's clock it happened; synthetic load (cloudmonitor.py) records the same way.
CloudMonitor aggregates these seconds into whatever `Period` a caller asks for, so the store keeps
one-second buckets and nothing coarser.

A real request is counted at the emulated time the gateway read when it routed the latest request
(`latest`; one store read per request saved), so a request slowed by `emulator/latency-ms` may be
counted up to its own latency later, never earlier.

Requests nobody answered (a black-holed group's 503, an injected fault) belong to no service and
are not recorded, as CloudMonitor's per-service series would not show them either.

Memory is bounded by `retention` seconds of emulated time (default 6 hours): older seconds are
dropped as new ones arrive. A served emulator keeps the data for as long as it runs; the embedded
(`local`) emulator for as long as its process runs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

DEFAULT_RETENTION = 6 * 3600.0


@dataclass
class Counts:
    """One service's answers in one second (or summed over a period)."""

    requests: int = 0
    status_2xx: int = 0
    status_4xx: int = 0
    status_5xx: int = 0
    latency_sum: float = 0.0  # seconds
    latency_max: float = 0.0
    latency_min: float = math.inf

    def add(self, status: int, seconds: float, count: int = 1) -> None:
        self.requests += count
        if 200 <= status < 300:
            self.status_2xx += count
        elif 400 <= status < 500:
            self.status_4xx += count
        elif status >= 500:
            self.status_5xx += count
        self.latency_sum += seconds * count
        self.latency_max = max(self.latency_max, seconds)
        self.latency_min = min(self.latency_min, seconds)

    def merge(self, other: Counts) -> None:
        self.requests += other.requests
        self.status_2xx += other.status_2xx
        self.status_4xx += other.status_4xx
        self.status_5xx += other.status_5xx
        self.latency_sum += other.latency_sum
        self.latency_max = max(self.latency_max, other.latency_max)
        self.latency_min = min(self.latency_min, other.latency_min)


class Usage:
    """Per-second counters per service on the emulator's clock (`clock`: emulated epoch seconds)."""

    def __init__(self, clock: Callable[[], float], retention: float = DEFAULT_RETENTION) -> None:
        self.clock = clock
        self.retention = retention
        self.latest: float | None = None  # emulated time the gateway last read (it routes, then records)
        self._seconds: dict[int, dict[str, Counts]] = {}  # insertion order = time order (the clock only advances)

    def record(self, service: str, status: int, seconds: float, at: float | None = None, count: int = 1) -> None:
        """Count `count` answers of `service` with `status` taking `seconds` each, at `at` (default: now)."""
        second = math.floor(self.clock() if at is None else at)
        bucket = self._seconds.get(second)
        if bucket is None:
            bucket = self._seconds[second] = {}
            self._prune(second)
        bucket.setdefault(service, Counts()).add(status, seconds, count)

    def _prune(self, newest: int) -> None:
        oldest_kept = newest - self.retention
        while self._seconds:
            second = next(iter(self._seconds))  # the oldest: seconds are inserted in time order
            if second >= oldest_kept:
                break
            del self._seconds[second]

    def services(self) -> list[str]:
        return sorted({name for bucket in self._seconds.values() for name in bucket})

    def seconds(self, service: str, start: int, end: int) -> Iterator[tuple[int, Counts]]:
        """(second, counts) of `service` for every recorded second in [start, end), in time order."""
        for second in sorted(s for s in self._seconds if start <= s < end):
            counts = self._seconds[second].get(service)
            if counts is not None:
                yield second, counts
