"""Mapping between a `ServiceSpec` and the EAS service-config JSON (CreateService / UpdateService body).

Typed keys (written from the model; `config` must not declare them, `checks` reports a clash):

    name                              ServiceSpec.name
    metadata.name                     ServiceSpec.name (newer EAS spelling; read, never written)
    metadata.group                    ServiceGroup.metadata.name
    metadata.workspace_id             ServiceGroup.metadata.workspace_id
    metadata.instance                 replicas, or autoscaling.min (the autoscaler moves it from there)
    metadata.cpu / memory / gpu / gpu_memory   resources.cpu / memory (MB) / gpu / gpu_memory (GB)
    metadata.resource                 resources.resource_group (dedicated, subscription)
    cloud.computing.instance_type     resources.instance_type (one public type, no spot)
    cloud.computing.instances         resources.instance_types [{type}], spot [{type, spot_price_limit}], or
                                      resources.instances as written ({type, capacity?, spot_price_limit?})
    model_path, processor             model.path, model.processor
    containers                        containers [{image, port, command, script}] (each key as named)
    autoscaler.min / max / strategies autoscaling {min, max, strategies: {metric: threshold}}
    autoscaler.scaleStrategies        reserved: the autoscaler API's list form, read from older configs
    labels                            ServiceSpec.labels (sent as CreateService `Labels`, not in the body)

Everything else passes through `config` untouched and is deep-merged under the typed keys
(typed fields win). Not in the EAS config at all: role, traffic, weight, smoke_test (the planner
sets traffic and weight with ReleaseService), so `from_eas_config` takes traffic, weight and labels
as arguments and leaves role and smoke_test unset.

The autoscaler is written in the service-config form EAS documents, `{min, max, strategies:
{qps: 10}}` (a metric -> threshold map); the autoscaler API's own body, `scaleStrategies:
[{metricName, threshold}]`, is read too (configs written by older versions of this tool), never
written. A spot bid is `spot_price_limit` on each `cloud.computing.instances` entry, as documented.

Reading `cloud.computing.instances` back: the short spellings (`instance_types`, `spot` +
`spot_price_limit`) when they say exactly the same list, else `resources.instances` entry by entry
(a `capacity`, a `dedicated_resource` entry, mixed or different spot bids, a single entry without
spot), so that importing a live config and planning it shows no change. `metadata.instance` is
ignored when reading a config that has an autoscaler. Empty objects left under `metadata`, `cloud`
or `autoscaler` once the typed keys are taken out are dropped.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from reconciler.desired.model import (
    DEDICATED_ENTRY,
    Autoscaling,
    Resources,
    ServiceGroup,
    ServiceSpec,
    TrafficState,
)
from reconciler.errors import Problem, SpecError

Path = tuple[str, ...]

# Config paths owned by typed fields, with the field to use instead (for messages).
TYPED_PATHS: dict[Path, str] = {
    ("name",): "services[].name",
    ("metadata", "name"): "services[].name",
    ("metadata", "group"): "metadata.name of the group",
    ("metadata", "workspace_id"): "metadata.workspace_id of the group",
    ("metadata", "instance"): "replicas (or autoscaling.min)",
    ("metadata", "cpu"): "resources.cpu",
    ("metadata", "memory"): "resources.memory",
    ("metadata", "gpu"): "resources.gpu",
    ("metadata", "gpu_memory"): "resources.gpu_memory",
    ("metadata", "resource"): "resources.resource_group",
    ("cloud", "computing", "instance_type"): "resources.instance_type",
    ("cloud", "computing", "instances"): "resources.instances (or instance_types, spot)",
    ("model_path",): "model.path",
    ("processor",): "model.processor",
    ("containers",): "containers",
    ("autoscaler", "min"): "autoscaling.min",
    ("autoscaler", "max"): "autoscaling.max",
    ("autoscaler", "strategies"): "autoscaling.metric / threshold",
    ("autoscaler", "scaleStrategies"): "autoscaling.metric / threshold",
    ("labels",): "labels",
}


def _number(value: float) -> int | float:
    """Whole numbers as int: EAS sizes are integers in every documented example."""
    return int(value) if float(value).is_integer() else value


def _resources(res: Resources) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("cpu", "memory", "gpu", "gpu_memory"):
        value = getattr(res, key)
        if value is not None:
            meta[key] = _number(value)
    if res.resource_group:
        meta["resource"] = res.resource_group
    out: dict[str, Any] = {"metadata": meta}
    if res.instances:
        listed = [{k: _number(v) if isinstance(v, float) else v for k, v in e.model_dump(exclude_none=True).items()}
                  for e in res.instances]
        out["cloud"] = {"computing": {"instances": listed}}
    elif res.spot or res.instance_types:
        entries: list[dict[str, Any]] = [{"type": t} for t in res.types]
        if res.spot_price_limit is not None:
            for entry in entries:
                entry["spot_price_limit"] = _number(res.spot_price_limit)
        out["cloud"] = {"computing": {"instances": entries}}
    elif res.instance_type:
        out["cloud"] = {"computing": {"instance_type": res.instance_type}}
    return out


def _code(service: ServiceSpec) -> dict[str, Any]:
    if service.model is not None:
        return {"model_path": service.model.path, "processor": service.model.processor}
    containers = []
    for c in service.containers or []:
        entry: dict[str, Any] = {"image": c.image}
        for key in ("command", "script", "port"):
            if getattr(c, key) is not None:
                entry[key] = getattr(c, key)
        containers.append(entry)
    return {"containers": containers}


def _autoscaler(scaling: Autoscaling) -> dict[str, Any]:
    return {"min": scaling.min, "max": scaling.max, "strategies": {scaling.metric: _number(scaling.threshold)}}


def deep_merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: `base` with `overlay` merged in recursively; `overlay` wins on every leaf."""
    out = copy.deepcopy(dict(base))
    for key, value in overlay.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def to_eas_config(group: ServiceGroup, service: ServiceSpec) -> dict[str, Any]:
    """The EAS service config for one member: `config` with the typed keys merged over it."""
    typed = _resources(service.resources)
    meta = typed["metadata"]
    meta["group"] = group.name
    meta["instance"] = service.base_replicas
    if group.metadata.workspace_id:
        meta["workspace_id"] = group.metadata.workspace_id
    typed["name"] = service.name
    typed.update(_code(service))
    if service.autoscaling is not None:
        typed["autoscaler"] = _autoscaler(service.autoscaling)
    return deep_merge(service.config, typed)


