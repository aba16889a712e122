"""The `eas-gitops` command: the root typer app.

Each command lives in its own module under `reconciler.cli` and exposes `register(app)`. The root
loads a command's module only when that command runs (or its help is shown): `eas-gitops --help`
lists the commands from `COMMANDS` without importing any of them, and `eas-gitops validate` never
imports the emulator or the apply engine. That keeps start-up fast (`--help` in well under 0.2 s).

A command's module imports at its top only what typer needs to build the options (typer, the
option types of `cli.common` and `cli.output`, light enums and defaults such as
`reconciler.defaults` and `reconciler.target_names`), so `eas-gitops <command> --help` loads no
engine, client, emulator app, httpx, rich or pydantic (tests/cli/test_usage.py checks it). What the
command runs on is imported inside its functions; the module lists those modules in `ENGINE`, and
the root imports them just before the command starts, while start-up still pauses the collector
(`main`). A module missing from `ENGINE` is still imported where it is used, only more slowly.

The CLI is the only layer that prints or exits: library code raises
`reconciler.errors.EasGitopsError` and the root maps it to a message and an exit code. Usage errors
(an unknown option, a bad value) exit 1, never click's 2: under `plan --detailed-exitcode`, 2 means
"changes pending", and a typo must not look like that.
"""

from __future__ import annotations

import functools
import gc
import importlib
import re
from dataclasses import dataclass
from typing import Any

import typer
from typer.core import TyperGroup

from reconciler import __version__
from reconciler.cli.help_option import BoolHelpGroup
from reconciler.errors import EasGitopsError

USAGE_EXIT = 1
# command -> (module that registers it, the one line the root help lists for it)
COMMANDS: dict[str, tuple[str, str]] = {
    "validate": ("reconciler.cli.validate", "Check ServiceGroup files without contacting EAS."),
    "schema": ("reconciler.cli.validate", "Write the JSON Schema of a ServiceGroup file."),
    "status": ("reconciler.cli.status", "Show live services, their traffic shares and group modes."),
    "plan": ("reconciler.cli.plan", "Show what apply would change, step by step."),
    "apply": ("reconciler.cli.apply", "Carry out the plan without dropping traffic."),
    "drift": ("reconciler.cli.drift", "Show live changes the files do not say; --write records them."),
    "import": ("reconciler.cli.import_", "Write a group file from a live group, to adopt it."),
    "emulator": ("reconciler.cli.emulator", "Run and inspect the local PAI-EAS emulator."),
    "unlock": ("reconciler.cli.lock", "Break a group's apply lock by hand (its holder died)."),
}
_SINGLE_DASH_LONG = re.compile(r"^-([a-z][a-z-]+)(=.*)?$")
_SHORT_WITH_EQUALS = re.compile(r"^(-[a-zA-Z])=(.*)$")


class _Root(BoolHelpGroup):
    """Loads commands on demand, maps errors to exit codes (no traceback), catches `-out=...`."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            self._load(COMMANDS[cmd_name][0])
        return self.commands.get(cmd_name)

    def _load(self, module: str) -> None:
        holder = typer.Typer(add_completion=False, rich_markup_mode=None)
        loaded = importlib.import_module(module)
        loaded.register(holder)
        engine: tuple[str, ...] = getattr(loaded, "ENGINE", ())
        for name, command in typer.main.get_group(holder).commands.items():
            command.short_help = COMMANDS[name][1] if name in COMMANDS else command.short_help
            _starts_after(command, engine)
            self.add_command(command, name)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        """The command list of `--help`, from `COMMANDS` (no module is imported for it)."""
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, (_, short) in COMMANDS.items()])

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        _refuse_single_dash_long(self, ctx, args)
        return super().parse_args(ctx, args)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        return _usage_exits_1(lambda: super(_Root, self).make_context(*args, **kwargs))

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        try:
            return _usage_exits_1(lambda: super(_Root, self).invoke(ctx))
        except EasGitopsError as err:
            from reconciler.cli.common import report_error

            report_error(err)
            raise typer.Exit(err.exit_code) from None


def _starts_after(command: Any, engine: tuple[str, ...]) -> None:
    """`command` (each command of a group) first imports `engine`, with the collector still paused, then ends
    the pause and runs. Its line is parsed before (so `--help` imports none of it); a group's own callback
    runs before its command's line is parsed, and is left as it is."""
    if hasattr(command, "commands"):
        for sub in command.commands.values():
            _starts_after(sub, engine)
        return
    callback = command.callback
    if callback is None:
        return

    @functools.wraps(callback)
    def start(*args: Any, **kwargs: Any) -> Any:
        for name in engine:
            importlib.import_module(name)
        end_startup_pause()
        return callback(*args, **kwargs)

    command.callback = start


