"""A service's instances as ListServiceInstances shows them (HTTP-free, derived, never stored).

The emulator has no instance records: the instances of a service at time t follow from its state
(`running`, `pending`) and its config, so they are always consistent with DescribeService.

Choices where the docs are silent (settings in `ServiceFieldSettings`):
- Names: `<service>-<the service id's last 6 characters>-<i>` for i = 0, 1, ...; the first
  `running` instances are Running, the next `pending` ones Pending (Reason "waiting for resources"
  while the service waits for stock or capacity).
- Placement walks the config in order of preference: `metadata.resource` alone puts every instance on
  the dedicated group (ResourceType DedicatedResource, no InstanceType); `cloud.computing.instance_type`
  puts them all on that type; `cloud.computing.instances` fills each entry up to its `capacity` (a count,
  or a percentage of the service's instances rounded up), skipping types that are out of stock, the
  `dedicated_resource` entry taking the dedicated group; what no capacity admits goes to the last
  usable entry. An entry with `spot_price_limit` gives spot instances (IsSpot). Without any of these the
  instances are public ones sized by cpu/memory (no InstanceType).
- Zone: `<region>-<zone>` round robin over `zones`. StartTime: when the current phase started (an
  update or a restart rolls every instance). RestartCount: RestartService calls since creation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from reconciler.emulator.models import ServiceRecord, resource_of
from reconciler.emulator.settings import ServiceFieldSettings

DEDICATED = "DedicatedResource"
PUBLIC = "PublicResource"
_DEDICATED_ENTRY = "dedicated_resource"


@dataclass(frozen=True)
class Slot:
    """Where one instance runs."""

    instance_type: str
    resource_type: str
    spot: bool


def _capacity(value: Any, total: int) -> float:
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value.endswith("%"):
        try:
            return float(math.ceil(float(value[:-1]) * total / 100))
        except ValueError:
            return math.inf
    return math.inf


def _entry_slot(entry: dict[str, Any]) -> Slot:
    if entry.get("type") == _DEDICATED_ENTRY:
        return Slot("", DEDICATED, False)
    return Slot(str(entry.get("type", "")), PUBLIC, entry.get("spot_price_limit") is not None)


def placements(config: dict[str, Any], total: int, out_of_stock: set[str]) -> list[Slot]:
    """One slot per instance, in order (the first instances take the preferred placements)."""
    computing = ((config.get("cloud") or {}).get("computing") or {})
    entries = [e for e in computing.get("instances") or [] if isinstance(e, dict)]
    usable = [e for e in entries if e.get("type") == _DEDICATED_ENTRY or e.get("type") not in out_of_stock]
    if usable:
        slots: list[Slot] = []
        for entry in usable:
            room = min(_capacity(entry.get("capacity"), total), total - len(slots))
            slots += [_entry_slot(entry)] * int(room)
        return slots + [_entry_slot(usable[-1])] * (total - len(slots))
    single = computing.get("instance_type")
    if isinstance(single, str) and single:
        return [Slot(single, PUBLIC, False)] * total
    if entries:  # every type is out of stock: what runs stays on the first
        return [_entry_slot(entries[0])] * total
    return [Slot("", DEDICATED if resource_of(config) else PUBLIC, False)] * total


def instance_rows(svc: ServiceRecord, running: int, pending: int, waiting: bool, out_of_stock: set[str],
                  fields: ServiceFieldSettings, start_time: str) -> list[dict[str, Any]]:
    """The `Instances[]` of ListServiceInstances, in instance order."""
    slots = placements(svc.config, running + pending, out_of_stock)
    restarts = int(svc.extra.get("restarts", 0))
    rows = []
    for i, slot in enumerate(slots):
        up = i < running
        rows.append({
            "InstanceName": f"{svc.name}-{svc.service_id[-6:]}-{i}", "Status": "Running" if up else "Pending",
            "Reason": "" if up else ("waiting for resources" if waiting else "starting"),
            "Zone": f"{svc.region}-{fields.zones[i % len(fields.zones)]}" if fields.zones else svc.region,
            "IsSpot": slot.spot, "InstanceType": slot.instance_type, "ResourceType": slot.resource_type,
            "StartTime": start_time if up else "", "StartAt": start_time if up else "", "RestartCount": restarts,
            "InnerIP": f"10.0.{i // 250}.{i % 250 + 1}" if up else "", "InstancePort": 8080,
            "Namespace": svc.name, "ReadyProcesses": 1 if up else 0, "TotalProcesses": 1, "Isolated": False,
            "Role": fields.role,
        })
    return rows


def matches(row: dict[str, Any], query: dict[str, str]) -> bool:
    """ListServiceInstances filters: InstanceStatus, InstanceName / Filter (substring), InstanceType,
    ResourceType, IsSpot (case-insensitive boolean); an empty filter matches everything."""
    wanted = {k: v for k, v in query.items() if v}
    exact = {"InstanceStatus": "Status", "InstanceType": "InstanceType", "ResourceType": "ResourceType"}
    if any(row[field] != wanted[key] for key, field in exact.items() if key in wanted):
        return False
    if any(wanted[key] not in row["InstanceName"] for key in ("InstanceName", "Filter") if key in wanted):
        return False
    return "IsSpot" not in wanted or row["IsSpot"] == (wanted["IsSpot"].strip().lower() == "true")
