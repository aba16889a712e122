"""The lock side of the CLI: `apply`'s lock options and run, and `eas-gitops unlock GROUP`.

`apply` takes the locks of every group its plan changes (`reconciler.apply.lock`), and only then
reads the live state it carries out: a fresh plan with `--auto-approve` is made again from that
read (the state the previous holder left), a confirmed or saved plan must still have its
fingerprint. An apply with nothing to do takes no lock and writes nothing. While it waits, the
holder is printed on stderr (again when it changes, and every `NOTE_EVERY` seconds).

`unlock GROUP [--region R]` removes a group's lock whoever holds it (a holder that died and whose
lock has not expired yet); it asks first, and without a terminal it needs `--yes`.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.analysis.duration_text import format_duration, parse_duration
from reconciler.cli import plan as plan_cli
from reconciler.cli.common import ENV_REGION, RateLimitOpt, StateOpt, TargetOpt, VpcOpt, run
from reconciler.defaults import LOCK_TIMEOUT, LOCK_TTL
from reconciler.errors import ConfigError
from reconciler.target_names import DEFAULT_REGION

if TYPE_CHECKING:
    from reconciler.apply.executor import Guard
    from reconciler.apply.lock import GroupKey, Holder, LockSettings, Wait
    from reconciler.apply.report import ApplyReport
    from reconciler.live.model import LiveState
    from reconciler.plan.model import Plan

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.apply.lock", "reconciler.apply.runtime")

NOTE_EVERY = 15.0  # seconds between two "still waiting" lines for the same holder


def parse_lock_duration(text: str, option: str) -> float:
    """`0` or a duration with a unit (`30s`, `5m`); ConfigError naming the option otherwise."""
    if text.strip() == "0":
        return 0.0
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise ConfigError(f"{option}: {exc}") from None


LockTimeoutOpt = Annotated[str, typer.Option(
    "--lock-timeout", metavar="DURATION",
    help="How long to wait for another apply's lock on a group (0: refuse at once, naming the holder).")]
LockTtlOpt = Annotated[str, typer.Option(
    "--lock-ttl", metavar="DURATION",
    help="How long a lock lives unless renewed (renewed every third of it while apply runs).")]
DEFAULT_LOCK_TIMEOUT = format_duration(LOCK_TIMEOUT)  # LockSettings().timeout
DEFAULT_LOCK_TTL = format_duration(LOCK_TTL)  # LockSettings().ttl


class WaitNotes:
    """Prints who holds the lock on stderr: when the holders change, then every NOTE_EVERY seconds."""

    def __init__(self) -> None:
        self.last: tuple[tuple[GroupKey, str], ...] = ()
        self.noted = -NOTE_EVERY

    def __call__(self, wait: Wait) -> None:
        holders = tuple(sorted((k, h.token if h else "") for k, h in wait.holders.items()))
        if holders == self.last and wait.waited - self.noted < NOTE_EVERY:
            return
        self.last, self.noted = holders, wait.waited
        for (region, group), holder in sorted(wait.holders.items()):
            who = holder.describe(wait.now) if holder else "(changing hands)"
            typer.echo(f"waiting for the lock on {region}/{group}: held by {who} "
                       f"(waited {format_duration(round(wait.waited))})", err=True)


def locked_keys(plan: Plan) -> list[GroupKey]:
    return [(g.region, g.name) for g in plan.groups if g.steps]



def lock_settings(timeout_text: str, ttl_text: str) -> LockSettings:
    """The settings of `--lock-timeout` and `--lock-ttl`; the read-back delay and the poll interval
    shrink with a short ttl (tests), so a lock is always taken well within its lifetime."""
    from reconciler.apply.lock import LockSettings

    timeout = parse_lock_duration(timeout_text, "--lock-timeout")
    ttl = parse_lock_duration(ttl_text, "--lock-ttl")
    if ttl <= 0:
        raise ConfigError("--lock-ttl must be more than 0")
    return LockSettings(timeout=timeout, ttl=ttl, settle=min(LockSettings().settle, ttl / 10),
                        poll=min(LockSettings().poll, max(ttl / 4, 0.05)))


async def under_lock(plan: Plan, where: plan_cli.Where, settings: LockSettings,
                     read: Callable[[], Awaitable[tuple[Plan, LiveState]]],
                     carry_out: Callable[[Plan, LiveState, Guard], Awaitable[ApplyReport]]) -> ApplyReport | None:
    """Take the locks of `plan`'s changed groups, `read` the plan to carry out (None when nothing is
    left to do), carry it out with the lock re-checked before every step, release."""
    from reconciler.apply.lock import Locks, new_group_workspaces
    from reconciler.apply.runtime import connect_all

    keys = locked_keys(plan)
    async with connect_all(plan_cli.WIRING.connector(where), sorted({r for r, _ in keys})) as links:
        locks = Locks({r: link.client for r, link in links.items()}, keys, settings, plan_cli.WIRING.timer,
                      on_wait=WaitNotes(), workspaces=new_group_workspaces(plan))
        async with locks.holding():
            typer.echo(f"locked {len(keys)} group(s) as {locks.me.who}", err=True)
            todo, live = await read()
            if not todo.has_changes:
                return None
            return await carry_out(todo, live, locks.check)


def _key(group: str, region: str | None) -> GroupKey:
    if "/" in group:
        where, _, name = group.partition("/")
        return where, name
    return region or DEFAULT_REGION, group


async def _holder(where: plan_cli.Where, key: GroupKey) -> Holder | None:
    from reconciler.apply.lock import lock_holder
    from reconciler.apply.runtime import connect_all

    async with connect_all(plan_cli.WIRING.connector(where), [key[0]]) as links:
        return await lock_holder(links[key[0]].client, key[1])


async def _break(where: plan_cli.Where, key: GroupKey) -> Holder | None:
    from reconciler.apply.lock import break_lock
    from reconciler.apply.runtime import connect_all

    async with connect_all(plan_cli.WIRING.connector(where), [key[0]]) as links:
        return await break_lock(links[key[0]].client, key[1])


def unlock(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The locked group (name or region/name).")],
    region: Annotated[str | None, typer.Option(
        "--region", envvar=ENV_REGION, metavar="REGION", help="The group's region. Env: EAS_GITOPS_REGION.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask (needed without a terminal).")] = False,
    target: TargetOpt = None,
    state: StateOpt = None,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
) -> None:
    """Break a group's apply lock by hand (its holder died and the lock has not expired yet).

    Example:  eas-gitops unlock cn-shanghai/pmml --yes
    """
    key = _key(group, region)
    where = plan_cli.Where(target, state, vpc, rate_limit).resolved([], [key[0]])
    name = f"{key[0]}/{key[1]}"
    holder = run(lambda: _holder(where, key))
    if holder is None:
        typer.echo(f"{name} is not locked: nothing to do")
        return
    now = plan_cli.WIRING.timer.epoch()
    typer.echo(f"{name} is locked by {holder.describe(now)}")
    if not yes:
        if not sys.stdin.isatty():
            typer.echo("error: no terminal to confirm on: pass --yes to break the lock (nothing was changed)",
                       err=True)
            raise typer.Exit(1)
        if not typer.confirm("Break this lock? An apply that still runs under it stops at its next step.",
                             default=False):
            typer.echo("cancelled: nothing was changed")
            raise typer.Exit(1)
    run(lambda: _break(where, key))
    typer.echo(f"unlocked {name}")


def register(app: typer.Typer) -> None:
    app.command("unlock")(unlock)
