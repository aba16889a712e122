"""Run EasClient against the emulator: embedded (ASGITransport) or served (uvicorn thread on 127.0.0.1)."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from reconciler.eas.client import EasClient
from reconciler.eas.retry import RetrySettings
from reconciler.emulator.admin_api import AdminAuth
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings
from reconciler.target_names import LOCAL_BASE_URL
from reconciler.targets import local_credentials, open_client

from .helpers import FakeTime

EMULATED_EPOCH = 1_790_000_000.0  # emulated time starts here; only the admin clock moves it

ADMIN_AUTH = AdminAuth(local_credentials())  # admin calls are signed like management calls


@dataclass
class Harness:
    client: EasClient
    admin: httpx.AsyncClient
    fake_time: FakeTime

    async def advance(self, seconds: float) -> None:
        (await self.admin.post("/_emulator/clock", json={"advance": seconds})).raise_for_status()

    async def history(self) -> dict[str, Any]:
        answer = await self.admin.get("/_emulator/history")
        answer.raise_for_status()
        data: dict[str, Any] = answer.json()
        return data

    async def fault(self, **spec: Any) -> None:
        (await self.admin.post("/_emulator/faults", json=spec)).raise_for_status()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def served(app: Any) -> Iterator[str]:
    """Serve `app` with uvicorn in a background thread on a free loopback port; yields the base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@asynccontextmanager
async def emulated(kind: str, tmp_path: Path, *, retry: RetrySettings | None = None,
                   **emulator: Any) -> AsyncIterator[Harness]:
    """A client and an admin client on one fresh emulator; emulated time is frozen unless advanced."""
    settings = EmulatorSettings(state_path=tmp_path / "state.db", clock=lambda: EMULATED_EPOCH, **emulator)
    app = create_app(settings)
    fake = FakeTime()
    opts: dict[str, Any] = {"settings": retry, "sleep": fake.sleep, "clock": fake.clock, "rng": random.Random(3)}
    try:
        if kind == "embedded":
            transport = httpx.ASGITransport(app=app)
            async with open_client("local", "cn-shanghai", transport=transport, **opts) as client, \
                    httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, auth=ADMIN_AUTH) as admin:
                yield Harness(client, admin, fake)
        else:
            with served(app) as url:
                async with open_client(url, "cn-shanghai", **opts) as client, \
                        httpx.AsyncClient(base_url=url, auth=ADMIN_AUTH) as admin:
                    yield Harness(client, admin, fake)
    finally:
        app.state.emulator.store.close()
