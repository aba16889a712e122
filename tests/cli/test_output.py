"""Terminal output: colour off with --no-color or NO_COLOR; long plan lines wrap, never cropped; env vars once."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli import output
from reconciler.cli.main import app

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"
ESC = "\x1b["
runner = CliRunner()


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """stdout counts as a terminal 80 columns wide."""
    monkeypatch.setattr(output, "is_terminal", lambda: True)
    monkeypatch.setattr("reconciler.cli.plan.is_terminal", lambda: True)
    monkeypatch.setenv("COLUMNS", "80")
    monkeypatch.setenv("TERM", "xterm-256color")
    monkeypatch.delenv("NO_COLOR", raising=False)


def _plan(tmp_path: Path, *extra: str, env: dict[str, str] | None = None, file: Path = EXAMPLE) -> str:
    result = runner.invoke(app, [*extra, "plan", str(file), "--state", str(tmp_path / "s.db")], env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_a_terminal_gets_colour(terminal: None, tmp_path: Path) -> None:
    assert ESC in _plan(tmp_path)


@pytest.mark.parametrize(("extra", "env"), [(("--no-color",), None), ((), {"NO_COLOR": "1"})])
def test_no_color_gives_plain_text(terminal: None, tmp_path: Path, extra: tuple[str, ...],
                                   env: dict[str, str] | None) -> None:
    text = _plan(tmp_path, *extra, env=env)
    assert ESC not in text and "set_traffic_state" in text


def test_no_color_after_the_command_gives_plain_text(terminal: None, tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--state", str(tmp_path / "s.db"), "--no-color"])
    assert result.exit_code == 0, result.output
    assert ESC not in result.stdout and "set_traffic_state" in result.stdout
    assert ESC in _plan(tmp_path)  # the next invocation has colour again


@pytest.mark.parametrize("command", [
    ["validate", str(EXAMPLE)], ["status"], ["drift", str(EXAMPLE)], ["apply", str(EXAMPLE), "--auto-approve"]])
def test_every_printing_command_takes_no_color(terminal: None, tmp_path: Path, command: list[str]) -> None:
    state = [] if command[0] == "validate" else ["--state", str(tmp_path / "s.db")]
    result = runner.invoke(app, [*command, *state, "--no-color"])
    assert "No such option" not in result.output
    assert result.exit_code == (2 if command[0] == "drift" else 0), result.output  # drift: 2 = found
    assert ESC not in result.output


def test_an_empty_no_color_keeps_colour(terminal: None, tmp_path: Path) -> None:
    assert ESC in _plan(tmp_path, env={"NO_COLOR": ""})  # the convention: set to a non-empty value


def test_a_long_model_path_is_shown_whole_at_80_columns(terminal: None, tmp_path: Path) -> None:
    long_path = "oss://examplebucket/models/" + "/".join(["a-rather-long-directory-name"] * 4) + "/lr_v3.pmml"
    file = tmp_path / "pmml.yaml"
    file.write_text(EXAMPLE.read_text().replace("oss://examplebucket/models/lr_v3.pmml", long_path))
    text = re.sub(r"\x1b\[[0-9;]*m", "", _plan(tmp_path, file=file))
    assert long_path in text  # cropping would cut it at column 80


def test_each_env_var_is_named_once_in_help() -> None:
    for command in ("plan", "apply", "status"):
        text = runner.invoke(app, [command, "--help"], env={"COLUMNS": "200"}).stdout
        for var in ("EAS_GITOPS_TARGET", "EAS_GITOPS_REGION", "EAS_GITOPS_RATE_LIMIT"):
            assert text.count(var) == 1, (command, var, text)



@pytest.mark.parametrize("command", ["validate", "plan"])
def test_user_text_is_printed_as_written(tmp_path: Path, command: str) -> None:
    """rich markup (`[prod]`) and emoji codes (`:warning:`) in a path or a model path are not interpreted."""
    folder = tmp_path / "[prod]" / ":warning:"
    folder.mkdir(parents=True)
    text = EXAMPLE.read_text().replace("oss://", "oss://[v2]/:warning:/")
    (folder / "pmml.yaml").write_text(text, encoding="utf-8")
    state = [] if command == "validate" else ["--state", str(tmp_path / "s.db")]
    result = runner.invoke(app, [command, str(folder), *state])
    assert result.exit_code == 0, result.output
    printed = result.stdout.replace("\n", "")
    assert ("[prod]/:warning:/pmml.yaml" if command == "validate" else "oss://[v2]/:warning:/") in printed
    assert "⚠" not in result.output
