"""Live state -> desired state: the group file `eas-gitops import` writes, and the secrets it may hold.

One member's live config goes through `eas_config.from_eas_config`; its traffic state comes from
the listing, its stored weight only in customized mode (in auto mode EAS lists shares, which are
not weights), and its labels without the reserved `eas-gitops/` keys (ownership is the tool's,
never the file's). Members are written in name order (the listing's), each with `name`, `traffic`,
`weight`, `replicas` / `autoscaling` first and `traffic` always explicit: it is what the file is
about. Whole floats are written as ints (EAS lists `Cpu: 1.0`; people write `cpu: 1`).

Secrets: nothing on the wire marks a config value as a secret, so the import writes what it reads
and `secret_looking` names every string under a key named like one (`SECRET_KEY_NAMES`), so the
person can replace the value with a `${env:NAME}` reference before committing the file.
"""

from __future__ import annotations

import io
import re
from typing import Any

from ruamel.yaml import YAML

from reconciler.desired.eas_config import from_eas_config
from reconciler.desired.model import API_VERSION, KIND, RESERVED_LABEL_PREFIX, TrafficMode
from reconciler.errors import ConfigError
from reconciler.live.model import LiveService, LiveState

SECRET_KEY_NAMES = re.compile(r"token|passw|secret|access_?key|api_?key|credential|private_?key", re.IGNORECASE)
_FIRST_KEYS = ("name", "traffic", "weight", "replicas", "autoscaling")


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
    """Whole floats as ints, recursively."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _tidy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_tidy(v) for v in value]
    return value


def service_document(member: LiveService, mode: TrafficMode) -> dict[str, Any]:
    """One `spec.services[]` entry for a live member (SpecError when the model cannot say its config)."""
    weight = member.weight if mode is TrafficMode.CUSTOMIZED else None
    labels = {k: v for k, v in member.labels.items() if not k.startswith(RESERVED_LABEL_PREFIX)}
    _, spec = from_eas_config(member.config, traffic=member.traffic_state, weight=weight, labels=labels)
    data: dict[str, Any] = _tidy(spec.model_dump(mode="json", exclude_none=True, exclude_defaults=True))
    data["traffic"] = member.traffic_state.value
    ordered: dict[str, Any] = {k: data[k] for k in _FIRST_KEYS if k in data}
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
            "spec": {"traffic_mode": mode.value, "services": [service_document(m, mode) for m in members]}}


def to_yaml(document: dict[str, Any], schema_ref: str) -> str:
    """The file text: the yaml-language-server modeline pointing at `schema_ref`, a note, the document."""
    yaml = YAML()
    yaml.default_flow_style = False
    yaml.indent(mapping=2, sequence=4, offset=2)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    return (f"# yaml-language-server: $schema={schema_ref}\n"
            "# imported from live state by `eas-gitops import`\n" + buffer.getvalue())
