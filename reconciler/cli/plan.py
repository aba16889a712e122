"""`eas-gitops plan`: load the group files, read live state (one listing per region), print the plan.

Exit codes: 0 ok (with `--detailed-exitcode`: 0 no changes, 2 changes pending), 1 error (invalid
files: every problem with file:line:col; unsafe plan; EAS errors). `plan` never writes to EAS.

Regions read: every region a file names, plus each `--region` given (needed to see a managed group
whose file was deleted in a region no other file names, e.g. to `--prune` it).

`Wiring` is how the commands reach EAS and time: `target_connector` and the real clock. Tests
replace `WIRING` to run the CLI on an emulator with a virtual clock. Poll intervals of waits by
target kind (a setting, not documented by EAS): local 0.25 s, http(s) 1 s, aliyun 5 s.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from reconciler.apply.runtime import Connector, RealTimer, Timer, connect_all, target_connector
from reconciler.cli.common import (
    ENV_REGION,
    RateLimitOpt,
    StateOpt,
    TargetOpt,
    VpcOpt,
    is_terminal,
    retry_settings,
    run,
)
from reconciler.eas.targets import DEFAULT_REGION, TargetKind, resolve_target
from reconciler.errors import SpecError
from reconciler.live.model import LiveState
from reconciler.live.read import read_live
from reconciler.plan.build import DEFAULT_MAX_SHIFT, build_plan
from reconciler.plan.model import Plan
from reconciler.plan.render import render_json, render_markdown, render_rich, render_text
from reconciler.spec.checks import check_rollout_target
from reconciler.spec.loader import load_paths

POLL_INTERVALS = {TargetKind.LOCAL: 0.25, TargetKind.URL: 1.0, TargetKind.ALIYUN: 5.0}


@dataclass(frozen=True)
class Where:
    """The target options of one command."""

    target: str | None = None
    state: Path | None = None
    vpc: bool = False
    rate_limit: float | None = None  # None: the client's default

    @property
    def poll_interval(self) -> float:
        return POLL_INTERVALS[resolve_target(self.target, DEFAULT_REGION, self.vpc).kind]


@dataclass
class Wiring:
    connector: Callable[[Where], Connector]
    timer: Timer


def _connector(where: Where) -> Connector:
    return target_connector(where.target, state=where.state, vpc=where.vpc, retry=retry_settings(where.rate_limit))


WIRING = Wiring(connector=_connector, timer=RealTimer())


class PlanFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"


PathsArg = Annotated[list[Path] | None, typer.Argument(
    metavar="PATHS", show_default=False, help="Group files or directories (default: the current directory).")]
GroupOpt = Annotated[list[str] | None, typer.Option(
    "--group", "-g", metavar="GROUP", help="Only this group (name or region/name); repeatable.")]
RegionsOpt = Annotated[list[str] | None, typer.Option(
    "--region", envvar=ENV_REGION, metavar="REGION",
    help="Also read this region (besides the regions the files name); repeatable. Env: EAS_GITOPS_REGION.")]
PruneOpt = Annotated[bool, typer.Option(
    "--prune", help="Delete managed groups that no file declares (only services eas-gitops manages).")]
AdoptOpt = Annotated[bool, typer.Option(
    "--adopt", help="Take over declared services that exist without the eas-gitops ownership label.")]
MaxShiftOpt = Annotated[int, typer.Option(
    "--max-shift", min=1, max=100, metavar="N",
    help="Largest share (percentage points) a member may gain in one step from 0 %.")]
ForceOpt = Annotated[bool, typer.Option("--force", help=(
    "Overrule the safety findings a person can judge from the plan: max_shift, and a member eas-gitops does not "
    "touch getting traffic while not ready. Each overrule is shown as a warning; the other rules never yield."))]


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


async def read_regions(where: Where, regions: Sequence[str]) -> LiveState:
    async with connect_all(WIRING.connector(where), regions) as links:
        return await read_live({r: link.client for r, link in links.items()})


async def make_plan(req: PlanRequest) -> tuple[Plan, LiveState]:
    """Load (SpecError lists every problem, also the rollout rules of the target and max_shift), read live,
    build the plan (PlanError when unsafe)."""
    desired = load_paths(list(req.paths) or [Path(".")])
    kind = resolve_target(req.where.target, DEFAULT_REGION, req.where.vpc).kind
    problems = [p for g in desired.groups for p in check_rollout_target(g, kind, req.max_shift)]
    if problems:  # rollout rules that need the target and max_shift, before any call to EAS
        raise SpecError(problems)
    regions = sorted({*desired.regions(), *req.regions})
    live = await read_regions(req.where, regions)
    plan = build_plan([g.group for g in desired.groups], live, prune=req.prune,
                      groups=set(req.groups) if req.groups else None, max_shift=req.max_shift,
                      force=req.force, adopt=req.adopt)
    return plan, live


def show(plan: Plan, fmt: PlanFormat = PlanFormat.TEXT) -> None:
    """Print a plan: rich colours on a terminal, plain text otherwise."""
    if fmt is PlanFormat.JSON:
        typer.echo(render_json(plan), nl=False)
    elif fmt is PlanFormat.MARKDOWN:
        typer.echo(render_markdown(plan), nl=False)
    elif is_terminal():
        Console().print(render_rich(plan))
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
        "--format", "-f", help="text for people, markdown for pull requests, json for machines.")] = PlanFormat.TEXT,
    detailed_exitcode: Annotated[bool, typer.Option(
        "--detailed-exitcode", help="Exit 2 when there are changes, 0 when there are none (1 stays error).")] = False,
    prune: PruneOpt = False,
    adopt: AdoptOpt = False,
    max_shift: MaxShiftOpt = DEFAULT_MAX_SHIFT,
    force: ForceOpt = False,
) -> None:
    """Show what apply would change, step by step, with every member's share after each step.

    Example:  eas-gitops plan examples/groups --format markdown --out plan.json
    """
    req = PlanRequest(paths or [], Where(target, state, vpc, rate_limit), region or [], group or [], prune, adopt,
                      max_shift, force)
    result, _ = run(lambda: make_plan(req))
    show(result, fmt)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render_json(result), encoding="utf-8")
        typer.echo(f"saved plan to {out}", err=True)
    if detailed_exitcode and result.has_changes:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
