"""Fixtures: a fake clock, an HTTP-free backend, a uvicorn-served emulator and the official SDK client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import FakeClock, Served, sdk_client, serving


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
    with serving(app) as url:
        yield Served(int(url.rpartition(":")[2]), url, app)


@pytest.fixture(scope="session")
def sdk(served: Served) -> Any:
    return sdk_client(served.port)
