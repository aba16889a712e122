"""Ctrl-C exits 130 and says what to run next."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli import apply as apply_cli
from reconciler.cli import plan as plan_cli
from reconciler.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"
runner = CliRunner()


async def _interrupt(*args: Any, **kwargs: Any) -> Any:
    raise KeyboardInterrupt


def test_ctrl_c_during_apply_names_the_plan_to_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(apply_cli, "execute", _interrupt)
    result = runner.invoke(app, ["apply", str(EXAMPLE), "--auto-approve", "--state", str(tmp_path / "s.db"),
                                 "--journal-dir", str(tmp_path / "j")])
    assert result.exit_code == 130
    assert f"the journal under {tmp_path / 'j'} records what was done" in result.stderr
    assert f"Run `eas-gitops plan {EXAMPLE}` to see what is left, then apply again" in result.stderr


def test_ctrl_c_during_plan_says_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plan_cli, "make_plan", _interrupt)
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--state", str(tmp_path / "s.db")])
    assert result.exit_code == 130 and "interrupted: nothing was changed" in result.stderr


def test_ctrl_c_before_the_first_step_says_nothing_changed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("reconciler.cli.lock.under_lock", _interrupt)  # waiting for or taking the lock
    result = runner.invoke(app, ["apply", str(EXAMPLE), "--auto-approve", "--state", str(tmp_path / "s.db"),
                                 "--journal-dir", str(tmp_path / "j")])
    assert result.exit_code == 130
    assert "interrupted before the first step: nothing was changed" in result.stderr
    assert "journal" not in result.stderr and not (tmp_path / "j").exists()
