"""`eas-gitops apply`: plan (or load a saved plan), confirm, carry it out, report.

- `apply PATHS`: plans like `plan`, shows it, asks for confirmation unless `--auto-approve`; with
  no terminal to ask on and no `--auto-approve` it refuses (exit 1) before any write. After a
  confirmation the live state is read again and must still have the plan's fingerprint.
- `apply --plan FILE`: applies a saved plan only if the live state still has the fingerprint the
  plan was made from (StalePlanError otherwise, zero writes).
- Progress: a line per group with its current step and elapsed time (rich Live on a terminal
  unless --no-color or NO_COLOR, plain lines otherwise); the journal goes to
  `.eas-gitops/journal/<UTC timestamp>.jsonl`.
- `--write-back`: a group that did not finish (failed, stopped, rolled back) gets its live state
  written into its file (`reconciler.cli.drift.write_back_unfinished`), so git says what is live.
- Rollouts: while a step bakes, a progress line after every check (step k/n, the canary's share,
  elapsed/bake, the last verdict); the report lists every check (time, metric, canary and baseline
  values, limit, verdict). Interrupted (Ctrl-C, SIGTERM) during a rollout: the canary leaves group
  traffic first, then the command says what is left and exits 130.
- One applier at a time: the groups the plan changes are locked in EAS before the live state that
  is carried out is read (`reconciler.cli.lock`; `--lock-timeout`, `--lock-ttl`).
- Exit codes: 0 every group done (or nothing to do), 1 a group failed or was stopped (its traffic
  restored where safe, see the report), or any error before the first write; 3 a release was
  aborted and rolled back (no group failed otherwise: a failure's 1 wins over 3).
"""

from __future__ import annotations

import dataclasses
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reconciler.cli import lock as lock_cli
from reconciler.cli import plan as plan_cli
from reconciler.cli.common import RateLimitOpt, StateOpt, TargetOpt, VpcOpt, run
from reconciler.cli.output import NoColorOpt, color_wanted, console, is_terminal
from reconciler.defaults import DEFAULT_MAX_SHIFT, DEFAULT_PARALLEL, DEFAULT_TIMEOUT, JOURNAL_DIR
from reconciler.errors import ConfigError, RolloutAbortedError

if TYPE_CHECKING:
    from collections.abc import Awaitable

    from rich.table import Table

    from reconciler.apply.executor import ApplySettings, Guard
    from reconciler.apply.report import ApplyReport, Event
    from reconciler.live.model import LiveState
    from reconciler.plan.model import Plan, Step

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = (*plan_cli.ENGINE, *lock_cli.ENGINE, "reconciler.apply.executor", "reconciler.apply.journal",
          "reconciler.apply.report", "reconciler.apply.secrets", "reconciler.live.model", "reconciler.plan.build",
          "reconciler.plan.model", "rich.live", "rich.table")


async def live_now(plan: Plan, where: plan_cli.Where, what: str) -> LiveState:
    """Live state now, for the plan's groups; StalePlanError when it moved since the plan was made."""
    from reconciler.plan.build import ensure_fresh

    live = await plan_cli.read_regions(where, sorted({g.region for g in plan.groups}))
    ensure_fresh(plan, live, what)
    return live


