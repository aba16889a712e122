"""How the CLI writes for people: one `console()` for every rich output, colour on or off.

- Colour: on for a terminal; off with `--no-color` (a root option, also accepted after the
  commands that print: plan, apply, status, validate, drift) or when the environment
  variable `NO_COLOR` is set to anything but the empty string (https://no-color.org). Off means
  plain text: no escape sequence at all, bold and dim included.
- Width: long lines wrap at the terminal's width; nothing is cropped. Output that is not a
  terminal (a pipe, a CI log) is laid out `PIPE_WIDTH` columns wide.
- Text is printed as it is: no rich markup and no emoji codes, so a path such as
  `groups/[prod]/:warning:/a.yaml` is shown as written (styles come from `Text` objects only).

rich is imported only when something is printed, so `--help` stays fast.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rich.console import Console

ENV_NO_COLOR = "NO_COLOR"
PIPE_WIDTH = 160


@dataclass
class OutputSettings:
    """Set once per invocation by the root command (`--no-color`)."""

    no_color: bool = False


SETTINGS = OutputSettings()


def _plain_output(value: bool) -> bool:
    """`--no-color` after a command: the same switch as the root option (never turns colour back on)."""
    if value:
        SETTINGS.no_color = True
    return value


NoColorOpt = Annotated[bool, typer.Option(
    "--no-color", callback=_plain_output, help="Plain output without colour (as the root option; also NO_COLOR=1).")]


def color_wanted() -> bool:
    return not SETTINGS.no_color and not os.environ.get(ENV_NO_COLOR)


def is_terminal() -> bool:
    return sys.stdout.isatty()


def console() -> Console:
    """The console every command prints rich output on: stdout, wraps at the terminal, never crops."""
    from rich.console import Console

    terminal = is_terminal()
    color = color_wanted()
    return Console(width=None if terminal else PIPE_WIDTH, force_terminal=terminal,
                   color_system="auto" if color else None, no_color=not color, highlight=False,
                   markup=False, emoji=False)
