"""Live values put into the desired state: for the `report` policy and for writing drift back to the files.

`overlaid(group, live, items)` is the group as the file would say it if it agreed with live on
the fields of `items`; `file_edits(before, after)` are the smallest edits that turn one file's
document into the other's (leaf by leaf, in document coordinates for `reconciler.desired.write_back`).

- `plan` replans with the `report` fields overlaid: apply then leaves those live values alone.
- `drift --write` / `apply --write-back` write `file_edits` into the files.

A config field goes back through the EAS mapping (`from_eas_config`) so that a typed key such as
`metadata.cpu` lands in `resources.cpu`; `replicas` of an autoscaled member, and `weight` outside
customized mode, have no file value to hold the live one and are left as they are. Writing the
group's traffic mode also writes the live weights (customized) or drops them (auto), as the file
rules ask.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from typing import Any

from pydantic import ValidationError

from reconciler.desired.eas_config import from_eas_config, to_eas_config, value_at, without_paths
from reconciler.desired.model import ServiceGroup, ServiceSpec, TrafficMode, TrafficState
from reconciler.desired.write_back import DELETE, Edit
from reconciler.errors import ConfigError, SpecError
from reconciler.live.model import LiveService, LiveState
from reconciler.plan.drift import DriftItem

_FROM_CONFIG = ("resources", "model", "containers", "replicas", "autoscaling", "config")


def _dump(model: Any) -> Any:
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def _with_live_config(group: ServiceGroup, spec: ServiceSpec, live: LiveService, items: Sequence[DriftItem],
                      data: dict[str, Any]) -> None:
    eas = to_eas_config(group, spec)
    for item in items:
        if item.path is None:
            continue
        found, value = value_at(live.config, item.path)
        eas = without_paths(eas, [item.path])
        if found:
            node = eas
            for key in item.path[:-1]:
                node = node.setdefault(key, {})
            node[item.path[-1]] = copy.deepcopy(value)
    try:
        _, typed = from_eas_config(eas, traffic=spec.traffic, weight=spec.weight, labels=spec.labels)
    except SpecError as exc:
        raise ConfigError(f"{group.region}/{group.name}: the live config of {spec.name} cannot be said in the "
                          f"file: {exc.problems[0].message}") from exc
    fresh = _dump(typed)
    for key in _FROM_CONFIG:
        if key in fresh:
            data[key] = fresh[key]
        else:
            data.pop(key, None)


def member_data(group: ServiceGroup, spec: ServiceSpec, live: LiveService, items: Sequence[DriftItem],
                mode: TrafficMode | None) -> dict[str, Any]:
    """The member's file data with the live values of `items`."""
    data: dict[str, Any] = _dump(spec)
    if any(i.field.startswith("config.") for i in items):
        _with_live_config(group, spec, live, items, data)
    for item in items:
        if item.field == "replicas" and spec.replicas is not None:
            data["replicas"] = live.replicas
        elif item.field == "traffic":
            data["traffic"] = live.traffic_state.value
        elif item.field == "weight" and mode is TrafficMode.CUSTOMIZED:
            data["weight"] = live.weight
        elif item.field.startswith("labels."):
            key = item.field.removeprefix("labels.")
            labels = data.setdefault("labels", {})
            if key in live.labels:
                labels[key] = live.labels[key]
            else:
                labels.pop(key, None)
    return data


def _by_service(items: Sequence[DriftItem]) -> dict[str | None, list[DriftItem]]:
    found: dict[str | None, list[DriftItem]] = {}
    for item in items:
        found.setdefault(item.service, []).append(item)
    return found


def overlaid(group: ServiceGroup, live: LiveState, items: Sequence[DriftItem]) -> ServiceGroup:
    """`group` with the live values of `items` (fields of this group's managed members and its mode)."""
    if not items:
        return group
    live_group = live.group(group.region, group.name)
    mode = live_group.traffic_mode if live_group else None
    doc: dict[str, Any] = _dump(group)
    per = _by_service(items)
    services = doc["spec"]["services"]
    for i, spec in enumerate(group.spec.services):
        member = live.service(group.region, spec.name)
        if spec.name in per and member is not None:
            services[i] = member_data(group, spec, member, per[spec.name], mode)
    if any(i.field == "traffic_mode" for i in per.get(None, [])) and mode is not None:
        doc["spec"]["traffic_mode"] = mode.value
        for entry in services:
            member = live.service(group.region, entry["name"])
            if mode is TrafficMode.AUTO:
                entry.pop("weight", None)
            elif member is not None and entry.get("traffic", "grouping") == TrafficState.GROUPING.value:
                entry["weight"] = member.weight
    try:
        return ServiceGroup.model_validate(doc)
    except ValidationError as exc:
        raise ConfigError(f"{group.region}/{group.name}: the live values do not make a valid group file: "
                          f"{exc.errors()[0]['msg']}") from exc


def _leaves(before: Any, after: Any, loc: tuple[str | int, ...]) -> Iterator[Edit]:
    if isinstance(before, dict) and isinstance(after, dict):
        for key in before:
            if key not in after:
                yield Edit((*loc, key), DELETE)
            else:
                yield from _leaves(before[key], after[key], (*loc, key))
        for key in after:
            if key not in before:
                yield Edit((*loc, key), after[key])
    elif isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        for i, (b, a) in enumerate(zip(before, after, strict=True)):
            yield from _leaves(b, a, (*loc, i))
    elif before != after:
        yield Edit(loc, after)


def file_edits(before: ServiceGroup, after: ServiceGroup) -> list[Edit]:
    """The leaf edits that turn `before`'s document into `after`'s (equal leaves untouched)."""
    return list(_leaves(_dump(before), _dump(after), ()))
