"""`eas-gitops import GROUP`: write a group file from live state, to adopt an existing group.

One listing of the region (ListServices + ListGroups, like plan). Each member's live config goes
through `reconciler.spec.eas_config.from_eas_config`; traffic state comes from the listing, the
stored weight only in customized mode (in auto mode EAS lists shares), labels without the
reserved `eas-gitops/` keys. The file starts with the yaml-language-server modeline; `plan --adopt`
on it shows no change except the ownership labels.

Secrets: import cannot tell a secret from any other config value, so it writes what it reads. It
names every config key that looks like one (`SECRET_KEY_NAMES`, a setting) on stderr, so the person
can replace the value with a `${env:NAME}` reference before committing the file.

Choices: members are written in name order; the schema path in the modeline is relative to the
output file when `schemas/servicegroup.schema.json` exists under the working directory, else the
bare file name.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Annotated, Any

import typer
from ruamel.yaml import YAML

from reconciler.cli import plan as plan_cli
from reconciler.cli.common import RateLimitOpt, RegionOpt, StateOpt, TargetOpt, VpcOpt, run
from reconciler.errors import ConfigError
from reconciler.live.model import LiveService, LiveState
from reconciler.spec.eas_config import from_eas_config
from reconciler.spec.model import API_VERSION, KIND, TrafficMode
from reconciler.spec.schema import SCHEMA_FILE
from reconciler.targets import DEFAULT_REGION

RESERVED_PREFIX = "eas-gitops/"
SECRET_KEY_NAMES = re.compile(r"token|passw|secret|access_?key|api_?key|credential|private_?key", re.IGNORECASE)


def secret_looking(value: Any, path: str = "") -> list[str]:
    """Dotted paths of string values under keys named like secrets (not already `${env:...}` references)."""
    if isinstance(value, dict):
        found: list[str] = []
        for key, item in value.items():
            here = f"{path}.{key}" if path else str(key)
            if isinstance(item, str) and SECRET_KEY_NAMES.search(str(key)) and "${env:" not in item:
                found.append(here)
            found += secret_looking(item, here)
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in secret_looking(item, f"{path}[{i}]")]
    return []


def _tidy(value: Any) -> Any:
    """Whole floats as ints (EAS lists `Cpu: 1.0`; people write `cpu: 1`), recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def _service(member: LiveService, mode: TrafficMode) -> dict[str, Any]:
    weight = member.weight if mode is TrafficMode.CUSTOMIZED else None
    labels = {k: v for k, v in member.labels.items() if not k.startswith(RESERVED_PREFIX)}
    _, spec = from_eas_config(member.config, traffic=member.traffic_state, weight=weight, labels=labels)
    data: dict[str, Any] = _tidy(spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True))
    data["traffic"] = member.traffic_state.value  # always explicit: it is what the file is about
    keys = ("name", "traffic", "weight", "replicas", "autoscaling")
    ordered: dict[str, Any] = {k: data[k] for k in keys if k in data}
    return {**ordered, **{k: v for k, v in data.items() if k not in ordered}}


def group_document(live: LiveState, region: str, name: str) -> dict[str, Any]:
    """The ServiceGroup document of a live group (ConfigError when it has no member)."""
    members = live.members(region, name)
    if not members:
        raise ConfigError(f"no service group {name} in {region} (or it has no member)")
    group = live.group(region, name)
    mode = group.traffic_mode if group else TrafficMode.AUTO
    metadata: dict[str, Any] = {"name": name, "region": region}
    workspace = next((m.config.get("metadata", {}).get("workspace_id") for m in members
                      if isinstance(m.config.get("metadata"), dict)), None)
    if workspace:
        metadata["workspace_id"] = str(workspace)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata,
            "spec": {"traffic_mode": mode.value, "services": [_service(m, mode) for m in members]}}


def modeline(out: Path | None) -> str:
    schema = Path.cwd() / "schemas" / SCHEMA_FILE
    ref = os.path.relpath(schema, out.resolve().parent) if out is not None and schema.exists() else SCHEMA_FILE
    return f"# yaml-language-server: $schema={ref}\n"


def dump(document: dict[str, Any], out: Path | None) -> str:
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return modeline(out) + "# imported from live state by `eas-gitops import`\n" + buffer.getvalue()


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
    where = plan_cli.Where(target, state, vpc, rate_limit)
    live = run(lambda: plan_cli.read_regions(where, [region]))
    document = group_document(live, region, group)
    text = dump(document, out)
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
