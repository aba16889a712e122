"""The one small protocol every metrics provider implements, and how members' samples become a check's.

A provider only reads numbers: for each named member of a group, over one time window, the
requests it answered, the percent of them that were 5xx and their mean latency (`MemberSample`,
None where it has no data). It never judges; `reconciler.analysis.judge` does.

Windows are half-open `[start, end)` in epoch seconds on the clock of the target (the emulator's
emulated clock, or real time on the cloud). A provider may narrow a window to whole periods of
its source and says which window it really read (`Fetched.window`), so a report shows it. A source
that publishes late says by how much (`lag`); the caller waits for it rather than the provider
reading an earlier window.

Providers raise the package's errors: `TransportError` when the source cannot be reached,
`ApiError` when it answers with an error, `ConfigError` for settings that cannot work. What a
failed fetch means for a rollout (retry, or count the check as failed) is the runner's decision.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.analysis.judge import CheckSamples, MemberSample


@dataclass(frozen=True)
class Window:
    """`[start, end)` in epoch seconds."""

    start: float
    end: float

    @property
    def seconds(self) -> float:
        return max(0.0, self.end - self.start)

    def aligned(self, period: float) -> Window:
        """The whole periods inside: both ends floored to a multiple of `period` (the current period is left
        for the next window, so consecutive windows neither overlap nor lose a period)."""
        return Window(math.floor(self.start / period) * period, math.floor(self.end / period) * period)


@dataclass(frozen=True)
class Fetched:
    """What a provider read: one sample per member asked for, and the window it really covered."""

    window: Window
    samples: Mapping[str, MemberSample]


class MetricsProvider(Protocol):
    @property
    def lag(self) -> float:
        """Seconds after a window ends before its numbers are complete at the source (0: at once).
        The bake loop waits that long past a window's end before it fetches the window."""
        ...

    async def fetch(self, group: str, services: Sequence[str], window: Window) -> Fetched:
        """Samples of each of `services` (members of `group`) over `window`; every name has an entry."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _weighted(pairs: list[tuple[float, float]]) -> float | None:
    """Mean of values weighted by request counts; NaN stays NaN; None with no weight at all."""
    if any(math.isnan(v) or math.isnan(w) for v, w in pairs):
        return math.nan
    total = sum(w for _, w in pairs)
    if not pairs or total <= 0:
        return None
    return sum(v * w for v, w in pairs) / total


def combine(samples: Iterable[MemberSample]) -> MemberSample:
    """One sample for several members (the baseline may be several primaries): counts add up, rates and
    latencies are averaged weighted by each member's requests. NaN anywhere stays NaN."""
    members = list(samples)
    counted = [s.requests for s in members if s.requests is not None]
    requests = math.fsum(counted) if counted else None

    def mean(metric: str) -> float | None:
        pairs = [(v, s.requests) for s in members
                 if (v := getattr(s, metric)) is not None and s.requests is not None]
        return _weighted(pairs)

    return MemberSample(requests, mean("error_rate"), mean("latency_avg"))


def check_samples(fetched: Fetched, canary: str, baseline: Sequence[str]) -> CheckSamples:
    """The judge's input: the canary's sample and the baseline members' combined sample."""
    return CheckSamples(fetched.samples.get(canary, MemberSample()),
                        combine(fetched.samples.get(name, MemberSample()) for name in baseline),
                        fetched.window.start, fetched.window.end)
