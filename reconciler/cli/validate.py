"""`eas-gitops validate` and `eas-gitops schema`: check desired-state files offline, export the JSON Schema.

validate prints one table per group (members, traffic, replicas, weights, the desired share each
member gets, billing and placement) and exits 0; on any problem it prints every problem on stderr,
one per line as `file:line:col: message (hint)`, and exits 1. Neither command talks to EAS.

Above `TABLES_UP_TO` groups (`--view auto`, the default) it prints one summary row per region
instead: a thousand tables are unreadable and take longer to draw than loading the files (about 8 ms
each). `--view tables` or `--view summary` chooses either way; `EAS_GITOPS_VALIDATE_VIEW` sets it.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from reconciler.analysis.duration_text import format_duration
from reconciler.cli.output import NoColorOpt
from reconciler.cli.output import console as make_console
from reconciler.desired.limits import DEFAULT_NAME_PATTERN
from reconciler.desired.schema import SCHEMA_FILE, schema_text
from reconciler.errors import SpecError
from reconciler.traffic import TrafficMode, TrafficState

if TYPE_CHECKING:
    from rich.table import Table

    from reconciler.desired.model import Resources, ServiceSpec
    from reconciler.desired.rollout import RolloutSpec
    from reconciler.desired.state import DesiredState, LoadedGroup

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.desired.loader", "reconciler.desired.rollout", "reconciler.desired.shares", "rich.table")

ENV_NAME_PATTERN = "EAS_GITOPS_NAME_PATTERN"
ENV_VIEW = "EAS_GITOPS_VALIDATE_VIEW"
TABLES_UP_TO = 20  # groups; more get the per-region summary under --view auto


class View(StrEnum):
    """What validate prints on success."""

    AUTO = "auto"
    TABLES = "tables"
    SUMMARY = "summary"


class ValidateFormat(StrEnum):
    TEXT = "text"
    GITHUB = "github"

VALIDATE_HELP = """Check ServiceGroup files without contacting EAS.

