"""`eas-gitops status`: the `eascmd ls` view of live services, plus each member's share and the group's mode.

Reads only: one ListServices listing (paged) and one ListGroups listing (or one DescribeGroup with
`--group`). Shares are computed with `reconciler.desired.shares.compute_shares` from what EAS lists
(traffic state, running instances, stored weight in customized mode), so they show what the
gateway does now, including a black hole (every share 0).

Commits: each service shows the `eas-gitops/commit` label the last apply that wrote to it left
(`reconciler.gitops.commit`: the sha, `-dirty` when its file differed), `-` when it has none; each
group shows the one commit all its managed members record, or every distinct one ("mixed") when
they differ, e.g. while a rollout of a new commit is under way or a member was not touched.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from reconciler.cli.common import RateLimitOpt, RegionOpt, StateOpt, TargetOpt, TargetOptions, VpcOpt, run
from reconciler.cli.output import NoColorOpt
from reconciler.cli.output import console as make_console
from reconciler.cli.where import Where
from reconciler.target_names import DEFAULT_REGION
from reconciler.traffic import TrafficMode, TrafficState

if TYPE_CHECKING:
    from rich.table import Table

    from reconciler.desired.shares import MemberTraffic
    from reconciler.eas.client import EasClient
    from reconciler.eas.models import Group, Service

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.gitops.commit", "reconciler.live.model", "reconciler.desired.shares", "reconciler.targets",
          "rich.table")


class OutputFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


@dataclass(frozen=True)
class Row:
    """One service as `status` shows it."""

    service: str
    group: str
    status: str
    running: int
    total: int
    cpu: float
    memory: int
    weight: int | None
    traffic_state: str
    share_percent: float | None  # None: the service is in no group
    commit: str | None = None  # the eas-gitops/commit label: the commit the last write came from


def _commit(service: Service) -> str | None:
    from reconciler.live.model import COMMIT_LABEL

    return service.labels.get(COMMIT_LABEL)


@dataclass(frozen=True)
class GroupView:
    name: str
    traffic_mode: str
    black_hole: bool
    commit: str | None = None  # the commit every managed member records (None: none, or they differ)
    commits: list[str] = field(default_factory=list)  # every distinct commit its managed members record


def _group_commits(members: list[Service]) -> list[str]:
    from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE

    managed = [s for s in members if s.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE]
    return sorted({c for s in managed if (c := _commit(s)) is not None})


@dataclass(frozen=True)
class StatusView:
    region: str
    rows: list[Row]
    groups: list[GroupView]


def _member(service: Service) -> MemberTraffic:
    from reconciler.desired.shares import MemberTraffic

    state = service.traffic or TrafficState.STANDALONE
    return MemberTraffic(service.service_name, state, service.running_instance, service.weight)


def build_view(region: str, services: list[Service], groups: dict[str, Group]) -> StatusView:
    """Rows sorted by group then service; shares per group from the listed numbers."""
    from reconciler.desired.shares import compute_shares, is_black_hole, percent

    by_group: dict[str, list[Service]] = {}
    for svc in services:
        by_group.setdefault(svc.service_group, []).append(svc)
    rows: list[Row] = []
    views: list[GroupView] = []
    for name in sorted(by_group):
        members = sorted(by_group[name], key=lambda s: s.service_name)
        shares = {}
        if name:
            mode = groups[name].mode if name in groups else TrafficMode.AUTO
            shares = compute_shares(mode, (_member(s) for s in members))
            commits = _group_commits(members)
            views.append(GroupView(name, mode.value, is_black_hole(shares),
                                   commits[0] if len(commits) == 1 else None, commits))
        rows.extend(Row(s.service_name, name, s.status, s.running_instance, s.total_instance, s.cpu, s.memory,
                        s.weight, s.traffic_state, percent(shares[s.service_name]) if name else None, _commit(s))
                    for s in members)
    return StatusView(region, rows, views)


async def collect(client: EasClient, group: str | None) -> StatusView:
    # An EAS endpoint (and an emulator) lists its own region only: no filter here.
    services = [s async for s in client.list_services(group_name=group)]
    groups = {group: await client.describe_group(group)} if group else {g.name: g async for g in client.list_groups()}
    return build_view(client.region, services, groups)


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def render_table(view: StatusView) -> Table:
    from rich.table import Table

    table = Table(title=f"EAS services in {view.region}", title_justify="left")
    for column in ("SERVICE", "GROUP", "MODE", "STATUS", "INSTANCES", "CPU", "MEMORY", "WEIGHT", "TRAFFIC", "SHARE",
                   "COMMIT"):
        table.add_column(column, justify="right" if column in ("CPU", "MEMORY", "WEIGHT", "SHARE") else "left",
                         overflow="fold")  # a narrow terminal wraps a long name, never crops it
    modes = {g.name: g.traffic_mode for g in view.groups}
    for row in view.rows:
        share = "-" if row.share_percent is None else f"{row.share_percent:g}%"
        table.add_row(row.service, row.group or "-", modes.get(row.group, "-"), row.status,
                      f"{row.running}/{row.total}", _num(row.cpu), f"{row.memory}M",
                      "-" if row.weight is None else str(row.weight), row.traffic_state or "-", share,
                      short_commit(row.commit))
    return table


def short_commit(value: str | None) -> str:
    """12 hex digits of the sha, keeping the `-dirty` suffix; `-` for none."""
    from reconciler.gitops.commit import label_value, parse_label

    if value is None:
        return "-"
    sha, dirty = parse_label(value)
    return label_value(sha[:12], dirty)


def group_commit_line(g: GroupView) -> str | None:
    """`group NAME: commit X` (or `mixed: X, Y`) below the table; None when no member records one."""
    if not g.commits:
        return None
    shown = ", ".join(short_commit(c) for c in g.commits)
    return f"group {g.name}: commit {shown}" if g.commit else f"group {g.name}: mixed commits {shown}"


def to_json(view: StatusView) -> str:
    data: dict[str, Any] = asdict(view)
    return json.dumps(data, indent=2, sort_keys=True)


def status(
    group: Annotated[str | None, typer.Option("--group", "-g", help="Show only this service group.")] = None,
    output: Annotated[OutputFormat, typer.Option("--format", "-f", help="table for people, json for machines.")]
    = OutputFormat.TABLE,
    target: TargetOpt = None,
    state: StateOpt = None,
    region: RegionOpt = DEFAULT_REGION,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
    no_color: NoColorOpt = False,  # acted on while parsing (output.SETTINGS)
) -> None:
    """Show live services: instances, CPU, memory, status, weight, traffic state, group share and mode.

    Example:  eas-gitops status --group pmml --target http://127.0.0.1:8080
    """
    where = Where(target, state, vpc, rate_limit).resolved((), [region])
    typer.echo(where.describe(), err=True)
    opts = TargetOptions(target, region, where.state, vpc, rate_limit)

    async def work() -> StatusView:
        async with opts.client() as client:
            return await collect(client, group)

    view = run(work)
    if output is OutputFormat.JSON:
        typer.echo(to_json(view))
        return
    console = make_console()
    if not view.rows:
        console.print(f"no services in {view.region}" + (f" group {group}" if group else ""))
        return
    console.print(render_table(view))
    for line in filter(None, map(group_commit_line, view.groups)):
        console.print(line, highlight=False)
    for g in view.groups:
        if g.black_hole:
            console.print(f"warning: group {g.name} has no eligible member: its endpoint answers 503")


def register(app: typer.Typer) -> None:
    app.command("status")(status)
