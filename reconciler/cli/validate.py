"""`eas-gitops validate` and `eas-gitops schema`: check desired-state files offline, export the JSON Schema.

validate prints one table per group (members, traffic, replicas, weights, the desired share each
member gets, billing and placement) and exits 0; on any problem it prints every problem on stderr,
one per line as `file:line:col: message (hint)`, and exits 1. Neither command talks to EAS.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from reconciler.analysis.durations import format_duration
from reconciler.errors import SpecError
from reconciler.spec.desired import DesiredState, LoadedGroup
from reconciler.spec.loader import DEFAULT_NAME_PATTERN, load_paths, notes_of
from reconciler.spec.model import Resources, ServiceSpec, TrafficMode, TrafficState
from reconciler.spec.rollout import RolloutSpec, resolve_canary
from reconciler.spec.schema import SCHEMA_FILE, schema_text
from reconciler.spec.shares import desired_shares, percent

ENV_NAME_PATTERN = "EAS_GITOPS_NAME_PATTERN"

VALIDATE_HELP = """Check ServiceGroup files without contacting EAS.

PATHS are files or directories (searched recursively for *.yaml and *.yml; hidden directories are
skipped); the default is the current directory. On success, prints each group's members with the
traffic share each one will get, and exits 0. On failure, prints every problem as
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


def _rollout_text(rollout: RolloutSpec, services: Sequence[ServiceSpec]) -> str:
    """`rollout: canary b, 10 % for 10m -> 50 % for 20m (at least 30m), cloudmonitor every 1m, on failure rollback`."""
    steps = " -> ".join(f"{s.share:g} % for {format_duration(s.bake)}" for s in rollout.steps)
    least = format_duration(sum(s.bake for s in rollout.steps))
    return (f"rollout: canary {resolve_canary(rollout, services)}, {steps} (at least {least}), "
            f"{rollout.analysis.provider} every {format_duration(rollout.analysis.interval)}, "
            f"on failure {rollout.on_failure}")


def _print_state(state: DesiredState) -> None:
    console = Console()
    if not console.is_terminal:
        console = Console(width=160)  # pipes and CI logs: wide enough that rows never wrap
    for loaded in state.groups:
        console.print(group_table(loaded))
        if loaded.group.spec.rollout is not None:
            console.print(_rollout_text(loaded.group.spec.rollout, loaded.group.spec.services), soft_wrap=True,
                          markup=False)
    members = sum(len(g.group.spec.services) for g in state.groups)
    console.print(f"OK: {len(state)} group{'s' * (len(state) != 1)}, {members} services")


def validate(
    paths: list[Path] = typer.Argument(
        None, metavar="PATHS", help="Files or directories (default: the current directory)."),
    name_pattern: str = typer.Option(
        DEFAULT_NAME_PATTERN, "--name-pattern", envvar=ENV_NAME_PATTERN, metavar="REGEX",
        help="Regular expression every group and service name must match."),
) -> None:
    try:
        state = load_paths(paths or [Path(".")], name_pattern=name_pattern)
    except SpecError as err:
        _print_notes(notes_of(err))
        for problem in err.problems:
            typer.echo(str(problem), err=True)
        typer.echo(f"{err} (exit 1)", err=True)
        raise typer.Exit(1) from None
    _print_notes(state.notes)
    _print_state(state)


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
