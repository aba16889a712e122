"""The real clock of apply and its locks: `RealTimer`, and `Timer`, what every timer offers.

`Timer.now` measures durations (monotonic); `Timer.epoch` is the wall clock (unix seconds);
`Timer.sleep` waits. Tests and benchmarks use `reconciler.apply.runtime.VirtualTimer` instead.
Kept apart from the engine so the CLI can build its default wiring without importing it.
"""

from __future__ import annotations

import time
from typing import Protocol


class Timer(Protocol):
    def now(self) -> float: ...

    def epoch(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class RealTimer:
    def now(self) -> float:
        return time.monotonic()

    def epoch(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        import asyncio  # here: building the CLI's default wiring (`--help`) must not import asyncio

        await asyncio.sleep(seconds)
