"""Building blocks for client tests on httpx.MockTransport (no network, fake time)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Coroutine
from typing import Any

import httpx

from reconciler.eas.auth import AcsSigner, Credentials, StaticCredentials
from reconciler.eas.client import EasClient
from reconciler.eas.retry import RetrySettings
from reconciler.eas.transport import Caller


class FakeTime:
    """A clock that only moves when something sleeps on it; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


BASE = "https://pai-eas.cn-shanghai.aliyuncs.com"
Handler = Callable[[httpx.Request], httpx.Response] | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]


def answer(status: int = 200, body: dict[str, Any] | None = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {"RequestId": "R-1", "Message": "ok"},
                          headers=headers)


def error(status: int, code: str, headers: dict[str, str] | None = None) -> httpx.Response:
    return answer(status, {"RequestId": "R-err", "Code": code, "Message": f"{code} happened", "HostId": "h"}, headers)


def mock_client(handler: Handler, fake: FakeTime, **settings: Any) -> EasClient:
    settings.setdefault("rate_limit", 0)
    http = httpx.AsyncClient(base_url=BASE, transport=httpx.MockTransport(handler),
                             auth=AcsSigner(StaticCredentials(Credentials("testAk", "testSecret"))))
    caller = Caller(http, RetrySettings(**settings), sleep=fake.sleep, clock=fake.clock, rng=random.Random(7))
    return EasClient(caller, "cn-shanghai")


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content) if request.content else None
