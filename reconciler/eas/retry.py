"""Retry policy, backoff and the client-side rate limit (token bucket).

Which failures are retried (the retry loop sits above the signer, so each attempt is re-signed):

- Throttling (`ThrottledError`): always, for every operation: a throttled call was not executed.
  The wait is `x-acs-retry-after` seconds when sent (capped at `max_retry_after`), else the backoff.
- A connection that failed before the request left (connect error / connect timeout): always.
- 5xx, read timeouts and dropped connections (the outcome is unknown): only for operations whose
  repetition is harmless (`OpKind.IDEMPOTENT` and reads). See `OP_KINDS` for the per-operation
  choice; every other error is final.

Backoff: "equal jitter" exponential: d = min(cap, base * 2**(retry-1)); sleep d/2 + U(0, d/2).
The jitter source, the sleep function and the clock are injectable so tests never sleep.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum

from reconciler.errors import EasGitopsError, ServerError, ThrottledError, TransportError

Sleep = Callable[[float], Awaitable[None]]
Clock = Callable[[], float]


class OpKind(StrEnum):
    """How safe an operation is to repeat when its first outcome is unknown."""

    READ = "read"
    IDEMPOTENT = "idempotent"  # a write whose repetition leaves the same state (absolute values)
    UNSAFE = "unsafe"  # a write whose repetition has a further effect (new version, rollback step)


# Per-operation choice. Reasons:
# - ReleaseService / UpdateGroup / UpdateServiceLabel / UpdateServiceSafetyLock carry absolute values:
#   sending them twice ends in the same state.
# - DeleteService / DeleteGroup / DeleteServiceLabel: a repeat of an applied delete answers NotFound
#   (or, for a service still Deleting, a conflict), which the client resolves to success when an
#   earlier attempt's outcome was unknown.
# - CreateService / CreateGroup: a repeat answers "already exists"; the client resolves it by describing
#   (CreateService compares the config: same -> success, different -> ConflictError).
# - StartService / StopService move to a target state; a conflict on a repeat is resolved by reading status.
# - UpdateService bumps the version (a repeat triggers another rolling update); UpdateServiceVersion
#   rolls back relative to the current version: both UNSAFE, never repeated after an unknown outcome.
# - The autoscaler API carries absolute values; a repeated Create answers "already exists" and a
#   repeated Delete "not found", both resolved by the client. RestartService restarts again: UNSAFE.
OP_KINDS: dict[str, OpKind] = {
    **{op: OpKind.READ for op in ("DescribeService", "ListServices", "ListServiceVersions", "DescribeServiceEvent",
                                  "ListGroups", "DescribeGroup", "DescribeGroupEndpoints",
                                  "DescribeServiceAutoScaler", "ListServiceInstances")},
    **{op: OpKind.IDEMPOTENT for op in ("CreateService", "ReleaseService", "DeleteService", "StartService",
                                        "StopService", "UpdateServiceLabel", "DeleteServiceLabel",
                                        "UpdateServiceSafetyLock", "CreateGroup", "UpdateGroup", "DeleteGroup",
                                        "CreateServiceAutoScaler", "UpdateServiceAutoScaler",
                                        "DeleteServiceAutoScaler")},
    **{op: OpKind.UNSAFE for op in ("UpdateService", "UpdateServiceVersion", "RestartService")},
}


@dataclass(frozen=True)
class RetrySettings:
    """Retry and rate-limit knobs. `attempts` counts the first try; `rate_limit` <= 0 disables the bucket."""

    attempts: int = 5
    base: float = 0.2  # seconds
    cap: float = 10.0  # seconds, largest backoff step
    max_retry_after: float = 60.0  # seconds, largest honoured x-acs-retry-after
    retry_after_unit: float = 0.001  # seconds per unit of x-acs-retry-after: milliseconds, as the official SDK
    rate_limit: float = 20.0  # calls per second
    burst: int = 20  # bucket size
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    page_concurrency: int = 4  # listing pages in flight after the first (each still takes a rate-limit token)


async def real_sleep(seconds: float) -> None:
    await asyncio.sleep(seconds)


def backoff_delay(settings: RetrySettings, retry: int, rng: random.Random) -> float:
    """Delay before retry number `retry` (1-based), equal-jitter exponential and capped."""
    step = min(settings.cap, settings.base * 2.0 ** (retry - 1))
    return step / 2 + rng.uniform(0, step / 2)


def should_retry(error: EasGitopsError, kind: OpKind, request_left: bool) -> bool:
    """Whether `error` on an operation of `kind` may be retried (rules in the module docstring)."""
    if isinstance(error, ThrottledError):
        return True
    if isinstance(error, TransportError):
        return not request_left or kind is not OpKind.UNSAFE
    if isinstance(error, ServerError):
        return kind is not OpKind.UNSAFE
    return False


def retry_delay(error: EasGitopsError, settings: RetrySettings, retry: int, rng: random.Random) -> float:
    if isinstance(error, ThrottledError) and error.retry_after is not None:
        return min(error.retry_after * settings.retry_after_unit, settings.max_retry_after)
    return backoff_delay(settings, retry, rng)


class TokenBucket:
    """At most `rate` calls per second on average, bursts up to `burst`. Not thread-safe (one event loop)."""

    def __init__(self, rate: float, burst: int, *, clock: Clock = time.monotonic, sleep: Sleep = real_sleep) -> None:
        self.rate = rate
        self.burst = max(1, burst)
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(self.burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    async def acquire(self) -> float:
        """Take one token, waiting if needed; returns the seconds waited (0 when disabled)."""
        if self.rate <= 0:
            return 0.0
        async with self._lock:
            self._refill()
            waited = 0.0
            if self._tokens < 1:
                waited = (1 - self._tokens) / self.rate
                await self._sleep(waited)
                self._refill()
                # The clock may be fake and not move during the sleep: the wait paid for the token.
                self._tokens = max(self._tokens, 1.0)
            self._tokens -= 1
            return waited