def declared_paths(cfg: Mapping[str, Any], prefix: Path = ()) -> set[Path]:
    """Leaf key paths of a config: what a spec declares, so only those are compared with live state.

    Lists and empty objects are leaves (a list is compared whole); keys are kept as tuples because
    EAS keys may contain dots (`features: {"eas.aliyun.com/enable-rollout": ...}`).
    """
    paths: set[Path] = set()
    for key, value in cfg.items():
        path = (*prefix, str(key))
        if isinstance(value, Mapping) and value:
            paths |= declared_paths(value, path)
        else:
            paths.add(path)
    return paths


def value_at(cfg: Mapping[str, Any], path: Path) -> tuple[bool, Any]:
    """(True, value) when `path` exists in `cfg`, else (False, None)."""
    node: Any = cfg
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return False, None
        node = node[key]
    return True, node


def _pop(cfg: dict[str, Any], path: Path) -> Any:
    """Remove `path` from `cfg` and return its value (None when absent); prune objects it empties."""
    head, *rest = path
    if head not in cfg:
        return None
    if not rest:
        return cfg.pop(head)
    child = cfg[head]
    if not isinstance(child, dict):
        return None
    value = _pop(child, tuple(rest))
    if not child:
        del cfg[head]
    return value


def without_paths(cfg: Mapping[str, Any], paths: Iterable[Path]) -> dict[str, Any]:
    """A copy of `cfg` without `paths`; objects a removal leaves empty are dropped too."""
    out = copy.deepcopy(dict(cfg))
    for path in paths:
        _pop(out, path)
    return out


def _unmappable(name: str, message: str) -> SpecError:
    return SpecError([Problem(f"<live service {name}>", 0, 0, message, "adjust the service or edit the import")])


_ENTRY_KEYS = frozenset({"type", "capacity", "spot_price_limit"})


