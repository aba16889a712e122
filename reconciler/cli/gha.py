"""What `validate`, `plan` and `apply` add for GitHub: annotations with `--format github`, and under
GitHub Actions (`GITHUB_ACTIONS=true`) the job summary and the step outputs.

The text comes from `reconciler.gitops.github`; this module only prints it (stdout: the runner reads
workflow commands there) and appends to the files GitHub names in `$GITHUB_STEP_SUMMARY` and
`$GITHUB_OUTPUT`. Outside Actions, or with those variables unset, nothing is written.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

import typer

from reconciler.apply.report import ApplyReport
from reconciler.cli.common import run
from reconciler.errors import EasGitopsError, Problem, SpecError
from reconciler.gitops import github
from reconciler.plan.model import Plan

T = TypeVar("T")
GITHUB_FORMAT = "github"


def print_problems(problems: Iterable[Problem], env: Mapping[str, str] = os.environ) -> None:
    for line in github.problem_annotations(problems, github.workspace(env)):
        typer.echo(line)


def run_reporting(work: Callable[[], Awaitable[T]], fmt: str, env: Mapping[str, str] = os.environ) -> T:
    """`run(work)`; on an error, its annotations (`--format github`) and the failed outcome, then the error goes on."""
    try:
        return run(work)
    except EasGitopsError as err:
        if fmt == GITHUB_FORMAT:
            if isinstance(err, SpecError):
                print_problems(err.problems, env)
            else:
                typer.echo(github.error_annotation(str(err)))
        _outputs(github.plan_outputs(None, err.exit_code), env)
        raise


def publish_plan(plan: Plan, exitcode: int, fmt: str, env: Mapping[str, str] = os.environ) -> None:
    """Warnings as annotations (`--format github`); under Actions the full plan and the outcome."""
    if fmt == GITHUB_FORMAT:
        for line in github.plan_annotations(plan):
            typer.echo(line)
    summary = github.target_file(env, github.ENV_SUMMARY)
    if summary is not None:
        github.append_summary(summary, github.plan_summary(plan))
    _outputs(github.plan_outputs(plan, exitcode), env)


def publish_apply(report: ApplyReport | None, exitcode: int, env: Mapping[str, str] = os.environ) -> None:
    """Under Actions, the apply outcome as step outputs (`report` None: there was nothing to do)."""
    groups = [(g.outcome.value, len(g.done)) for g in report.groups] if report is not None else []
    _outputs(github.apply_outputs(groups, exitcode), env)


def _outputs(values: Mapping[str, github.OutputValue], env: Mapping[str, str]) -> None:
    path = github.target_file(env, github.ENV_OUTPUT)
    if path is not None:
        github.append_outputs(path, values)