def _usage_exits_1(call: Any) -> Any:
    """Run `call`; a click usage error (exit code 2) leaves with exit code 1 instead."""
    try:
        return call()
    except typer.TyperException as err:  # click's ClickException family (UsageError, BadParameter...)
        if getattr(err, "exit_code", None) == 2:
            err.exit_code = USAGE_EXIT
        raise


def _options(command: Any) -> set[str]:
    """Every option spelling of a command: `--out`, `-o`, ..."""
    return {opt for param in getattr(command, "params", ()) for opt in getattr(param, "opts", ())}


def _refuse_single_dash_long(root: _Root, ctx: Any, args: list[str]) -> None:
    """`-out=plan.json` parses as `-o` with the value `ut=plan.json`: refuse it and show `--out=plan.json`;
    `-o=plan.json` would save to `=plan.json`: refuse it and show `-o plan.json`.

    Looks up the command (and sub-command) named on the line and checks each single-dash word that
    spells one of its long options.
    """
    command: Any = root
    for arg in args:
        if arg == "--":
            return
        if isinstance(command, TyperGroup) and not arg.startswith("-"):
            command = command.get_command(ctx, arg) or command
            continue
        short_eq = _SHORT_WITH_EQUALS.match(arg)
        if short_eq and short_eq.group(1) in _options(command):  # click would read the value as "=plan.json"
            ctx.fail(f"{arg!r}: a short option takes its value after a space: {short_eq.group(1)} {short_eq.group(2)}")
        match = _SINGLE_DASH_LONG.match(arg)
        if match and f"--{match.group(1)}" in _options(command):
            short = arg[:2]
            read_as = (f" is read as the short option {short} with the value {arg[2:]!r}"
                       if short in _options(command) else "")
            ctx.fail(f"{arg!r}{read_as}: long options take two dashes: -{arg}")


app = typer.Typer(
    cls=_Root,
    name="eas-gitops",
    help=(
        "Declarative GitOps for Alibaba Cloud PAI-EAS service groups.\n\n"
        "Keep each service group in a YAML file; `plan` shows what will change and how every "
        "member's traffic share moves step by step; `apply` carries it out without dropping traffic.\n\n"
        "Example:  eas-gitops validate examples/groups"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"eas-gitops {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version_callback, is_eager=True, help="Print the version and exit."
    ),
    no_color: bool = typer.Option(
        False, "--no-color", help="Plain output without colour or other escape sequences (also: NO_COLOR=1)."),
) -> None:
    """Declarative GitOps for PAI-EAS service groups."""
    from reconciler.cli.output import SETTINGS

    SETTINGS.no_color = no_color  # set on every invocation: one process may run several (tests)


def main() -> None:
    """Console-script entry point.

    Start-up (loading the command's modules, building their models, parsing the line) allocates
    tens of thousands of long-lived objects and no garbage cycles worth collecting, so the cyclic
    collector is paused until the command itself starts (after its `ENGINE` is imported); then what
    exists is frozen (never scanned again) and the collector runs as usual for the command.
    """
    gc.disable()
    STARTUP.paused = True
    try:
        app()
    finally:
        end_startup_pause()


@dataclass
class _Startup:
    paused: bool = False


STARTUP = _Startup()


def end_startup_pause() -> None:
    """Resume the collector paused by `main` (once; a no-op when `main` did not pause it)."""
    if STARTUP.paused:
        STARTUP.paused = False
        gc.freeze()
        gc.enable()