async def load_saved(file: Path, where: plan_cli.Where) -> tuple[Plan, LiveState]:
    """A saved plan and the live state now; StalePlanError when live moved since the plan was made."""
    from reconciler.plan.model import load_plan

    try:
        saved = load_plan(file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read the plan file {file}: {exc.strerror}") from exc
    where = await plan_cli.served_region(where)
    plan_cli.announce(where)
    where.refuse_unserved((g.region for g in saved.groups), f"the saved plan {file}")
    return saved, await live_now(saved, where, f"the saved plan {file}")


def refuse_saved_plan_as_path(paths: list[Path], saved: Path | None) -> None:
    """`apply plan.json` means `apply --plan plan.json`: say so instead of "no yaml files"."""
    plans = [p for p in paths if p.suffix == ".json"]
    if plans and saved is None:
        raise ConfigError(f"{plans[0]} is not a group file: to apply a saved plan, pass it with "
                          f"--plan: eas-gitops apply --plan {shlex.quote(str(plans[0]))}")


def refuse_planning_options(req: plan_cli.PlanRequest) -> None:
    """A saved plan is applied whole, as it was made: options that shape a plan would be silently ignored.

    (--region only adds regions to read, and may come from EAS_GITOPS_REGION: it is not refused.)
    """
    given = [flag for flag, value in (
        ("PATHS", bool(req.paths)), ("--group", bool(req.groups)),
        ("--prune", req.prune), ("--adopt", req.adopt), ("--max-shift", req.max_shift != DEFAULT_MAX_SHIFT),
        ("--force", req.force), ("--changed-since", bool(req.changed_since))) if value]
    if given:
        raise ConfigError(f"{', '.join(given)} shape a new plan and cannot change a saved one: give them to "
                          "`eas-gitops plan ... --out FILE` and apply that file, or apply PATHS without --plan")


class PlainProgress:
    """One line per event, for CI logs."""

    def __call__(self, e: Event) -> None:
        from reconciler.apply.report import EventKind

        where = f"[{e.region}/{e.group}]"
        if e.kind is EventKind.STEP_START and e.step is not None:
            what = f"{e.step.action.value} {e.step.service or '(group)'}"
            typer.echo(f"{where} step {e.step.index}/{e.total_steps} {what} ({e.elapsed:.1f}s)")
        elif e.kind is EventKind.BAKE_CHECK:
            typer.echo(f"{where} {e.message} ({e.elapsed:.1f}s)")
        elif e.kind is EventKind.ABORT:
            typer.echo(f"{where} RELEASE ABORTED: {e.message}; running the abort path")
        elif e.kind is EventKind.ROLLBACK:
            typer.echo(f"{where} FAILED: {e.message}; restoring traffic ({e.elapsed:.1f}s)")
        elif e.kind is EventKind.GROUP_DONE:
            typer.echo(f"{where} {e.outcome.value if e.outcome else 'done'} ({e.elapsed:.1f}s)")


class LiveProgress:
    """A table refreshed in place, 4 times a second: group, current step, elapsed (ticking while it runs)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        from rich.live import Live

        self.clock = clock
        self.rows: dict[str, tuple[str, float, float | None]] = {}  # group -> (step text, start, end)
        self.live = Live(get_renderable=self._table, refresh_per_second=4, transient=False, console=console())

    def _table(self) -> Table:
        from rich.table import Table

        table = Table("group", "step", "elapsed", title="apply")
        for group, (step, start, end) in self.rows.items():
            table.add_row(group, step, f"{(end if end is not None else self.clock()) - start:.1f}s")
        return table

    def __call__(self, e: Event) -> None:
        from reconciler.apply.report import EventKind

        key = f"{e.region}/{e.group}"
        text, start, end = self.rows.get(key, ("starting", self.clock() - e.elapsed, None))
        if e.step is not None and e.kind is EventKind.STEP_START:
            text = f"{e.step.index}/{e.total_steps} {e.step.action.value} {e.step.service or ''}".rstrip()
        elif e.kind is EventKind.BAKE_CHECK:
            text = e.message
        elif e.kind is EventKind.ABORT:
            text = f"release aborted: {e.message}; running the abort path"
        elif e.kind is EventKind.ROLLBACK:
            text = f"failed: {e.message}; restoring traffic"
        elif e.kind is EventKind.GROUP_DONE:
            text, end = (e.outcome.value if e.outcome else "done"), self.clock()
        self.rows[key] = (text, start, end)


def _steps(steps: list[Step]) -> str:
    return ", ".join(f"{s.index}. {s.action.value} {s.service or '(group)'}" for s in steps)


def print_report(report: ApplyReport) -> None:
    """Per group: outcome; for one that did not finish, which steps were done, what failed, was restored, is left."""
    from reconciler.apply.report import GroupOutcome, check_lines

    for g in report.groups:
        typer.echo(f"{g.region}/{g.group}: {g.outcome.value}, {len(g.done)} step(s) done in {g.elapsed:.1f}s")
        if g.outcome is not GroupOutcome.DONE and g.done:
            typer.echo(f"  done: {_steps(g.done)}")
        if g.failed_step is not None:
            typer.echo(f"  failed at step {g.failed_step.index} ({g.failed_step.action.value} "
                       f"{g.failed_step.service or ''}): {g.error}")
        if g.outcome is GroupOutcome.STOPPED and g.error:
            typer.echo(f"  stopped: {g.error}")
        for record in g.checks:
            for line in check_lines(record):
                typer.echo(f"  check {line}" if not line.startswith(" ") else f"  {line}")
        for line in g.rollback:
            typer.echo(f"  {'abort path' if g.outcome is GroupOutcome.ROLLED_BACK else 'restored'}: {line}")
        for line in g.not_restored:
            typer.echo(f"  not restored: {line}")
        if g.left:
            typer.echo(f"  left ({len(g.left)} step(s)): {_steps(g.left)}")
    if report.journal:
        typer.echo(f"journal: {report.journal}")


def can_ask() -> bool:
    return sys.stdin.isatty()


def confirm(auto_approve: bool) -> None:
    if auto_approve:
        return
    if not can_ask():
        typer.echo("error: no terminal to confirm on: review the plan and pass --auto-approve (nothing was changed)",
                   err=True)
        raise typer.Exit(1)
    if not typer.confirm("Apply these changes?", default=False):
        typer.echo("cancelled: nothing was changed")
        raise typer.Exit(1)


async def replan(req: plan_cli.PlanRequest, first: Plan, first_live: LiveState) -> tuple[Plan, LiveState]:
    """Under the lock: plan the locked groups again from what is live now (another apply may have
    changed them while this one waited); the new plan is shown when it differs."""
    from reconciler.live.model import fingerprint

    groups = [f"{r}/{n}" for r, n in lock_cli.locked_keys(first)]
    fresh, live = await plan_cli.make_plan(dataclasses.replace(req, groups=groups), say_target=False)
    if fresh.live_fingerprint != fingerprint(first_live.only(fresh.group_keys())):
        typer.echo("live state changed while waiting for the lock: planned again", err=True)
        plan_cli.show(fresh)
    return fresh, live


async def execute(plan: Plan, live: LiveState, where: plan_cli.Where, settings: ApplySettings,
                  journal_dir: Path, guard: Guard | None = None) -> ApplyReport:
    import asyncio

    from reconciler.apply.executor import Executor
    from reconciler.apply.journal import Journal
    from reconciler.apply.runtime import connect_all

    journal = Journal.in_dir(journal_dir)
    live_view = LiveProgress() if is_terminal() and color_wanted() else None  # --no-color: no cursor moves either
    progress = live_view if live_view is not None else PlainProgress()
    try:
        async with connect_all(plan_cli.WIRING.connector(where), {g.region for g in plan.groups if g.steps}) as links:
            executor = Executor(links, plan_cli.WIRING.timer, settings=settings, journal=journal, progress=progress,
                                guard=guard)
            try:
                if live_view is not None:
                    with live_view.live:
                        return await executor.run(plan, live)
                return await executor.run(plan, live)
            except asyncio.CancelledError:
                for line in executor.interrupted:
                    typer.echo(f"interrupted: {line}", err=True)
                raise
    finally:
        journal.close()


def apply(
    paths: plan_cli.PathsArg = None,
    saved: Annotated[Path | None, typer.Option(
        "--plan", dir_okay=False, metavar="FILE", help="Apply this saved plan (from plan --out) instead of planning.")
    ] = None,
    target: TargetOpt = None,
    state: StateOpt = None,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
    region: plan_cli.RegionsOpt = None,
    group: plan_cli.GroupOpt = None,
    auto_approve: Annotated[bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")] = False,
    parallel: Annotated[int, typer.Option("--parallel", min=1, metavar="N", help="Groups applied at once.")]
    = DEFAULT_PARALLEL,
    fail_fast: Annotated[bool, typer.Option(
        "--fail-fast", help="When a group fails, stop the others at their next step boundary.")] = False,
    prune: plan_cli.PruneOpt = False,
    adopt: plan_cli.AdoptOpt = False,
    max_shift: plan_cli.MaxShiftOpt = DEFAULT_MAX_SHIFT,
    force: plan_cli.ForceOpt = False,
    changed_since: plan_cli.ChangedSinceOpt = None,
    timeout: Annotated[float, typer.Option(
        "--timeout", min=1, metavar="SECONDS", help="Longest wait for one step (e.g. a member to be Running).")]
    = DEFAULT_TIMEOUT,
    journal_dir: Annotated[Path, typer.Option(
        "--journal-dir", file_okay=False, metavar="DIR", help="Where the apply journal is written.")] = JOURNAL_DIR,
    write_back: Annotated[bool, typer.Option(
        "--write-back", help="When a group does not finish, write its live state into its file (with --plan: "
                             "the files under the current directory).")] = False,
    lock_timeout: lock_cli.LockTimeoutOpt = lock_cli.DEFAULT_LOCK_TIMEOUT,
    lock_ttl: lock_cli.LockTtlOpt = lock_cli.DEFAULT_LOCK_TTL,
    no_color: NoColorOpt = False,  # acted on while parsing (output.SETTINGS)
) -> None:
    """Carry out the plan: safe order, every write read back, groups in parallel.

    Example:  eas-gitops apply examples/groups --auto-approve
    """
    from reconciler.apply.executor import ApplySettings
    from reconciler.apply.secrets import check_env
    from reconciler.cli import gha

    refuse_saved_plan_as_path(paths or [], saved)
    where = plan_cli.Where(target, state, vpc, rate_limit).resolved(paths or [], region or [])
    locking = lock_cli.lock_settings(lock_timeout, lock_ttl)
    req = plan_cli.PlanRequest(paths or [], where, region or [], group or [], prune, adopt, max_shift, force,
                               changed_since)
    if saved is not None:
        refuse_planning_options(req)
        result, live = run(lambda: load_saved(saved, where))
    else:
        result, live = run(lambda: plan_cli.make_plan(req))
    plan_cli.show(result)
    if not result.has_changes:
        gha.publish_apply(None, 0)  # under GitHub Actions: the outcome as step outputs
        return
    check_env(result)
    confirm(auto_approve)
    if not auto_approve and saved is None:  # a person took time to read: refuse a moved state before locking
        live = run(lambda: live_now(result, where, "the plan you confirmed"))
    settings = ApplySettings(parallel=parallel, fail_fast=fail_fast, timeout=timeout,
                             poll_interval=where.poll_interval)
    again = " ".join(["eas-gitops plan", *(shlex.quote(str(p)) for p in paths or [])] if paths else
                     ["eas-gitops plan PATHS"])
    first, first_live = result, live

    async def read() -> tuple[Plan, LiveState]:  # under the lock: what is live now
        if saved is None and auto_approve:
            return await replan(req, first, first_live)
        what = f"the saved plan {saved}" if saved is not None else "the plan you confirmed"
        return first, await live_now(first, where, what)  # what was reviewed must still hold

    executing: list[bool] = []  # set once the plan starts being carried out (past the lock)

    def carry_out(todo: Plan, now: LiveState, guard: Guard) -> Awaitable[ApplyReport]:
        executing.append(True)
        return execute(todo, now, where, settings, journal_dir, guard)

    def interrupted() -> str:
        if not executing:  # waiting for or taking the lock, or reading under it: no step has run
            return f"interrupted before the first step: nothing was changed. Run `{again}` and apply again"
        return (f"interrupted: apply stopped; the journal under {journal_dir} records what was done. "
                f"Run `{again}` to see what is left, then apply again")

    report = run(lambda: lock_cli.under_lock(result, where, locking, read, carry_out), interrupted=interrupted)
    if report is None:
        typer.echo("No changes left: another apply did them while this one waited for the lock.")
        gha.publish_apply(None, 0)
        return
    print_report(report)
    if write_back and not report.ok:
        from reconciler.cli.drift import write_back_unfinished

        write_back_unfinished(paths or [Path(".")], where, report)
    gha.publish_apply(report, exit_code(report))
    if not report.ok:
        failed = _failed(report)
        if not failed:
            rolled = ", ".join(f"{g.region}/{g.group}" for g in report.rolled_back)
            raise RolloutAbortedError(f"release rolled back: {rolled} (the files are ahead of live: the next "
                                      "apply starts the release again from its first step)")
        typer.echo(f"error: apply did not finish: {', '.join(failed)}", err=True)
        raise typer.Exit(1)


def _failed(report: ApplyReport) -> list[str]:
    """The groups that neither finished nor were rolled back by a rollout's abort path."""
    from reconciler.apply.report import GroupOutcome

    return [f"{g.region}/{g.group}" for g in report.groups
            if g.outcome not in (GroupOutcome.DONE, GroupOutcome.ROLLED_BACK)]


def exit_code(report: ApplyReport) -> int:
    """The code `apply` exits with after `report`: 0 done, 1 when a group failed, 3 when the only trouble is a
    rolled-back release (`RolloutAbortedError`); the same number goes to the GitHub Actions outputs."""
    if report.ok:
        return 0
    return 1 if _failed(report) else RolloutAbortedError.exit_code


def register(app: typer.Typer) -> None:
    app.command("apply")(apply)
