"""Fixtures: a fake clock, an HTTP-free backend, a uvicorn-served emulator and the official SDK client."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import FakeClock, Served, sdk_client


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def backend(clock: FakeClock) -> Iterator[Backend]:
    store = Store(None)
    yield Backend(EmulatorSettings(clock=clock), store)
    store.close()


@pytest.fixture(scope="session")
def served() -> Iterator[Served]:
    """The emulator served by uvicorn on 127.0.0.1 (a free port) in a background thread."""
    app = create_app(EmulatorSettings(clock=FakeClock()))
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose proto says TCP (else ~40 ms per answer)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections queue here until the server loop accepts them: no start-up polling
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Served(port, f"http://127.0.0.1:{port}", app)
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()
    assert not thread.is_alive()


@pytest.fixture(scope="session")
def sdk(served: Served) -> Any:
    return sdk_client(served.port)
