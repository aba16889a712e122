"""`eas-gitops drift`: what live state has that the files do not say, per field, with its cause.

Reads like `plan` (the same files, target and regions) and never writes to EAS. Exit codes: 0 no
drift, 2 drift (changed by hand, an unmanaged member in a managed group, a managed service
missing), 1 error. Moved by the platform (an autoscaler) and pending (the file is ahead) are shown
but are not drift. With `--write` the exit code stays 2 when drift was found, so a workflow knows
to open a pull request with the edited files.

`--write` edits the group files to say the live values of the by-hand fields whose policy is
`report` (a `revert` field is left for the next apply; an unmanaged or missing member is not
written): only those values change in the files, every other byte stays. `--include-pending` also
writes the fields where the file is ahead of live: after an apply that stopped (a rollout rolled
back), that makes the files say what is live again. `write_back` is shared with `apply --write-back`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli import plan as plan_cli
from reconciler.cli.common import RateLimitOpt, StateOpt, TargetOpt, VpcOpt, run
from reconciler.cli.output import NoColorOpt
from reconciler.cli.where import unserved_problems
from reconciler.errors import SpecError

if TYPE_CHECKING:
    from reconciler.apply.report import ApplyReport
    from reconciler.desired.positions import Loc
    from reconciler.desired.state import DesiredState, LoadedGroup
    from reconciler.live.model import LiveState
    from reconciler.plan.drift import DriftItem
    from reconciler.plan.drift_report import Located

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.apply.report", "reconciler.apply.runtime", "reconciler.live.read", "reconciler.plan.drift",
          "reconciler.plan.drift_report", "reconciler.plan.overlay", "reconciler.desired.drift_policy",
          "reconciler.desired.loader", "reconciler.desired.write_back")

DRIFT_EXIT = 2


class DriftFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    MARKDOWN = "markdown"
    GITHUB = "github"


@dataclass(frozen=True)
class DriftRequest:
    paths: Sequence[Path]
    where: plan_cli.Where
    regions: Sequence[str] = ()
    groups: Sequence[str] = ()


def _file_loc(group: LoadedGroup, item: DriftItem) -> Loc:
    """Where the item's field is (or would be) written in the group file."""
    from reconciler.plan.drift import DriftClass

    if item.service is None:
        return ("spec", item.field)
    index = next((i for i, s in enumerate(group.group.spec.services) if s.name == item.service), None)
    if index is None:
        return ("spec", "services")
    member: tuple[str | int, ...] = ("spec", "services", index)
    if item.field == "service":
        return (*member, "name")
    if item.cls is DriftClass.PLATFORM:
        return (*member, "autoscaling")
    if item.field.startswith("labels."):
        return (*member, "labels", item.field.removeprefix("labels."))
    if item.path is not None:
        typed = item.names[1] if len(item.names) > 1 else None
        return (*member, *(typed.split(".") if typed else ("config", *item.path)))
    return (*member, item.field)


def locate(desired: DesiredState, items: Sequence[DriftItem]) -> list[Located]:
    from reconciler.plan.drift_report import Located

    by_key = {(g.region, g.name): g for g in desired.groups}
    out = []
    for item in items:
        group = by_key[(item.region, item.group)]
        line, col = group.positions.value(_file_loc(group, item)) if group.positions else (1, 1)
        out.append(Located(item, str(group.file), line, col))
    return out


async def find(req: DriftRequest, *, say_target: bool = True) -> tuple[DesiredState, LiveState, list[DriftItem]]:
    from reconciler.desired.loader import load_paths
    from reconciler.plan.drift import find_drift

    desired = load_paths(list(req.paths) or [Path(".")])
    where = await plan_cli.served_region(req.where)
    if say_target:  # after an apply (write-back) the target was said already
        plan_cli.announce(where)
    unserved = unserved_problems(where, desired.groups)
    if unserved:
        raise SpecError(unserved)
    live = await plan_cli.read_regions(where, where.regions_to_read([*desired.regions(), *req.regions]))
    items = find_drift([g.group for g in desired.groups], live, groups=set(req.groups) if req.groups else None)
    return desired, live, items


