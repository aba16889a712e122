"""The floor of `cli_startup.py`: the libraries eas-gitops is built on, doing the least a command can do.

    python benchmarks/stack_floor.py --help               # a typer app with nine commands prints its help
    python benchmarks/stack_floor.py validate DIR         # read DIR's *.yaml, validate, print a table

`validate` here does the minimum the real command needs from each library: typer parses the line
(typer builds pydantic adapters for the parameters), ruamel.yaml's C loader reads every file,
one pydantic model with one field validates each file's `kind`, and rich prints one table with a
row per file. No rule of eas-gitops runs. Whatever the real command takes beyond this is ours;
this much is the price of Python and the libraries, and no code of ours can remove it.
"""

from __future__ import annotations

from pathlib import Path

import typer

app = typer.Typer(add_completion=False, rich_markup_mode=None, help="The libraries' floor.")


@app.command()
def validate(
    paths: list[Path] = typer.Argument(None, metavar="PATHS"),
    name_pattern: str = typer.Option("^[a-z]+$", "--name-pattern"),
    view: str = typer.Option("auto", "--view"),
    no_color: bool = typer.Option(False, "--no-color"),
) -> None:
    """Read the files, validate one model per file, print one table."""
    from pydantic import BaseModel, Field
    from rich.console import Console
    from rich.table import Table
    from ruamel.yaml import YAML

    class Named(BaseModel):
        kind: str = Field(min_length=1, max_length=63)

    yaml = YAML(typ="safe")
    table = Table(title="files", title_justify="left")
    for column in ("file", "kind", "documents"):
        table.add_column(column)
    for root in paths or [Path(".")]:
        for file in sorted(root.rglob("*.yaml")) if root.is_dir() else [root]:
            documents = list(yaml.load_all(file.read_text(encoding="utf-8")))
            table.add_row(str(file), Named(kind=str(documents[0].get("kind", "?"))).kind, str(len(documents)))
    Console(width=160, markup=False, emoji=False, highlight=False).print(table)


def _command(name: str) -> None:
    @app.command(name)
    def _() -> None:
        """A command of the floor app."""


for _name in ("schema", "status", "plan", "apply", "drift", "import", "emulator", "unlock"):
    _command(_name)

if __name__ == "__main__":
    app()
