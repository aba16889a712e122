"""The CLI exactly as a user runs it: local target, real clock, default emulator settings (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .conftest import EXAMPLES


def writes(state: Path) -> int:
    events, _, _ = create_app(EmulatorSettings(state_path=state)).state.emulator.backend.history(None)
    return sum(1 for e in events if e["kind"] == "write")


def test_apply_examples_on_the_real_local_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    runner, state = CliRunner(), tmp_path / "local.db"
    first = runner.invoke(app, ["apply", str(EXAMPLES), "--auto-approve", "--state", str(state)])
    assert first.exit_code == 0, first.output
    assert first.output.count(": done, ") == 6  # every example group created (credit's rollout: no release)
    traffic = runner.invoke(app, ["emulator", "traffic", "pmml", "-n", "100", "--state", str(state)])
    assert traffic.exit_code == 0, traffic.output
    rows = {line.split()[0]: line.split()[1:] for line in traffic.output.splitlines()[1:] if line.strip()}
    assert rows["pmml_prod"][:2] == ["80", "80.0%"] and rows["pmml_grey"][:2] == ["20", "20.0%"]
    assert runner.invoke(app, ["plan", str(EXAMPLES), "--detailed-exitcode", "--state", str(state)]).exit_code == 0
    before = writes(state)
    again = runner.invoke(app, ["apply", str(EXAMPLES), "--auto-approve", "--state", str(state)])
    assert again.exit_code == 0 and "No changes" in again.output
    assert writes(state) == before
