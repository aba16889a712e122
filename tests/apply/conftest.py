"""Fixtures of the apply tests: an in-process emulator world per test, in both initial traffic settings."""

from __future__ import annotations

import pytest

from .harness import World


@pytest.fixture(params=["standalone", "grouping"])
def world(request: pytest.FixtureRequest) -> World:
    """A fresh world; the emulator's choice for a new member's traffic state is both ways (DESIGN.md §2)."""
    return World(initial=request.param)
