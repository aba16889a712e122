"""The action's run step (real bash, fake CLI) and every eas-gitops command line the workflows make.

The command lines the example workflows produce through the action are parsed by the real CLI
(click's parser, nothing runs), so a renamed option or a new required value breaks a test here
before it breaks a team's pipeline. Commands and options that are being added next to this work
are listed in PENDING: left out of the check while the CLI lacks them, checked like any other
(values included) as soon as it has them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import typer

from reconciler.cli.main import app

from .helpers import action_steps, run_action

PENDING_COMMANDS: set[str] = set()
# command -> options it does not have yet (once it has one, its values are checked like any other)
PENDING_OPTIONS: dict[str, set[str]] = {}


def _root() -> tuple[Any, Any]:
    root = typer.main.get_command(app)
    return root, root.make_context("eas-gitops", ["--version"], resilient_parsing=True)


def _command(name: str) -> Any:
    root, ctx = _root()
    return root.get_command(ctx, name)


def _options(name: str) -> set[str]:
    return {opt for param in _command(name).params for opt in param.opts}


def _without_pending(name: str, args: list[str]) -> list[str]:
    pending = PENDING_OPTIONS.get(name, set()) - _options(name)
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in pending:
            skip = True  # the option and its value
        else:
            kept.append(arg)
    return kept


def test_plan_passes_paths_target_region_base_and_saves_the_plan(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "plan", "paths": "groups/cn-shanghai\ngroups/extra",
                                "region": "cn-shanghai", "changed-since": "HEAD^1", "args": "--prune"},
                     exit_code=2)
    assert out.returncode == 0, out.stdout
    [argv] = out.argv
    assert argv[:3] == ["plan", "groups/cn-shanghai", "groups/extra"]
    assert argv[argv.index("--region") + 1] == "cn-shanghai"
    assert argv[argv.index("--changed-since") + 1] == "HEAD^1"
    assert argv[argv.index("--format") + 1] == "markdown"
    assert "--detailed-exitcode" in argv and argv[-1] == "--prune"
    assert out.outputs["exitcode"] == "2" and out.outputs["changes"] == "true"
    assert out.outputs["plan-file"] == argv[argv.index("--out") + 1]
    assert Path(out.outputs["markdown-file"]).read_text(encoding="utf-8") == "report\n"


def test_a_failed_plan_fails_the_step_and_still_reports(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "plan"}, exit_code=1)
    assert out.returncode == 1
    assert out.outputs["exitcode"] == "1" and "changes" not in out.outputs
    assert "::error title=eas-gitops plan::exit code 1" in out.stdout


def test_no_changes(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "drift", "region": "cn-hangzhou"}, exit_code=0)
    assert out.returncode == 0 and out.outputs["changes"] == "false"
    assert out.argv == [["drift", ".", "--target", "aliyun", "--region", "cn-hangzhou", "--format", "markdown"]]


def test_apply_of_a_saved_plan_names_no_paths_and_accepts_the_listed_exit_codes(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "apply", "plan-file": "/p/plan.json", "region": "cn-shanghai",
                                "changed-since": "HEAD^1", "args": "--lock-timeout 10m", "ok-exitcodes": "0 3"},
                     exit_code=3)
    assert out.returncode == 0, out.stdout
    assert out.argv == [["apply", "--plan", "/p/plan.json", "--target", "aliyun", "--region", "cn-shanghai",
                         "--auto-approve", "--lock-timeout", "10m"]]
    assert out.outputs["exitcode"] == "3" and "changes" not in out.outputs
    assert "report" in out.stdout  # text output goes to the log


def test_validate_prints_annotations_to_the_log_and_takes_no_target(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "validate", "paths": "groups", "region": "cn-shanghai"}, exit_code=1)
    assert out.returncode == 1
    assert out.argv == [["validate", "groups", "--format", "github"]]
    assert "report" in out.stdout


def test_an_unknown_command_runs_nothing(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "destroy"})
    assert out.returncode == 1 and out.argv == []
    assert "unknown command 'destroy'" in out.stdout


def test_an_input_is_never_shell_code(tmp_path: Path) -> None:
    out = run_action(tmp_path, {"command": "plan", "paths": "$(touch pwned) `touch pwned2`", "args": "; touch pwned3"})
    assert out.returncode == 0
    assert out.argv[0][1:3] == ["$(touch", "pwned)"]
    assert not list(tmp_path.rglob("pwned*")) and not list(Path.cwd().glob("pwned*"))


STEPS = action_steps()


def test_the_workflows_use_the_action_for_every_command() -> None:
    assert {inputs["command"] for _, _, inputs in STEPS} == {"validate", "plan", "apply", "drift"}


@pytest.mark.parametrize(("workflow", "step", "inputs"), STEPS, ids=[f"{w}:{s}" for w, s, _ in STEPS])
def test_every_workflow_command_line_parses(tmp_path: Path, workflow: str, step: str,
                                            inputs: dict[str, str]) -> None:
    out = run_action(tmp_path, inputs)
    [argv] = out.argv
    name, args = argv[0], argv[1:]
    if _command(name) is None:
        assert name in PENDING_COMMANDS, f"{workflow}: {step}: eas-gitops has no command {name!r}"
        pytest.skip(f"eas-gitops {name} is not on this branch yet")
    args = _without_pending(name, args)
    _command(name).make_context(name, args)  # raises on any option the CLI does not take


def test_every_pending_entry_is_used_by_a_workflow(tmp_path: Path) -> None:
    """PENDING names only what the workflows pass: an entry no workflow needs any more goes."""
    lines = [run_action(tmp_path, inputs).argv[0] for _, _, inputs in STEPS]
    assert {argv[0] for argv in lines} >= PENDING_COMMANDS
    for name, options in PENDING_OPTIONS.items():
        assert options <= {arg for argv in lines if argv[0] == name for arg in argv}