def to_write(item: DriftItem, *, include_pending: bool, include_revert: bool = False) -> bool:
    """Whether a write-back records this item's live value in the file (never where the file may be ahead)."""
    from reconciler.desired.drift_policy import DriftAction
    from reconciler.plan.drift import DriftClass

    if item.field == "service" or not item.shown or item.file_may_be_ahead:
        return False
    if item.cls is DriftClass.BY_HAND:
        return include_revert or item.action is not DriftAction.REVERT
    return include_pending and item.cls is DriftClass.PENDING


def write_back(desired: DesiredState, live: LiveState, items: Sequence[DriftItem], *, include_pending: bool,
               include_revert: bool = False) -> list[tuple[Path, int]]:
    """Record the chosen items' live values in their group files; (file, edits) per file changed.

    The edited files are loaded again; a file that no longer loads is put back as it was (SpecError)."""
    from reconciler.desired.loader import load_paths
    from reconciler.desired.write_back import write_file
    from reconciler.plan.overlay import file_edits, overlaid

    written: list[tuple[Path, int]] = []
    for group in desired.groups:
        chosen = [i for i in items if (i.region, i.group) == (group.region, group.name)
                  and to_write(i, include_pending=include_pending, include_revert=include_revert)]
        if not chosen:
            continue
        edits = file_edits(group.group, overlaid(group.group, live, chosen))
        before = group.file.read_text(encoding="utf-8")
        if write_file(group.file, edits):
            try:
                load_paths([group.file])
            except SpecError:
                group.file.write_text(before, encoding="utf-8")
                raise
            written.append((group.file, len(edits)))
    return written


def write_back_unfinished(paths: Sequence[Path], where: plan_cli.Where, report: ApplyReport) -> None:
    """After an apply: the groups that did not finish get every live value that differs written into their
    files (by-hand fields whatever their policy, and the fields the file is ahead on)."""
    from reconciler.apply.report import GroupOutcome

    unfinished = [f"{g.region}/{g.group}" for g in report.groups if g.outcome is not GroupOutcome.DONE]
    if not unfinished:
        return
    desired, live, items = run(lambda: find(DriftRequest(paths, where, groups=unfinished), say_target=False))
    written = write_back(desired, live, items, include_pending=True, include_revert=True)
    for file, count in written:
        typer.echo(f"write-back: wrote {count} live value(s) to {file}", err=True)
    if not written:
        typer.echo(f"write-back: the files of {', '.join(unfinished)} already say what is live", err=True)


def show(located: Sequence[Located], fmt: DriftFormat) -> None:
    from reconciler.plan.drift_report import render_github, render_json, render_markdown, render_text

    render = {DriftFormat.TEXT: render_text, DriftFormat.JSON: render_json,
              DriftFormat.MARKDOWN: render_markdown, DriftFormat.GITHUB: render_github}[fmt]
    typer.echo(render(located), nl=False)


def drift(
    paths: plan_cli.PathsArg = None,
    target: TargetOpt = None,
    state: StateOpt = None,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
    region: plan_cli.RegionsOpt = None,
    group: plan_cli.GroupOpt = None,
    fmt: Annotated[DriftFormat, typer.Option(
        "--format", "-f", help="text, json, markdown (issue or pull request), github (annotations).")
    ] = DriftFormat.TEXT,
    write: Annotated[bool, typer.Option(
        "--write", help="Edit the files to say the live values of by-hand changes (policy report).")] = False,
    include_pending: Annotated[bool, typer.Option(
        "--include-pending", help="With --write: also write fields where the file is ahead of live "
                                  "(after an apply that stopped).")] = False,
    no_color: NoColorOpt = False,  # acted on while parsing (output.SETTINGS)
) -> None:
    """Show what live state has that the files do not say: changed by hand, unmanaged, missing.

    Example:  eas-gitops drift examples/groups --write
    """
    where = plan_cli.Where(target, state, vpc, rate_limit).resolved(paths or [], region or [])
    req = DriftRequest(paths or [], where, region or [], group or [])
    desired, live, items = run(lambda: find(req))
    show(locate(desired, items), fmt)
    if write:
        for file, count in write_back(desired, live, items, include_pending=include_pending):
            typer.echo(f"wrote {count} value(s) to {file}", err=True)
    if any(i.counted for i in items):
        raise typer.Exit(DRIFT_EXIT)


def register(app: typer.Typer) -> None:
    app.command("drift")(drift)
