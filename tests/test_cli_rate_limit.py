"""`--rate-limit` / EAS_GITOPS_RATE_LIMIT reach the client of every command that talks to EAS."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler import targets
from reconciler.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "groups" / "pmml.yaml"
runner = CliRunner()


@pytest.fixture
def seen(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """The RetrySettings every opened client got."""
    got: list[Any] = []
    original = targets.open_client

    def spy(*args: Any, **kwargs: Any) -> Any:
        got.append(kwargs.get("settings"))
        return original(*args, **kwargs)

    monkeypatch.setattr(targets, "open_client", spy)
    monkeypatch.setattr("reconciler.apply.runtime.open_client", spy)
    # reconciler.cli.common imports targets.open_client when a command opens a client: the first spy covers it
    return got


def test_plan_passes_the_option(seen: list[Any], tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--state", str(tmp_path / "s.db"), "--rate-limit", "7"])
    assert result.exit_code == 0, result.output
    assert seen and all(s is not None and s.rate_limit == 7 for s in seen)


def test_status_reads_the_environment(seen: list[Any], tmp_path: Path) -> None:
    result = runner.invoke(app, ["status", "--state", str(tmp_path / "s.db")], env={"EAS_GITOPS_RATE_LIMIT": "0"})
    assert result.exit_code == 0, result.output
    assert seen and seen[-1] is not None and seen[-1].rate_limit == 0


def test_without_the_option_the_client_default_applies(seen: list[Any], tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--state", str(tmp_path / "s.db")],
                           env={"EAS_GITOPS_RATE_LIMIT": ""})
    assert result.exit_code == 0, result.output
    assert seen and all(s is None for s in seen)


def test_a_negative_limit_is_refused_as_a_usage_error(tmp_path: Path) -> None:  # 1, never 2 (changes pending)
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--state", str(tmp_path / "s.db"), "--rate-limit", "-1"])
    assert result.exit_code == 1 and "rate-limit" in result.output
