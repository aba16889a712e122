"""`eas-gitops import GROUP`: write a group file from live state, to adopt an existing group.

One listing of the region (ListServices + ListGroups, like plan); the conversion and the secret
detection live in `reconciler.desired.from_live`. `plan --adopt` on the written file shows no change
except the ownership labels. Every config key that looks like a secret is named on stderr.

Choice: the schema path in the modeline is relative to the output file when
`schemas/servicegroup.schema.json` exists under the working directory, else the bare file name.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from reconciler.cli import plan as plan_cli
from reconciler.cli.common import RateLimitOpt, RegionOpt, StateOpt, TargetOpt, VpcOpt, run
from reconciler.desired.schema import SCHEMA_FILE
from reconciler.target_names import DEFAULT_REGION

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("reconciler.apply.runtime", "reconciler.live.read", "reconciler.desired.from_live")


def schema_ref(out: Path | None) -> str:
    schema = Path.cwd() / "schemas" / SCHEMA_FILE
    return os.path.relpath(schema, out.resolve().parent) if out is not None and schema.exists() else SCHEMA_FILE


def import_group(
    group: Annotated[str, typer.Argument(metavar="GROUP", help="The live service group to import.")],
    region: RegionOpt = DEFAULT_REGION,
    out: Annotated[Path | None, typer.Option("--out", "-o", dir_okay=False, metavar="FILE",
                                             help="Write the group file here (default: print it).")] = None,
    target: TargetOpt = None,
    state: StateOpt = None,
    vpc: VpcOpt = False,
    rate_limit: RateLimitOpt = None,
) -> None:
    """Write a group file from live state, so an existing group can be managed (then: plan --adopt).

    Example:  eas-gitops import pmml --region cn-shanghai -o groups/pmml.yaml
    """
    from reconciler.desired.from_live import group_document, secret_looking, to_yaml

    where = plan_cli.Where(target, state, vpc, rate_limit)
    live = run(lambda: plan_cli.read_regions(where, [region]))
    document = group_document(live, region, group)
    text = to_yaml(document, schema_ref(out))
    for path in secret_looking(document["spec"]):
        typer.echo(f"warning: spec.{path} looks like a secret and holds its live value: replace it with "
                   "a ${env:NAME} reference before committing the file", err=True)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {out}; next: eas-gitops plan {out} --adopt", err=True)


def register(app: typer.Typer) -> None:
    app.command("import")(import_group)