def _read_instances(name: str, entries: Any) -> dict[str, Any]:
    """Resource fields for a live `cloud.computing.instances` list (short spellings when exact)."""
    if not isinstance(entries, list) or not entries:
        raise _unmappable(name, "cloud.computing.instances is not a non-empty list")
    for entry in entries:
        if not isinstance(entry, dict) or "type" not in entry or not set(entry) <= _ENTRY_KEYS:
            raise _unmappable(name, f"cloud.computing.instances entry {entry!r} has keys the model cannot express")
    limits = [entry.get("spot_price_limit") for entry in entries]
    types = [entry["type"] for entry in entries]
    plain = all("capacity" not in entry for entry in entries) and DEDICATED_ENTRY not in types
    uniform = all(limit == limits[0] for limit in limits)
    limit = limits[0]
    if plain and uniform and (limit is not None or len(types) >= 2):
        res: dict[str, Any] = {"instance_types": types} if len(types) >= 2 else {"instance_type": types[0]}
        if limit is not None:
            res["spot"], res["spot_price_limit"] = True, limit
        return res
    return {"instances": [dict(entry) for entry in entries]}


def _read_resources(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    res: dict[str, Any] = {k: _pop(cfg, ("metadata", k)) for k in ("cpu", "memory", "gpu", "gpu_memory")}
    res["resource_group"] = _pop(cfg, ("metadata", "resource"))
    res["instance_type"] = _pop(cfg, ("cloud", "computing", "instance_type"))
    instances = _pop(cfg, ("cloud", "computing", "instances"))
    if instances is not None:
        res.update(_read_instances(name, instances))
    return {k: v for k, v in res.items() if v is not None}


def _read_code(cfg: dict[str, Any]) -> dict[str, Any]:
    path, processor = _pop(cfg, ("model_path",)), _pop(cfg, ("processor",))
    code: dict[str, Any] = {}
    if path is not None or processor is not None:
        code["model"] = {"path": path, "processor": processor}
    containers = _pop(cfg, ("containers",))
    if containers is not None:
        code["containers"] = containers  # key for key: command is command, script is script
    return code


def _strategy(name: str, strategies: Any, legacy: Any) -> dict[str, Any]:
    """metric and threshold of the one strategy (`strategies` map, else the API's `scaleStrategies` list)."""
    if isinstance(strategies, dict) and len(strategies) == 1:
        (metric, threshold), = strategies.items()
        return {"metric": metric, "threshold": threshold}
    if strategies is None and isinstance(legacy, list) and len(legacy) == 1 and isinstance(legacy[0], dict):
        return {"metric": legacy[0].get("metricName"), "threshold": legacy[0].get("threshold")}
    raise _unmappable(name, f"autoscaler strategies {strategies if strategies is not None else legacy!r} are not "
                            "exactly one metric with its threshold, as autoscaling says")


def _read_scaling(name: str, cfg: dict[str, Any]) -> dict[str, Any]:
    instance = _pop(cfg, ("metadata", "instance"))
    bounds = [_pop(cfg, ("autoscaler", k)) for k in ("min", "max", "strategies", "scaleStrategies")]
    if bounds == [None, None, None, None]:
        return {"replicas": instance}
    low, high, strategies, legacy = bounds
    return {"autoscaling": {"min": low, "max": high, **_strategy(name, strategies, legacy)}}


def from_eas_config(
    config: dict[str, Any], *, traffic: TrafficState, weight: int | None, labels: dict[str, str]
) -> tuple[str | None, ServiceSpec]:
    """The group name (`metadata.group`) and the `ServiceSpec` a live EAS config describes.

    Unknown keys go to `config`. Raises SpecError when the config cannot be expressed by the model.
    """
    cfg = copy.deepcopy(config)
    name = _pop(cfg, ("name",))
    meta_name = _pop(cfg, ("metadata", "name"))
    name = name if name is not None else meta_name
    group = _pop(cfg, ("metadata", "group"))
    _pop(cfg, ("metadata", "workspace_id"))  # a group-level field: the caller reads it from the group
    _pop(cfg, ("labels",))  # labels come from the Service object (argument), not the body
    fields: dict[str, Any] = {"name": name, "traffic": traffic, "weight": weight, "labels": dict(labels)}
    fields["resources"] = _read_resources(str(name), cfg)
    fields.update(_read_code(cfg))
    fields.update(_read_scaling(str(name), cfg))
    fields["config"] = cfg
    try:
        spec = ServiceSpec.model_validate({k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        raise _unmappable(str(name), f"the live config does not fit the model: {exc.errors()[0]['msg']}") from exc
    return (str(group) if group is not None else None), spec
