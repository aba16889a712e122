"""Which target a command uses, said on stderr; the local state found from the files' git work tree."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.apply.runtime import VirtualTimer, target_connector
from reconciler.cli import plan as plan_cli
from reconciler.cli.main import app
from reconciler.emulator.settings import EmulatorSettings
from reconciler.target_names import default_state_path, project_root

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"
runner = CliRunner()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A git work tree (only its `.git` marker) with the example under groups/, the emulator's clock virtual."""
    root = tmp_path / "repo"
    (root / ".git").mkdir(parents=True)
    (root / "groups" / "sub").mkdir(parents=True)
    shutil.copy(EXAMPLE, root / "groups" / "pmml.yaml")
    timer = VirtualTimer()
    monkeypatch.setattr(plan_cli, "WIRING", plan_cli.Wiring(
        connector=lambda where: target_connector(
            where.target, state=where.state,
            emulator=lambda region: EmulatorSettings(state_path=where.state, region=region, clock=timer),
            timer=timer),
        timer=timer))
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    yield root


def test_the_root_is_found_from_a_file_a_directory_or_a_worktree_marker(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wt" / "a").mkdir(parents=True)
    (tmp_path / "wt" / ".git").write_text("gitdir: /elsewhere\n")  # a linked worktree has a .git file
    (tmp_path / "wt" / "a" / "f.yaml").write_text("")
    assert project_root(tmp_path / "wt" / "a" / "f.yaml") == tmp_path / "wt"
    assert project_root(tmp_path / "wt" / "a") == tmp_path / "wt"
    monkeypatch.chdir(tmp_path)
    assert project_root(tmp_path / "nowhere" / "f.yaml") == tmp_path  # outside git: the working directory
    assert default_state_path(tmp_path / "wt" / "a") == tmp_path / "wt" / ".eas-gitops" / "local.db"


def test_apply_from_the_root_then_plan_from_a_sub_directory_sees_the_same_state(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo)
    applied = runner.invoke(app, ["apply", "groups", "--auto-approve"])
    assert applied.exit_code == 0, applied.output
    assert applied.stderr.splitlines()[0] == "target: local (state .eas-gitops/local.db)"
    monkeypatch.chdir(repo / "groups" / "sub")
    again = runner.invoke(app, ["plan", "..", "--detailed-exitcode"])
    assert again.exit_code == 0, again.output  # 2 would mean it started from an empty state
    assert again.stderr.splitlines()[0] == f"target: local (state {repo / '.eas-gitops' / 'local.db'})"
    assert not (repo / "groups" / "sub" / ".eas-gitops").exists()


def test_a_given_state_file_is_the_one_named(repo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["plan", str(repo / "groups"), "--state", "elsewhere.db"])
    assert result.exit_code == 0, result.output
    assert "target: local (state elsewhere.db)" in result.stderr


def test_status_says_its_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == "target: local (state .eas-gitops/local.db)"


def test_apply_of_a_saved_plan_given_as_a_path_points_at_plan(tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    saved.write_text("{}")
    result = runner.invoke(app, ["apply", str(saved), "--state", str(tmp_path / "s.db")])
    assert result.exit_code == 1
    assert f"to apply a saved plan, pass it with --plan: eas-gitops apply --plan {saved}" in result.stderr
    assert not (tmp_path / "s.db").exists()  # refused before the state was opened


def test_emulator_serve_and_history_from_a_sub_directory_use_the_root_state(
        repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    served: list[object] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **_: served.append(app))
    monkeypatch.chdir(repo / "groups" / "sub")
    result = runner.invoke(app, ["emulator", "serve", "--port", "1"])
    assert result.exit_code == 0, result.output
    root_state = repo / ".eas-gitops" / "local.db"
    assert served and served[0].state.emulator.settings.state_path == root_state  # type: ignore[attr-defined]
    assert f"(state {root_state}," in result.output
    history = runner.invoke(app, ["emulator", "history"])
    assert history.exit_code == 0, history.output
    assert not (repo / "groups" / "sub" / ".eas-gitops").exists()
