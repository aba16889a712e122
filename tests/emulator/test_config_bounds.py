"""Raw signed management calls cannot store a number the emulator could not answer with again."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from reconciler.emulator.settings import ConfigBounds

from .helpers import app_with, eas_code, signed_headers

SERVICES = "/api/v2/services"
SVC = f"{SERVICES}/cn-shanghai/svc"


def call(app: Any, method: str, path: str, action: str, body: bytes = b"",
         query: dict[str, str] | None = None) -> httpx.Response:
    headers = signed_headers(method, path, query or {}, body, "testserver", action)

    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            return await c.request(method, path, params=query, content=body, headers=headers)
    return asyncio.run(go())


def config(**metadata: object) -> bytes:
    return json.dumps({"name": "svc", "metadata": {"instance": 1, **metadata}}).encode()


def assert_still_answers(app: Any) -> None:
    listed = call(app, "GET", SERVICES, "ListServices")
    assert listed.status_code == 200, listed.text


@pytest.mark.parametrize("body", [
    b'{"name": "svc", "metadata": {"instance": 1, "cpu": Infinity}}',
    b'{"name": "svc", "metadata": {"instance": 1, "cpu": NaN}}',
    b'{"name": "svc", "metadata": {"instance": 1, "memory": -Infinity}}',
    config(cpu=1e30), config(cpu=1025), config(memory=4 * 1024 * 1024 + 1), config(gpu=65),
    config(gpu_memory=2049), config(instance=10**9), config(instance=1001), config(instance=-1),
    config(cpu="2"),
    json.dumps({"name": "svc", "metadata": {"instance": 1},
                "autoscaler": {"min": 1, "max": 10**9, "strategies": {"qps": 10}}}).encode(),
], ids=lambda b: b.decode()[:70])
def test_create_service_refuses_non_json_and_out_of_range_numbers(body: bytes) -> None:
    app = app_with()
    response = call(app, "POST", SERVICES, "CreateService", body)
    assert eas_code(response) == (400, "InvalidParameter"), response.text
    assert_still_answers(app)
    assert json.loads(call(app, "GET", SERVICES, "ListServices").text)["TotalCount"] == 0


def test_update_and_the_autoscaler_api_keep_the_bounds() -> None:
    app = app_with()
    assert call(app, "POST", SERVICES, "CreateService", config(cpu=1024, instance=1000)).status_code == 200
    for body in (b'{"metadata": {"instance": Infinity}}', b'{"metadata": {"instance": 1000000000}}',
                 b'{"metadata": {"cpu": 1e30}}'):
        response = call(app, "PUT", SVC, "UpdateService", body)
        assert eas_code(response) == (400, "InvalidParameter"), response.text
    scaler = json.dumps({"min": 1, "max": 10**9, "scaleStrategies": [{"metricName": "qps", "threshold": 10}]})
    response = call(app, "POST", f"{SVC}/autoscaler", "CreateServiceAutoScaler", scaler.encode())
    assert eas_code(response) == (400, "InvalidParameter"), response.text
    assert_still_answers(app)
    described = json.loads(call(app, "GET", SVC, "DescribeService").text)
    assert json.loads(described["ServiceConfig"])["metadata"]["instance"] == 1000


def test_bounds_are_settings() -> None:
    app = app_with(bounds=ConfigBounds(cpu=8))
    assert eas_code(call(app, "POST", SERVICES, "CreateService", config(cpu=9))) == (400, "InvalidParameter")
    assert call(app, "POST", SERVICES, "CreateService", config(cpu=8)).status_code == 200
