"""Shared fixtures for the client tests: fake time, the anyio backend."""

from __future__ import annotations

import pytest

from .helpers import FakeTime


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def loopback_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """No ALIBABA_CLOUD_* keys in the environment: a loopback URL target then uses the emulator's local pair."""
    for name in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALIBABA_CLOUD_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