PATHS are files or directories (searched recursively for *.yaml and *.yml; hidden directories are
skipped); the default is the current directory. On success, prints each group's members with the
traffic share each one will get (above 20 groups: one summary row per region; see --view), and
exits 0. On failure, prints every problem as
file:line:col: message (hint) on stderr and exits 1. Files that are not *.yaml/*.yml are skipped
with a note on stderr either way; a path that does not exist is a problem.

Example:  eas-gitops validate examples/groups
"""

SCHEMA_HELP = f"""Write the JSON Schema of a ServiceGroup file (for editors and CI).

Prints the schema to stdout, or writes DIR/{SCHEMA_FILE} with --out.

Example:  eas-gitops schema --out schemas
"""


def _share_text(value: float) -> str:
    return f"{value:g} %"


def _replicas(service: ServiceSpec) -> str:
    if service.autoscaling is not None:
        return f"{service.autoscaling.min}-{service.autoscaling.max} (auto)"
    return str(service.replicas)


def _placement(res: Resources) -> str:
    parts: list[str] = []
    if res.types:
        parts.append(", ".join(res.types))
    if res.resource_group:
        parts.append(res.resource_group)
    if res.gpu:
        parts.append(f"{res.gpu} GPU")
    if res.gpu_memory:
        parts.append(f"{res.gpu_memory} GB GPU memory")
    if not res.types and res.cpu is not None:
        parts.append(f"{res.cpu:g} CPU, {res.memory} MB")
    text = " · ".join(parts)
    return f"{text} (spot ≤ {res.spot_price_limit:g})" if res.spot and res.spot_price_limit else text


def group_table(loaded: LoadedGroup) -> Table:
    """One group as a table: what `validate` shows for it."""
    from rich.table import Table

    from reconciler.desired.shares import desired_shares, percent

    group = loaded.group
    mode = group.spec.traffic_mode
    shares = desired_shares(group)
    table = Table(title=f"{group.name}  ({group.region}, traffic_mode {mode})  {loaded.file}", title_justify="left")
    for column in ("member", "role", "traffic", "replicas", "weight", "share", "billing", "GPU / instance type"):
        table.add_column(column, justify="right" if column in ("replicas", "weight", "share") else "left")
    for s in group.spec.services:
        weight = str(s.weight) if s.weight is not None else "-"
        share = _share_text(percent(shares[s.name]))
        if s.traffic is TrafficState.STANDALONE:
            share += " (direct only)"
        table.add_row(s.name, s.role or "", str(s.traffic), _replicas(s),
                      weight if mode is TrafficMode.CUSTOMIZED else "-", share,
                      str(s.resources.billing), _placement(s.resources))
    return table


def summary_table(state: DesiredState) -> Table:
    """One row per region: how many groups and members, how they take traffic, where they run."""
    from rich.table import Table

    table = Table(title=f"{len(state)} groups (per-group tables: --view tables)", title_justify="left")
    columns = ("region", "groups", "services", "grouping", "standalone", "autoscaled", "dedicated", "public")
    for column in columns:
        table.add_column(column, justify="left" if column == "region" else "right")
    for region in state.regions():
        groups = [g for g in state.groups if g.region == region]
        members = [s for g in groups for s in g.group.spec.services]
        standalone = sum(s.traffic is TrafficState.STANDALONE for s in members)
        dedicated = sum(s.resources.resource_group is not None for s in members)
        table.add_row(region, str(len(groups)), str(len(members)), str(len(members) - standalone), str(standalone),
                      str(sum(s.autoscaling is not None for s in members)), str(dedicated),
                      str(len(members) - dedicated))
    return table


def _rollout_text(rollout: RolloutSpec, services: Sequence[ServiceSpec]) -> str:
    """`rollout: canary b, 10 % for 10m -> 50 % for 20m (at least 30m), cloudmonitor every 1m, on failure rollback`."""
    from reconciler.desired.rollout import resolve_canary

    steps = " -> ".join(f"{s.share:g} % for {format_duration(s.bake)}" for s in rollout.steps)
    least = format_duration(sum(s.bake for s in rollout.steps))
    return (f"rollout: canary {resolve_canary(rollout, services)}, {steps} (at least {least}), "
            f"{rollout.analysis.provider} every {format_duration(rollout.analysis.interval)}, "
            f"on failure {rollout.on_failure}")


def _print_state(state: DesiredState, view: View) -> None:
    console = make_console()  # pipes and CI logs: wide enough that rows never wrap
    if view is View.TABLES or (view is View.AUTO and len(state) <= TABLES_UP_TO):
        for loaded in state.groups:
            console.print(group_table(loaded))
            if loaded.group.spec.rollout is not None:
                console.print(_rollout_text(loaded.group.spec.rollout, loaded.group.spec.services), soft_wrap=True,
                              markup=False)
    else:
        console.print(summary_table(state))
    members = sum(len(g.group.spec.services) for g in state.groups)
    console.print(f"OK: {len(state)} group{'s' * (len(state) != 1)}, {members} services")


def validate(
    paths: list[Path] = typer.Argument(
        None, metavar="PATHS", help="Files or directories (default: the current directory)."),
    name_pattern: str = typer.Option(
        DEFAULT_NAME_PATTERN, "--name-pattern", envvar=ENV_NAME_PATTERN, metavar="REGEX",
        help="Regular expression every group and service name must match."),
    view: View = typer.Option(
        View.AUTO, "--view", envvar=ENV_VIEW, case_sensitive=False,
        help=f"tables: one per group; summary: one row per region; auto: tables up to {TABLES_UP_TO} groups."),
    fmt: ValidateFormat = typer.Option(
        ValidateFormat.TEXT, "--format", "-f",
        help="github: also print each problem as a workflow annotation (::error file=...,line=...) on stdout."),
    no_color: NoColorOpt = False,  # acted on while parsing (output.SETTINGS)
) -> None:
    from reconciler.desired.loader import load_paths, notes_of

    try:
        state = load_paths(paths or [Path(".")], name_pattern=name_pattern)
    except SpecError as err:
        if fmt is ValidateFormat.GITHUB:
            from reconciler.cli import gha  # here: a plain validate never imports the plan engine

            gha.print_problems(err.problems)
        _print_notes(notes_of(err))
        for problem in err.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{err} (exit 1)", err=True)
        raise typer.Exit(1) from None
    _print_notes(state.notes)
    _print_state(state, view)


def _print_notes(notes: Sequence[str]) -> None:
    for note in notes:
        typer.echo(f"note: {note}", err=True)


def schema(
    out: Path | None = typer.Option(None, "--out", file_okay=False, metavar="DIR",
                                    help=f"Write DIR/{SCHEMA_FILE} instead of printing."),
) -> None:
    text = schema_text()
    if out is None:
        typer.echo(text, nl=False)
        return
    out.mkdir(parents=True, exist_ok=True)
    target = out / SCHEMA_FILE
    target.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {target}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("validate", help=VALIDATE_HELP)(validate)
    app.command("schema", help=SCHEMA_HELP)(schema)
