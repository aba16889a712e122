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
