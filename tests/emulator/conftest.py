"""Fixtures: a fake clock, an HTTP-free backend, a uvicorn-served emulator and the official SDK client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.apply.runtime import VirtualTimer, target_connector
from reconciler.cli import plan as plan_cli
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


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, VirtualTimer]]:
    """The CLI's local target over `state.db` in tmp_path (the working directory), on a virtual clock."""
    state, timer = tmp_path / "state.db", VirtualTimer()

    def settings(region: str) -> EmulatorSettings:
        return EmulatorSettings(state_path=state, region=region, clock=timer)
    wiring = plan_cli.Wiring(connector=lambda where: target_connector(where.target, state=where.state, vpc=where.vpc,
                                                                      emulator=settings, timer=timer), timer=timer)
    monkeypatch.setattr(plan_cli, "WIRING", wiring)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    yield state, timer
