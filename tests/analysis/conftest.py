"""Fixtures: the served emulator of the emulator tests (uvicorn on 127.0.0.1, a fake clock) and a group on it."""

from __future__ import annotations

from typing import Any

from emulator.conftest import served  # noqa: F401  (the session-wide served emulator fixture)
from emulator.helpers import REGION, FakeClock

from reconciler.emulator.backend import Backend


def emulator_of(app: Any) -> Any:
    return app.state.emulator


def clock_of(app: Any) -> FakeClock:
    clock: FakeClock = emulator_of(app).settings.clock
    return clock


def make_group(app: Any, group: str, members: dict[str, tuple[int, dict[str, str]]]) -> None:
    """Create `group` with members {name: (instances, labels)}, all grouping and Running (clock advanced)."""
    backend: Backend = emulator_of(app).backend
    for name, (instances, labels) in members.items():
        backend.create_service({"name": name, "processor": "pmml",
                                "metadata": {"instance": instances, "group": group}}, labels)
    clock_of(app).advance(60)
    for name in members:
        backend.release_service(REGION, name, "grouping", None)
