"""Helpers shared by the emulator tests: a fake clock, a served emulator handle, SDK and raw signed calls."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from reconciler.eas import signing
from reconciler.eas.auth import Credentials
from reconciler.emulator.admin_api import AdminAuth
from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET, EmulatorSettings
from reconciler.emulator.store import Store

REGION = "cn-shanghai"
T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, start: float = T0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def make_backend(clock: FakeClock, **overrides: Any) -> Backend:
    return Backend(EmulatorSettings(clock=clock, **overrides), Store(None))


LOCAL = Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET)


def admin_auth() -> AdminAuth:
    """Signs admin calls with the local pair (what every emulator of these tests accepts)."""
    return AdminAuth(LOCAL)


def app_with(**settings: Any) -> Any:
    """A fresh in-memory emulator app on a fake clock; new members start grouping."""
    return create_app(EmulatorSettings(clock=FakeClock(), initial_traffic_state="grouping", **settings))


def eas_code(response: httpx.Response) -> tuple[int, str]:
    """(status, Code) of an answer that must be in the EAS error shape."""
    body = response.json()
    assert body["RequestId"] and body["HostId"] and body["Message"]
    return response.status_code, body["Code"]


def endpoint_token(app: Any, name: str) -> str:
    """The AccessToken `/api/predict/<name>` takes, read from the app's own backend."""
    token: str = app.state.emulator.backend.route(name).token
    return token


@dataclass
class Served:
    port: int
    base_url: str
    app: Any

    def admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A signed admin call; raises on a refusal."""
        response = httpx.request(method, f"{self.base_url}{path}", json=body, timeout=10, auth=admin_auth())
        response.raise_for_status()
        return response.json()

    def advance(self, seconds: float) -> None:
        self.admin("POST", "/_emulator/clock", {"advance": seconds})


def sdk_client(port: int, key_id: str = LOCAL_ACCESS_KEY_ID, secret: str = LOCAL_ACCESS_KEY_SECRET) -> Any:
    from alibabacloud_eas20210701.client import Client
    from alibabacloud_tea_openapi.models import Config

    return Client(Config(access_key_id=key_id, access_key_secret=secret, endpoint=f"127.0.0.1:{port}",
                         protocol="http"))


def signed_headers(method: str, path: str, query: dict[str, str], body: bytes, host: str, action: str,
                   key_id: str = LOCAL_ACCESS_KEY_ID, secret: str = LOCAL_ACCESS_KEY_SECRET,
                   date: str | None = None, nonce: str | None = None,
                   extra: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request signed with the shared canonicaliser (every header signed)."""
    headers = {
        "host": host, "x-acs-action": action, "x-acs-version": signing.API_VERSION,
        "x-acs-date": date or datetime.now(UTC).strftime(signing.DATE_FORMAT),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex, "x-acs-content-sha256": signing.sha256_hex(body),
        **({"content-type": "application/json; charset=utf-8"} if body else {}), **(extra or {}),
    }
    headers["authorization"] = signing.sign_request(method, path, query, headers, body, key_id, secret)
    return headers


def raw_call(base_url: str, method: str, path: str, action: str, query: dict[str, str] | None = None,
             body: Any = None, **sign: Any) -> httpx.Response:
    data = b"" if body is None else json.dumps(body).encode()
    host = base_url.removeprefix("http://")
    headers = signed_headers(method, path, query or {}, data, host, action, **sign)
    return httpx.request(method, f"{base_url}{path}", params=query, content=data, headers=headers, timeout=10)


class InProcess:
    """A synchronous client for an app in-process (httpx.ASGITransport), host `testserver`.

    Admin calls are signed with the local pair; a prediction request without an `Authorization`
    header gets its endpoint's token (`tokens=False`: sent as given, for the refusal tests).
    """

    def __init__(self, app: Any, tokens: bool = True) -> None:
        self.app = app
        self.tokens = tokens

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.tokens and path.startswith("/api/predict/"):
            headers = dict(kwargs.pop("headers", None) or {})
            name = path.removeprefix("/api/predict/").partition("/")[0]
            headers.setdefault("Authorization", endpoint_token(self.app, name))
            kwargs["headers"] = headers

        async def go() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver",
                                         auth=admin_auth()) as client:
                return await client.request(method, path, **kwargs)
        return asyncio.run(go())

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def metric_samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a Prometheus exposition, keyed by sample name and sorted labels (parsed, not grepped)."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def metric_value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """`app` served by uvicorn on a free loopback port in a background thread; yields the base URL."""
    import socket
    import threading

    import uvicorn

    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (else ~40 ms per answer)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections queue here until the server loop accepts them: no start-up polling
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
    assert not thread.is_alive()
