"""Parse a management request, call the backend, serialise the answer in EAS's wire shapes.

Wire conventions of the EAS API: query values are strings (booleans case-insensitive,
maps and lists as JSON text; DeleteServiceLabel `Keys` also as a comma list); CreateService and
UpdateService bodies are the raw service config; `ServiceConfig` is JSON text; labels are
`[{"LabelKey", "LabelValue"}]`; times are RFC 3339 UTC. DescribeService and DescribeGroup answer
with the object itself at the top level (plus RequestId). The autoscaler API's bodies are
lowerCamel (`min`, `max`, `scaleStrategies`, `behavior`); its Describe answer is PascalCase outside.

Service fields with no source of their own take `settings.service_fields`: `Source`, `Role`,
`CallerUid` / `ParentUid` as set there; `QuotaId` from `metadata.quota_id`; `Gateway` from the first
of `gateway_keys` the config sets (`metadata.gateway`, `networking.gateway`); `ExtraData` (DescribeService
only) `{"blue_green_services": [the group's members]}` for a grouped service; the secondary endpoints
(DescribeService only) `<endpoint><secondary_path>` for a service whose `metadata.type` is one of
`async_types`, "" otherwise; `AutoscalerEnabled` is true when the config holds an autoscaler.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator import errors
from reconciler.emulator.backend import Backend
from reconciler.emulator.instances import DEDICATED, placements
from reconciler.emulator.lifecycle import ServiceView
from reconciler.emulator.listing import ServiceQuery
from reconciler.emulator.models import GroupRecord, resource_of, rfc3339
from reconciler.emulator.settings import ServiceFieldSettings
from reconciler.emulator.tokens import Tokens

Body = dict[str, Any]


@dataclass(frozen=True)
class Call:
    params: dict[str, str]  # decoded path parameters
    query: dict[str, str]  # decoded query (last value of a repeated key wins)
    body: bytes
    host: str  # Host header, for endpoint URLs

    def json(self) -> Any:
        if not self.body.strip():
            return {}
        return errors.strict_json(self.body, "request body")

    def object(self) -> dict[str, Any]:
        value = self.json()
        if not isinstance(value, dict):
            raise errors.invalid_parameter("The request body must be a JSON object.")
        return value

    def int(self, name: str, default: int) -> int:
        raw = self.query.get(name, "")
        if raw == "":
            return default
        try:
            return int(raw)
        except ValueError:
            raise errors.invalid_parameter(f"{name} must be an integer, got {raw!r}.") from None

    def bool(self, name: str) -> bool:
        return self.query.get(name, "").strip().lower() == "true"

    def json_query(self, name: str, kind: type) -> Any:
        raw = self.query.get(name, "")
        if not raw:
            return kind()
        value = errors.strict_json(raw, f"{name} parameter")
        if not isinstance(value, kind):
            raise errors.invalid_parameter(f"{name} must be a JSON {kind.__name__}.")
        return value


_time = rfc3339


def _num(value: Any) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0


def _labels(labels: dict[str, str]) -> list[dict[str, str]]:
    return [{"LabelKey": k, "LabelValue": v} for k, v in labels.items()]


def _str_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, dict):
        raise errors.invalid_parameter(f"{name} must be a JSON object of strings.")
    return {str(k): str(v) for k, v in value.items()}


def _at(config: dict[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = config
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _by_resource(config: dict[str, Any], running: int) -> dict[str, int]:
    """Running instances split by where they run (instances.placements; stock not considered here)."""
    slots = placements(config, running, set())
    dedicated = sum(1 for slot in slots if slot.resource_type == DEDICATED)
    return {"Dedicated": dedicated, "Public": running - dedicated, "Quota": 0}


def _fields(v: ServiceView, f: ServiceFieldSettings, endpoint: str, detail: bool) -> Body:
    """The Service fields whose values are choices (module docstring)."""
    config = v.record.config
    gateway = next((str(g) for path in f.gateway_keys if (g := _at(config, path))), "")
    out: Body = {"Source": f.source, "Role": f.role, "CallerUid": f.account_uid, "ParentUid": f.account_uid,
                 "QuotaId": str(_at(config, ("metadata", "quota_id")) or ""), "Gateway": gateway,
                 "AutoscalerEnabled": isinstance(config.get("autoscaler"), dict)}
    if detail:
        is_async = _at(config, ("metadata", "type")) in f.async_types
        secondary = endpoint + f.secondary_path if is_async else ""
        out["SecondaryInternetEndpoint"] = out["SecondaryIntranetEndpoint"] = secondary
        members = list(v.members) if f.extra_data_members and v.record.group else []
        out["ExtraData"] = json.dumps({"blue_green_services": members}) if members else ""
    return out


def service_wire(v: ServiceView, host: str, detail: bool = False, *, tokens: Tokens,
                 fields: ServiceFieldSettings | None = None) -> Body:
    r, p = v.record, v.point
    meta = r.config.get("metadata") or {}
    path = f"{r.group}.{r.name}" if r.group else r.name
    resource = resource_of(r.config)
    out: Body = {
        "ServiceName": r.name, "ServiceId": r.service_id, "ServiceUid": r.service_id, "Region": r.region,
        "Status": p.status.value, "Reason": p.reason or p.status.value.upper(), "Message": f"Service is {p.status}",
        "ServiceConfig": json.dumps(r.config, separators=(",", ":")), "ServiceGroup": r.group,
        "TrafficState": r.traffic_state.value, "Weight": v.listed_weight,
        "RunningInstance": p.running, "PendingInstance": p.pending, "TotalInstance": p.running + p.pending,
        "CurrentVersion": v.current_version, "LatestVersion": r.latest_version,
        "Cpu": _num(meta.get("cpu")), "Memory": _num(meta.get("memory")), "Gpu": _num(meta.get("gpu")),
        "GPUMemory": _num(meta.get("gpu_memory")), "GPUCorePercentage": _num(meta.get("gpu_core_percentage")),
        "Image": str(((r.config.get("containers") or [{}])[0] or {}).get("image", "")),
        "Resource": resource, "ResourceAlias": resource,
        "InstanceCountInResource": _by_resource(r.config, p.running),
        "Labels": _labels(r.labels), "SafetyLock": r.safety_lock.value,
        "CreateTime": _time(r.created_at), "UpdateTime": _time(r.updated_at),
        "AccessToken": tokens.service(r), "Namespace": r.name, "WorkspaceId": r.workspace_id,
        "CronscalerEnabled": False,
    }
    endpoint = f"http://{host}/api/predict/{path}"
    if detail:
        out["InternetEndpoint"] = out["IntranetEndpoint"] = endpoint
    out.update(_fields(v, fields or ServiceFieldSettings(), endpoint, detail))
    return out


def group_wire(g: GroupRecord, host: str, *, tokens: Tokens) -> Body:
    return {
        "Name": g.name, "ClusterId": g.region, "CreateTime": _time(g.created_at), "UpdateTime": _time(g.updated_at),
        "QueueService": "", "InternetEndpoint": f"http://{host}/api/predict/{g.name}",
        "IntranetEndpoint": f"http://{host}/api/predict/{g.name}", "AccessToken": tokens.group(g),
        "TrafficMode": g.traffic_mode.value, "Labels": _labels(g.labels), "Network": g.network,
    }


def _service_query(c: Call) -> ServiceQuery:
    labels = _str_map(c.json_query("Label", dict), "Label")
    return ServiceQuery(group_name=c.query.get("GroupName", ""), service_name=c.query.get("ServiceName", ""),
                        name_contains=c.query.get("Filter", ""), labels=tuple(labels.items()),
                        status=c.query.get("ServiceStatus", ""), traffic_state=c.query.get("TrafficState", ""),
                        resource_name=c.query.get("ResourceName", ""), order=c.query.get("Order", "desc") or "desc",
                        sort=c.query.get("Sort", "CreateTime") or "CreateTime",
                        page=c.int("PageNumber", 1), size=c.int("PageSize", 100))


def _create_service(b: Backend, c: Call) -> Body:
    labels = _str_map(c.json_query("Labels", dict), "Labels")
    v = b.create_service(c.json(), labels, c.query.get("WorkspaceId", ""))
    wire = service_wire(v, c.host, detail=True, tokens=b.tokens, fields=b.settings.service_fields)
    return {k: wire[k] for k in ("ServiceId", "ServiceName", "Status", "Region", "InternetEndpoint",
                                 "IntranetEndpoint")}


def _list_services(b: Backend, c: Call) -> Body:
    q = _service_query(c)
    views, total = b.list_services(q)
    return {"PageNumber": q.page, "PageSize": q.size, "TotalCount": total,
            "Services": [service_wire(v, c.host, tokens=b.tokens, fields=b.settings.service_fields) for v in views]}


def _delete_label(b: Backend, c: Call) -> Body:
    keys: list[str] = []
    for name in ("Keys", "LabelKeys"):
        raw = c.query.get(name, "").strip()
        if raw.startswith("["):
            keys += [str(k) for k in c.json_query(name, list)]
        elif raw:
            keys += [k.strip() for k in raw.split(",") if k.strip()]
    if not keys:
        raise errors.missing("Keys")
    return {"Message": b.delete_service_label(c.params["ClusterId"], c.params["ServiceName"], keys)}


def _release(b: Backend, c: Call) -> Body:
    body = c.object()
    state, weight = body.get("TrafficState"), body.get("Weight")
    if weight is not None:
        try:
            weight = int(weight)
        except (TypeError, ValueError):
            raise errors.invalid_parameter(f"Weight must be an integer, got {weight!r}.") from None
    message = b.release_service(c.params["ClusterId"], c.params["ServiceName"],
                                None if state is None else str(state), weight)
    return {"Message": message}


def _required(body: dict[str, Any], name: str) -> Any:
    if body.get(name) is None:
        raise errors.missing(name)
    return body[name]


def _version(b: Backend, c: Call) -> Body:
    version = _required(c.object(), "Version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise errors.invalid_parameter(f"Version must be an integer, got {version!r}.")
    return {"Message": b.update_service_version(c.params["ClusterId"], c.params["ServiceName"], version)}


def _versions(b: Backend, c: Call) -> Body:
    page, size = c.int("PageNumber", 1), c.int("PageSize", 100)
    versions, total = b.list_service_versions(c.params["ClusterId"], c.params["ServiceName"], page, size)
    return {"PageNumber": page, "PageSize": size, "TotalCount": total, "Versions": [
        {"BuildTime": _time(v.build_time), "ImageAvailable": "true", "ImageId": v.version,
         "Message": "Service is Running", "ServiceConfig": json.dumps(v.config, separators=(",", ":")),
         "ServiceRunnable": "true"} for v in versions]}


def _event_time(c: Call, name: str) -> float | None:
    raw = c.query.get(name, "")
    if not raw:
        return None
    try:
        return datetime.strptime(raw, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    except ValueError:
        raise errors.invalid_parameter(f"{name} must look like 2006-01-02 15:04:05 (UTC).") from None


def _events(b: Backend, c: Call) -> Body:
    page, size = c.int("PageNum", 1), c.int("PageSize", 100)
    events, total = b.describe_service_event(*_svc(c), _event_time(c, "StartTime"), _event_time(c, "EndTime"),
                                             c.query.get("EventType", ""), page, size)
    return {"PageNum": page, "TotalCount": total, "TotalPageNum": -(-total // size), "Events": events}


def _list_groups(b: Backend, c: Call) -> Body:
    page, size = c.int("PageNumber", 1), c.int("PageSize", 100)
    groups, total = b.list_groups(c.query.get("Filter", ""), c.query.get("TrafficMode", ""), page, size)
    return {"PageNumber": page, "PageSize": size, "TotalCount": total,
            "Groups": [group_wire(g, c.host, tokens=b.tokens) for g in groups]}


def _create_group(b: Backend, c: Call) -> Body:
    body = c.object()
    name = _required(body, "Name")
    return {"Message": b.create_group(name, _str_map(body.get("Labels") or {}, "Labels"), body.get("Network") or {},
                                      str(body.get("WorkSpaceId") or ""))}


def _update_group(b: Backend, c: Call) -> Body:
    body = c.object()
    labels = body.get("Labels")
    mode = body.get("TrafficMode")
    return {"Message": b.update_group(c.params["ClusterId"], c.params["GroupName"],
                                      None if mode is None else str(mode),
                                      None if labels is None else _str_map(labels, "Labels"), body.get("Network"))}


def _endpoints(b: Backend, c: Call) -> Body:
    g = b.describe_group(c.params["ClusterId"], c.params["GroupName"])
    port = c.host.rpartition(":")[2] if ":" in c.host else ""
    url = f"http://{c.host}/api/predict/{g.name}"
    return {"Message": "success", "AccessToken": b.tokens.group(g), "Endpoints": [
        {"EndpointType": "DefaultGateway", "BackendId": "default", "InternetEndpoints": [url],
         "IntranetEndpoints": [url], "PathType": "Group", "Port": int(port or 80)}]}


def _instances(b: Backend, c: Call) -> Body:
    page, size = c.int("PageNumber", 1), c.int("PageSize", 100)
    rows, total = b.list_service_instances(*_svc(c), c.query, page, size)
    return {"PageNumber": page, "PageSize": size, "TotalCount": total, "Instances": rows}


def _svc(c: Call) -> tuple[str, str]:
    return c.params["ClusterId"], c.params["ServiceName"]


def _grp(c: Call) -> tuple[str, str]:
    return c.params["ClusterId"], c.params["GroupName"]


HANDLERS: dict[str, Callable[[Backend, Call], Body]] = {
    "CreateService": _create_service,
    "ListServices": _list_services,
    "DescribeService": lambda b, c: service_wire(b.describe_service(*_svc(c)), c.host, detail=True,
                                                 tokens=b.tokens, fields=b.settings.service_fields),
    "UpdateService": lambda b, c: {"Message": b.update_service(*_svc(c), c.json(),
                                                               c.query.get("UpdateType", "merge") or "merge")},
    "DeleteService": lambda b, c: {"Message": b.delete_service(*_svc(c))},
    "UpdateServiceVersion": _version,
    "ReleaseService": _release,
    "StartService": lambda b, c: {"Message": b.start_service(*_svc(c))},
    "StopService": lambda b, c: {"Message": b.stop_service(*_svc(c))},
    "RestartService": lambda b, c: {"Message": b.restart_service(*_svc(c))},
    "ListServiceInstances": _instances,
    "CreateServiceAutoScaler": lambda b, c: {"Message": b.create_service_autoscaler(*_svc(c), c.object())},
    "DescribeServiceAutoScaler": lambda b, c: b.describe_service_autoscaler(*_svc(c)),
    "UpdateServiceAutoScaler": lambda b, c: {"Message": b.update_service_autoscaler(*_svc(c), c.object())},
    "DeleteServiceAutoScaler": lambda b, c: {"Message": b.delete_service_autoscaler(*_svc(c))},
    "UpdateServiceLabel": lambda b, c: {"Message": b.update_service_label(
        *_svc(c), _str_map(_required(c.object(), "Labels"), "Labels"))},
    "DeleteServiceLabel": _delete_label,
    "ListServiceVersions": _versions,
    "DescribeServiceEvent": _events,
    "UpdateServiceSafetyLock": lambda b, c: {"Message": b.update_service_safety_lock(
        *_svc(c), str(_required(c.object(), "Lock")))},
    "ListGroups": _list_groups,
    "CreateGroup": _create_group,
    "DescribeGroup": lambda b, c: group_wire(b.describe_group(*_grp(c)), c.host, tokens=b.tokens),
    "UpdateGroup": _update_group,
    "DeleteGroup": lambda b, c: {"Message": b.delete_group(*_grp(c), c.bool("CascadeDelete"))},
    "DescribeGroupEndpoints": _endpoints,
}


def handle(backend: Backend, operation: str, call: Call) -> Body:
    """The success body of `operation` (without RequestId); raises `WireError` on refusal."""
    return HANDLERS[operation](backend, call)
