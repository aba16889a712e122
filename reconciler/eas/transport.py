"""One EAS call: rate limit, send (signed by the httpx.Auth), map errors, retry, count round trips.

`Caller.call` is the only place the client touches httpx. Each attempt builds a new request and
the signer signs it at send time, so every attempt has a fresh date and nonce. Round trips are
counted per operation (`CallStats`), split into reads and writes, including failed attempts:
what tests and benchmarks read to check "apply makes zero write calls".

A `Resolver` lets an operation settle an error that arrives on a retry after an attempt whose
outcome is unknown (5xx, dropped connection): e.g. DeleteService answering NotFound then means the
first attempt did delete.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from reconciler.eas import errormap
from reconciler.eas.auth import ACTION_HEADER, JSON_CONTENT_TYPE
from reconciler.eas.retry import (
    OP_KINDS,
    Clock,
    OpKind,
    RetrySettings,
    Sleep,
    TokenBucket,
    real_sleep,
    retry_delay,
    should_retry,
)
from reconciler.errors import ApiError, EasGitopsError, ThrottledError

Json = dict[str, Any]
Resolver = Callable[[ApiError], Awaitable[Json | None]]


@dataclass
class CallStats:
    """Round trips per operation (every attempt that reached the wire) and logical calls per operation."""

    round_trips: Counter[str] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    retries: int = 0
    slept: float = 0.0  # seconds spent in backoff and rate-limit waits

    def _sum(self, kinds: tuple[OpKind, ...]) -> int:
        return sum(n for op, n in self.round_trips.items() if OP_KINDS.get(op, OpKind.UNSAFE) in kinds)

    @property
    def reads(self) -> int:
        return self._sum((OpKind.READ,))

    @property
    def writes(self) -> int:
        return self._sum((OpKind.IDEMPOTENT, OpKind.UNSAFE))

    def reset(self) -> None:
        self.round_trips.clear()
        self.calls.clear()
        self.retries = 0
        self.slept = 0.0


@dataclass(frozen=True)
class Request:
    operation: str
    method: str
    path: str  # already percent-encoded
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes | None = None


class Caller:
    """Sends requests with retries above the signer. Owns no httpx client lifecycle."""

    def __init__(self, http: httpx.AsyncClient, settings: RetrySettings | None = None, *,
                 sleep: Sleep = real_sleep, clock: Clock | None = None, rng: random.Random | None = None) -> None:
        self.http = http
        self.settings = settings or RetrySettings()
        self.stats = CallStats()
        self._sleep = sleep
        self._rng = rng or random.Random()
        bucket_args = {"clock": clock} if clock is not None else {}
        self.bucket = TokenBucket(self.settings.rate_limit, self.settings.burst, sleep=sleep, **bucket_args)

    async def call(self, req: Request, resolve: Resolver | None = None) -> Json:
        """The JSON object EAS answered, after retries; raises an EasGitopsError."""
        kind = OP_KINDS.get(req.operation, OpKind.UNSAFE)
        self.stats.calls[req.operation] += 1
        uncertain = False  # an earlier attempt may have been applied
        attempt = 1
        while True:
            try:
                return await self._attempt(req)
            except ApiError as err:
                if uncertain and resolve is not None:
                    settled = await resolve(err)
                    if settled is not None:
                        return settled
                error: EasGitopsError = err
                left = True
            except _Unanswered as gone:
                error, left = gone.error, gone.left
            if attempt >= self.settings.attempts or not should_retry(error, kind, left):
                raise error
            uncertain = uncertain or (left and not isinstance(error, ThrottledError))
            delay = retry_delay(error, self.settings, attempt, self._rng)
            self.stats.retries += 1
            self.stats.slept += delay
            await self._sleep(delay)
            attempt += 1

    async def _attempt(self, req: Request) -> Json:
        self.stats.slept += await self.bucket.acquire()
        headers = {ACTION_HEADER: req.operation, "accept": "application/json"}
        if req.body is not None:
            headers["content-type"] = JSON_CONTENT_TYPE
        try:
            request = self.http.build_request(req.method, req.path, params=dict(req.query) or None,
                                              content=req.body, headers=headers)
        except httpx.InvalidURL as exc:  # e.g. a query beyond httpx's length limit: nothing was sent
            raise errormap.unsendable(exc, req.operation) from None
        try:
            response = await self.http.send(request)
        except httpx.InvalidURL as exc:
            raise errormap.unsendable(exc, req.operation) from None
        except httpx.RequestError as exc:
            left = errormap.request_left(exc)
            if left:
                self.stats.round_trips[req.operation] += 1
            error = errormap.transport_error(exc, req.operation)
            error.__cause__ = exc  # keep the httpx failure for debugging; callers see only TransportError
            raise _Unanswered(error, left) from exc
        self.stats.round_trips[req.operation] += 1
        if errormap.is_error(response):
            raise errormap.api_error(response, req.operation)
        return _json_object(response, req.operation)


class _Unanswered(Exception):
    """Internal: a transport failure plus whether the request had left."""

    def __init__(self, error: EasGitopsError, left: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.left = left


def _json_object(response: httpx.Response, operation: str) -> Json:
    try:
        data = json.loads(response.content)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise ApiError(response.status_code, "InvalidResponse", "the answer is not a JSON object",
                       response.headers.get("x-acs-request-id", ""), operation)
    return data
