"""`aliyun_smoke` reads the member's endpoint and token through `EasClient.describe_service` (typed model)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from reconciler.apply.runtime import aliyun_smoke
from reconciler.eas.client import EasClient
from reconciler.eas.models import Service

from .emulated import emulated

pytestmark = pytest.mark.anyio


class CountingClient(EasClient):
    """The harness's client, recording which services were described through the typed method."""

    def __init__(self, inner: EasClient) -> None:
        super().__init__(inner.caller, inner.region)
        self.described: list[str] = []

    async def describe_service(self, name: str) -> Service:
        self.described.append(name)
        return await super().describe_service(name)


async def test_smoke_uses_describe_service_and_reaches_the_members_sub_path(tmp_path: Path) -> None:
    async with emulated("embedded", tmp_path) as h:
        await h.client.create_service({"name": "pmml_grey", "metadata": {"instance": 1, "group": "pmml"}})
        await h.advance(5)
        client = CountingClient(h.client)
        seen: list[httpx.Request] = []

        async def record(request: httpx.Request) -> None:
            seen.append(request)
        h.admin.event_hooks["request"].append(record)  # the same emulator app, in-process
        status = await aliyun_smoke(client, h.admin)("pmml", "pmml_grey", "/health", None)
        token = (await h.client.describe_service("pmml_grey")).access_token
    assert client.described == ["pmml_grey"]
    assert status == 200  # the emulator passes the sub-path to the member, as EAS does
    assert seen[0].url.path == "/api/predict/pmml.pmml_grey/health"
    assert token and seen[0].headers["authorization"] == token
