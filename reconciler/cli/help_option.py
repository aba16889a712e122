"""`BoolHelpGroup`: a typer group whose `--help` is False when not given.

typer (0.29) gives a group's help option no default, so on `eas-gitops <group> <command> ...` the
group's `--help` is None. None is not a bool, so typer coerces it through a pydantic TypeAdapter,
which imports pydantic (about 70 ms) before the command's own `--help` is even seen. With the
default False the value is already a bool and the coercion is skipped; the help text is unchanged.
The root (`reconciler.cli.main`) and the `emulator` group use it.
"""

from __future__ import annotations

from typing import Any

from typer.core import TyperGroup


class BoolHelpGroup(TyperGroup):
    def get_help_option(self, ctx: Any) -> Any:
        option = super().get_help_option(ctx)
        if option is not None and option.default is None:
            option.default = False
        return option
