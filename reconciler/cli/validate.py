"""`eas-gitops validate` and `eas-gitops schema` (being written: see issue 2)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
