"""Options and helpers every command that talks to EAS shares: target selection and error exits.

Use the `Annotated` aliases as parameter types so `status`, `plan` and `apply` spell the options the
same way:

    def plan(target: TargetOpt = None, state: StateOpt = None, region: RegionOpt = DEFAULT_REGION,
             vpc: VpcOpt = False) -> None:
        opts = TargetOptions(target, region, state, vpc)
        result = run(lambda: work(opts))

`report_error` is the one printer of an `EasGitopsError`; the root app (`main._Root`) calls it and
exits with the error's code (0 ok, 1 error, 3 rollout aborted; commands add 2 for
`--detailed-exitcode` themselves). `run` runs async work and maps Ctrl-C and SIGTERM (a cancelled
CI job) to 130: both cancel the work, so it can clean up (an apply takes a rollout's canary out of
group traffic) before the command exits.

Like the command modules, this one imports at its top only what the options need (`--help` loads no
client and no asyncio: see `reconciler.cli.main`); the rest is imported where it is used.
"""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from reconciler.errors import EasGitopsError, SpecError
from reconciler.target_names import DEFAULT_REGION, ENV_TARGET

if TYPE_CHECKING:
    from reconciler.eas.client import EasClient
    from reconciler.eas.retry import RetrySettings

T = TypeVar("T")
ENV_REGION = "EAS_GITOPS_REGION"

TargetOpt = Annotated[str | None, typer.Option(
    "--target", envvar=ENV_TARGET, show_default=False, metavar="TARGET",
    help="Where EAS is: local (default; the embedded emulator), http(s)://host:port (a served emulator or "
         "an EAS-compatible URL) or aliyun (the real API).")]
StateOpt = Annotated[Path | None, typer.Option(
    "--state", show_default=False, metavar="FILE", dir_okay=False,
    help="SQLite state of the local target (default: .eas-gitops/local.db at the root of the git work tree "
         "holding the files, or the working directory outside git).")]
RegionOpt = Annotated[str, typer.Option(
    "--region", envvar=ENV_REGION, metavar="REGION", help="EAS region, e.g. cn-shanghai.")]
RateLimitOpt = Annotated[float | None, typer.Option(
    "--rate-limit", envvar="EAS_GITOPS_RATE_LIMIT", min=0, metavar="CALLS_PER_S", show_default=False,
    help="Client-side limit on EAS API calls per second (default 20; 0 turns it off).")]
VpcOpt = Annotated[bool, typer.Option(
    "--vpc", help="aliyun target: use the VPC management endpoint pai-eas-manage-vpc.<region>.aliyuncs.com.")]


@dataclass(frozen=True)
class TargetOptions:
    """The target-selection options of one command invocation."""

    target: str | None = None
    region: str = DEFAULT_REGION
    state: Path | None = None
    vpc: bool = False
    rate_limit: float | None = None  # None: the client's default

    @asynccontextmanager
    async def client(self) -> AsyncIterator[EasClient]:
        from reconciler.targets import open_client

        async with open_client(self.target, self.region, state=self.state, vpc=self.vpc,
                               settings=retry_settings(self.rate_limit)) as client:
            yield client


def retry_settings(rate_limit: float | None) -> RetrySettings | None:
    """The client's retry settings with the command's `--rate-limit`, or None for the defaults."""
    from reconciler.eas.retry import RetrySettings

    return None if rate_limit is None else RetrySettings(rate_limit=rate_limit)


def report_error(err: EasGitopsError) -> None:
    """Print an error for people on stderr: its notes (e.g. skipped files), one line, every problem of a SpecError."""
    for note in getattr(err, "__notes__", ()):
        typer.echo(f"note: {note}", err=True)
    typer.echo(f"error: {err}", err=True)
    if isinstance(err, SpecError):
        for problem in err.problems:
            typer.echo(f"  {problem}", err=True)


def run(work: Callable[[], Awaitable[T]],
        interrupted: str | Callable[[], str] = "interrupted: nothing was changed") -> T:
    """Run async `work`. An EasGitopsError propagates to the root app (main._Root), the one place that
    turns it into a message on stderr (`report_error`) and its exit code. Ctrl-C exits 130 after
    `interrupted` (or what it returns, asked at that moment), which says what happened and what to
    run next."""
    import asyncio

    try:
        return asyncio.run(_await(work))
    except (KeyboardInterrupt, asyncio.CancelledError):
        typer.echo(interrupted if isinstance(interrupted, str) else interrupted(), err=True)
        raise typer.Exit(130) from None


async def _await(work: Callable[[], Awaitable[T]]) -> T:
    """`work`, cancelled by SIGTERM like asyncio.run cancels it on Ctrl-C (where signals can be caught)."""
    import asyncio

    loop, task = asyncio.get_running_loop(), asyncio.current_task()
    handled = False
    if task is not None:
        try:
            loop.add_signal_handler(signal.SIGTERM, task.cancel)
            handled = True
        except (NotImplementedError, RuntimeError, ValueError):  # not the main thread, or no signals here
            pass
    try:
        return await work()
    finally:
        if handled:
            loop.remove_signal_handler(signal.SIGTERM)

