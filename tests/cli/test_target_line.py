"""The `target:` line is said once per command, also when apply plans again under its lock."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"


def test_apply_says_its_target_once(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["apply", str(EXAMPLE), "--state", str(tmp_path / "s.db"), "--auto-approve",
                                      "--journal-dir", str(tmp_path / "j")])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("target: local") == 1, result.stderr
