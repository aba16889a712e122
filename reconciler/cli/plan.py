"""`eas-gitops plan`: load the group files, read live state (one listing per region), print the plan.

Exit codes: 0 ok (with `--detailed-exitcode`: 0 no changes, 2 changes pending), 1 error (invalid
files: every problem with file:line:col; unsafe plan; EAS errors). `plan` never writes to EAS.

Regions read: every region a file names, plus each `--region` given (needed to see a managed group
whose file was deleted in a region no other file names, e.g. to `--prune` it).
With `--changed-since REF` only the changed groups are planned and only their regions are read
(`reconciler.gitops.scope`); git also gives the commit label every write records.

`Wiring` is how the commands reach EAS and time: `target_connector` and the real clock. Tests
replace `WIRING` to run the CLI on an emulator with a virtual clock. `Where` (the target options,
the local state file, the one region of an http(s) target) is in `reconciler.cli.where`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli.common import (
    ENV_REGION,
    RateLimitOpt,
    StateOpt,
    TargetOpt,
    VpcOpt,
    retry_settings,
)
from reconciler.cli.output import NoColorOpt, color_wanted, console, is_terminal
from reconciler.cli.where import Where as Where  # re-exported: tests and commands use plan.Where
from reconciler.cli.where import probe_region, unserved_problems
from reconciler.clock import RealTimer, Timer
from reconciler.defaults import DEFAULT_MAX_SHIFT
from reconciler.errors import SpecError
from reconciler.target_names import TargetKind

if TYPE_CHECKING:
    from reconciler.apply.runtime import Connector
    from reconciler.live.model import LiveState
    from reconciler.plan.model import Plan

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.apply.runtime", "reconciler.cli.gha", "reconciler.gitops.scope", "reconciler.live.read",
          "reconciler.plan.policy", "reconciler.plan.render", "reconciler.desired.checks", "reconciler.desired.loader")


@dataclass
class Wiring:
    connector: Callable[[Where], Connector]
    timer: Timer


def _connector(where: Where) -> Connector:
    from reconciler.apply.runtime import target_connector

    return target_connector(where.target, state=where.state, vpc=where.vpc, retry=retry_settings(where.rate_limit))


WIRING = Wiring(connector=_connector, timer=RealTimer())


class PlanFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"  # the text plan, plus problems and warnings as workflow annotations


PathsArg = Annotated[list[Path] | None, typer.Argument(
    metavar="PATHS", show_default=False, help="Group files or directories (default: the current directory).")]
GroupOpt = Annotated[list[str] | None, typer.Option(
    "--group", "-g", metavar="GROUP", help="Only this group (name or region/name); repeatable.")]
RegionsOpt = Annotated[list[str] | None, typer.Option(
    "--region", envvar=ENV_REGION, metavar="REGION",
    help="Also read this region (besides the regions the files name); repeatable.")]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Delete managed groups that no file declares (only services eas-gitops manages).")]
AdoptOpt = Annotated[bool, typer.Option(
    "--adopt", help="Take over declared services that exist without the eas-gitops ownership label.")]
MaxShiftOpt = Annotated[int, typer.Option(
    "--max-shift", min=1, max=100, metavar="N",
    help="Largest rise of a member's share (percentage points) in one step, from 0 % or from any share; "
         "a drain is not bounded.")]
ForceOpt = Annotated[bool, typer.Option("--force", help=(
    "Overrule the safety findings a person can judge from the plan: max_shift, and a member eas-gitops does not "
    "touch getting traffic while not ready. Each overrule is shown as a warning; the other rules never yield."))]
ChangedSinceOpt = Annotated[str | None, typer.Option(
    "--changed-since", metavar="REF", show_default=False, help=(
        "Only the groups whose files changed since git REF (its merge base with HEAD) in the working tree, "
        "plus the groups of deleted files (orphaned: deleted only with --prune). Only their regions are read."))]


@dataclass(frozen=True)
class PlanRequest:
    paths: Sequence[Path]
    where: Where
    regions: Sequence[str] = ()
    groups: Sequence[str] = ()
    prune: bool = False
    adopt: bool = False
    max_shift: int = DEFAULT_MAX_SHIFT
    force: bool = False
    changed_since: str | None = None


async def read_regions(where: Where, regions: Sequence[str]) -> LiveState:
    from reconciler.apply.runtime import connect_all
    from reconciler.live.read import read_live

    async with connect_all(WIRING.connector(where), regions) as links:
        return await read_live({r: link.client for r, link in links.items()})


async def make_plan(req: PlanRequest, *, say_target: bool = True) -> tuple[Plan, LiveState]:
    """Load (SpecError lists every problem, also the rollout rules of the target and max_shift), say the
    target (unless the command said it already), read live, build the plan (PlanError when unsafe)."""
    from reconciler.desired.checks import check_rollout_target
    from reconciler.desired.loader import load_paths
    from reconciler.gitops.scope import git_inputs
    from reconciler.plan.policy import plan_with_policy

    roots = list(req.paths) or [Path(".")]
    desired = load_paths(roots)
    cloud = req.where.kind is TargetKind.ALIYUN
    problems = [p for g in desired.groups for p in check_rollout_target(g, cloud, req.max_shift)]
    if problems:  # rollout rules that need the target and max_shift, before any call to EAS
        raise SpecError(problems)
    git = git_inputs(roots, desired, req.changed_since)  # commit labels; the scope with --changed-since
    groups = git.groups(req.groups)
    where = await served_region(req.where)
    if say_target:
        announce(where)
    planned = [g for g in desired.groups if groups is None or g.name in groups or f"{g.region}/{g.name}" in groups]
    unserved = unserved_problems(where, planned)
    if unserved:  # before the live state is read: the target answers for another region
        raise SpecError(unserved)
    live = await read_regions(where, where.regions_to_read(git.regions(desired.regions(), req.regions, groups)))
    plan = plan_with_policy([g.group for g in desired.groups], live, prune=req.prune, groups=groups,
                            max_shift=req.max_shift, force=req.force, adopt=req.adopt, commits=git.commits,
                            source=git.source)
    return plan, live


async def served_region(where: Where) -> Where:
    """An http(s) target: `where` with the region the endpoint says it serves (one probe call); others as given."""
    if where.served_region is None:
        return where
    async with WIRING.connector(where)(where.served_region) as link:
        return where.probed(await probe_region(link.client))


def announce(where: Where) -> None:
    """Say on stderr which target (and local state file) the command uses."""
    typer.echo(where.describe(), err=True)


def show(plan: Plan, fmt: PlanFormat = PlanFormat.TEXT) -> None:
    """Print a plan: rich colours on a terminal, plain text otherwise (and with --no-color / NO_COLOR)."""
    from reconciler.plan.render import render_json, render_markdown, render_rich, render_text

    if fmt is PlanFormat.JSON:
        typer.echo(render_json(plan), nl=False)
    elif fmt is PlanFormat.MARKDOWN:
        typer.echo(render_markdown(plan), nl=False)
    elif is_terminal() and color_wanted() and fmt is not PlanFormat.GITHUB:
        console().print(render_rich(plan), soft_wrap=True)  # long lines wrap at the terminal, never cropped
    else:
        typer.echo(render_text(plan), nl=False)


def plan(
    paths: PathsArg = None,
    target: TargetOpt = None,
    state: StateOpt = None,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
    region: RegionsOpt = None,
    group: GroupOpt = None,
    out: Annotated[Path | None, typer.Option(
        "--out", "-o", dir_okay=False, metavar="FILE",
        help="Also save the plan as JSON (for `apply --plan FILE`); it carries the live fingerprint.")] = None,
    fmt: Annotated[PlanFormat, typer.Option(
        "--format", "-f", help="text for people, markdown for a pull-request comment, json for machines, "
                               "github: text plus workflow annotations.")] = PlanFormat.TEXT,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 2 when there are changes, 0 when there are none (1 stays error).")] = False,
    prune: PruneOpt = False,
    adopt: AdoptOpt = False,
    max_shift: MaxShiftOpt = DEFAULT_MAX_SHIFT,
    force: ForceOpt = False,
    changed_since: ChangedSinceOpt = None,
    no_color: NoColorOpt = False,  # acted on while parsing (output.SETTINGS)
) -> None:
    """Show what apply would change, step by step, with every member's share after each step.

    Example:  eas-gitops plan examples/groups --format markdown --out plan.json
    """
    from reconciler.cli import gha
    from reconciler.plan.render import render_json

    where = Where(target, state, vpc, rate_limit).resolved(paths or [], region or [])
    req = PlanRequest(paths or [], where, region or [], group or [], prune, adopt, max_shift, force, changed_since)
    result, _ = gha.run_reporting(lambda: make_plan(req), fmt.value)
    show(result, fmt)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_json(result), encoding="utf-8")
        typer.echo(f"saved plan to {out}", err=True)
    code = 2 if detailed_exitcode and result.has_changes else 0
    gha.publish_plan(result, code, fmt.value)  # annotations (--format github); under Actions: summary, outputs
    if code:
        raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
