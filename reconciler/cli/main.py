"""The `eas-gitops` command: the root typer app.

Each command lives in its own module under `reconciler.cli` and exposes `register(app)`; this
module wires them together. The CLI is the only layer that prints or exits: library code raises
`reconciler.errors.EasGitopsError` and `run()` maps it to an exit code.
"""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from reconciler import __version__
from reconciler.errors import EasGitopsError


class _Root(TyperGroup):
    """Maps any EasGitopsError a command lets through to a message on stderr and its exit code (no traceback)."""

    def invoke(self, ctx: Any) -> Any:  # typer's vendored click.Context
        try:
            return super().invoke(ctx)
        except EasGitopsError as err:
            from reconciler.cli.common import report_error

            report_error(err)
            raise typer.Exit(err.exit_code) from None


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
) -> None:
    """Declarative GitOps for PAI-EAS service groups."""


def _register_commands() -> None:
    # One line per command module; each module adds its commands to `app`.
    from reconciler.cli import validate

    validate.register(app)
    from reconciler.cli import status

    status.register(app)
    from reconciler.cli import apply, import_, plan

    plan.register(app)
    apply.register(app)
    import_.register(app)
    from reconciler.cli import emulator

    emulator.register(app)
    from reconciler.cli import lock

    lock.register(app)


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app()
