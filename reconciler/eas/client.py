"""`EasClient`: one typed async method per EAS operation, one region per client.

Every target (embedded emulator, served emulator, Alibaba Cloud) goes through this code: the
same signer (`AcsSigner`), the same retry loop (`Caller`), the same wire models. Paths are built
from percent-encoded segments (`quote(safe='~')`, as the SDK does); CreateService / UpdateService
send the service config as the raw JSON body (compact, UTF-8 kept); map-valued query parameters
(`Labels`, `Label`) are JSON text.

CreateService is safe to retry: when a retry after an unknown outcome answers "already exists",
the client describes the service and compares configs. "Same" means every key the request
declared has the same value in the live config (EAS adds platform defaults), recursively.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ValidationError

from reconciler.eas import paging
from reconciler.eas.models import (
    Ack,
    Autoscaler,
    CreatedService,
    EventPage,
    Group,
    GroupEndpoints,
    GroupPage,
    InstancePage,
    SafetyLock,
    Service,
    ServiceInstance,
    ServicePage,
    ServiceVersion,
    UpdateType,
    VersionPage,
)
from reconciler.eas.transport import Caller, CallStats, Json, Request, Resolver
from reconciler.errors import ApiError, ConfigError, ConflictError, NotFoundError
from reconciler.traffic import TrafficMode, TrafficState

M = TypeVar("M", bound=BaseModel)
DEFAULT_PAGE_SIZE = 100
_STARTED = frozenset({"Starting", "Running", "Waiting", "Scaling", "Pending", "Creating"})
_STOPPED = frozenset({"Stopping", "Stopped"})
_DELETING = frozenset({"Deleting"})


def dump_json(value: Any) -> bytes:
    """Compact JSON, non-ASCII kept as UTF-8 (the SDK's `to_json_string`).

    Infinity and NaN are refused with ConfigError before anything is sent: they are not JSON, and an
    EAS that stored one could not answer for the service again.
    """
    try:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    except ValueError as exc:
        raise ConfigError(f"a request body holds a number JSON cannot carry (infinity or NaN): {exc}") from None


def config_body(config: Mapping[str, Any] | str) -> bytes:
    """A service config as the wire body: a str is sent verbatim, a mapping is dumped compactly."""
    return config.encode() if isinstance(config, str) else dump_json(dict(config))


def config_name(config: Mapping[str, Any]) -> str:
    """The service name a config declares (top-level `name`, or `metadata.name` in the 2026 form)."""
    meta = config.get("metadata")
    name = config.get("name") or (meta.get("name") if isinstance(meta, dict) else None)
    if not isinstance(name, str) or not name:
        raise ConfigError('the service config has no `name` (nor `metadata.name`): add "name": "<service name>"')
    return name


def declared_subset(declared: Any, live: Any) -> bool:
    """True when every key `declared` sets has the same value in `live` (dicts recursively)."""
    if isinstance(declared, dict) and isinstance(live, dict):
        return all(k in live and declared_subset(v, live[k]) for k, v in declared.items())
    return bool(declared == live)


def _parse(model: type[M], data: Json, operation: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ApiError(200, "InvalidResponse", f"unexpected answer shape at {where}: {first['msg']}",
                       str(data.get("RequestId", "")), operation) from exc


def _seg(value: str) -> str:
    return quote(value, safe="~")


class EasClient:
    """Typed access to the EAS management API of one region. Use `open_client` to make one."""

    def __init__(self, caller: Caller, region: str) -> None:
        self.caller = caller
        self.region = region

    @property
    def stats(self) -> CallStats:
        """Round trips per operation, reads vs writes (see `CallStats`)."""
        return self.caller.stats

    async def aclose(self) -> None:
        await self.caller.http.aclose()

    # -- plumbing -------------------------------------------------------------------------------

    def _svc(self, name: str, *rest: str) -> str:
        return "/".join(["/api/v2/services", _seg(self.region), _seg(name), *rest])

    def _grp(self, name: str, *rest: str) -> str:
        return "/".join(["/api/v2/groups", _seg(self.region), _seg(name), *rest])

    async def _ack(self, op: str, method: str, path: str, *, query: Mapping[str, str] | None = None,
                   body: bytes | None = None, resolve: Resolver | None = None) -> Ack:
        data = await self.caller.call(Request(op, method, path, query or {}, body), resolve)
        return _parse(Ack, data, op)

    async def _pages(self, op: str, path: str, query: dict[str, str], page_size: int) -> AsyncIterator[Json]:
        """Raw pages of a PageNumber/PageSize listing, in order; pages after the first are fetched concurrently."""
        async def fetch(number: int) -> Json:
            page_query = {**query, "PageNumber": str(number), "PageSize": str(page_size)}
            return await self.caller.call(Request(op, "GET", path, page_query))
        async for data in paging.pages(fetch, page_size, self.caller.settings.page_concurrency):
            yield data

    # -- services -------------------------------------------------------------------------------

    async def create_service(self, config: Mapping[str, Any], *, labels: Mapping[str, str] | None = None,
                             develop: bool | None = None, workspace_id: str | None = None) -> CreatedService:
        """CreateService; retry-safe (an "already exists" after an unknown outcome is checked by config)."""
        query: dict[str, str] = {}
        if labels:
            query["Labels"] = dump_json(dict(labels)).decode()
        if develop is not None:
            query["Develop"] = "true" if develop else "false"
        if workspace_id:
            query["WorkspaceId"] = workspace_id
        name = config_name(config)

        async def resolve(err: ApiError) -> Json | None:
            if not isinstance(err, ConflictError):
                return None
            live = await self.describe_service(name)
            if not declared_subset(dict(config), live.config):
                raise ConflictError(err.status, err.code, f"service {name} exists with a different config",
                                    err.request_id, "CreateService") from err
            return {"ServiceName": name, "ServiceId": live.service_id, "Status": live.status, "Region": self.region}

        data = await self.caller.call(Request("CreateService", "POST", "/api/v2/services", query,
                                              config_body(config)), resolve)
        return _parse(CreatedService, data, "CreateService")

    async def describe_service(self, name: str) -> Service:
        data = await self.caller.call(Request("DescribeService", "GET", self._svc(name)))
        return _parse(Service, data, "DescribeService")

    async def list_services(self, *, group_name: str | None = None, service_name: str | None = None,
                            filter: str | None = None, label: Mapping[str, str] | None = None,
                            service_status: str | None = None, traffic_state: TrafficState | str | None = None,
                            page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Service]:
        """Every matching service, across pages."""
        query = {k: v for k, v in {"GroupName": group_name, "ServiceName": service_name, "Filter": filter,
                                   "ServiceStatus": service_status,
                                   "TrafficState": str(traffic_state) if traffic_state else None}.items() if v}
        if label:
            query["Label"] = dump_json(dict(label)).decode()
        async for data in self._pages("ListServices", "/api/v2/services", query, page_size):
            for service in _parse(ServicePage, data, "ListServices").services:
                yield service

    async def update_service(self, name: str, config: Mapping[str, Any] | str, *,
                             update_type: UpdateType = UpdateType.MERGE) -> Ack:
        """UpdateService with the raw config body (merge: deep-merged by EAS; replace: the whole config)."""
        return await self._ack("UpdateService", "PUT", self._svc(name), query={"UpdateType": update_type.value},
                               body=config_body(config))

    async def update_service_version(self, name: str, version: int) -> Ack:
        return await self._ack("UpdateServiceVersion", "PUT", self._svc(name, "version"),
                               body=dump_json({"Version": version}))

    async def release_service(self, name: str, *, traffic_state: TrafficState | str | None = None,
                              weight: int | None = None) -> Ack:
        """ReleaseService: set the traffic state and/or the weight (absolute values: idempotent)."""
        body: dict[str, Any] = {}
        if traffic_state is not None:
            body["TrafficState"] = str(traffic_state)
        if weight is not None:
            body["Weight"] = weight
        if not body:
            raise ConfigError("release_service needs traffic_state and/or weight")
        return await self._ack("ReleaseService", "PUT", self._svc(name, "release"), body=dump_json(body))

    async def delete_service(self, name: str) -> Ack:
        """DeleteService; retry-safe: after an unknown outcome, NotFound or a refusal while Deleting means done."""
        deleting = self._status_resolver(name, _DELETING)

        async def resolve(err: ApiError) -> Json | None:
            return await _gone_is_done(err) or await deleting(err)
        return await self._ack("DeleteService", "DELETE", self._svc(name), resolve=resolve)

    async def start_service(self, name: str) -> Ack:
        return await self._ack("StartService", "PUT", self._svc(name, "start"),
                               resolve=self._status_resolver(name, _STARTED))

    async def stop_service(self, name: str) -> Ack:
        return await self._ack("StopService", "PUT", self._svc(name, "stop"),
                               resolve=self._status_resolver(name, _STOPPED))

    def _status_resolver(self, name: str, accepted: frozenset[str]) -> Resolver:
        async def resolve(err: ApiError) -> Json | None:
            if not isinstance(err, ConflictError):
                return None
            try:
                status = (await self.describe_service(name)).status
            except NotFoundError:
                return {"Message": "already gone"} if accepted is _DELETING else None
            return {"Message": "already requested"} if status in accepted else None
        return resolve

    async def update_service_label(self, name: str, labels: Mapping[str, str]) -> Ack:
        return await self._ack("UpdateServiceLabel", "PUT", self._svc(name, "label"),
                               body=dump_json({"Labels": dict(labels)}))

    async def delete_service_label(self, name: str, keys: list[str]) -> Ack:
        return await self._ack("DeleteServiceLabel", "DELETE", self._svc(name, "label"), query={"Keys": ",".join(keys)})

    async def list_service_versions(self, name: str, *, page_size: int = DEFAULT_PAGE_SIZE) -> list[ServiceVersion]:
        versions: list[ServiceVersion] = []
        async for data in self._pages("ListServiceVersions", self._svc(name, "versions"), {}, page_size):
            versions.extend(_parse(VersionPage, data, "ListServiceVersions").versions)
        return versions

    async def describe_service_event(self, name: str, *, start_time: str | None = None, end_time: str | None = None,
                                     event_type: str | None = None, instance_name: str | None = None,
                                     page_num: int = 1, page_size: int = DEFAULT_PAGE_SIZE) -> EventPage:
        """One page of events (`PageNum`, 1-based); times are UTC `YYYY-MM-DD HH:MM:SS`."""
        query = {k: v for k, v in {"StartTime": start_time, "EndTime": end_time, "EventType": event_type,
                                   "InstanceName": instance_name}.items() if v}
        query.update(PageNum=str(page_num), PageSize=str(page_size))
        data = await self.caller.call(Request("DescribeServiceEvent", "GET", self._svc(name, "events"), query))
        return _parse(EventPage, data, "DescribeServiceEvent")

    async def update_service_safety_lock(self, name: str, lock: SafetyLock) -> Ack:
        return await self._ack("UpdateServiceSafetyLock", "PUT", self._svc(name, "lock"),
                               body=dump_json({"Lock": lock.value}))

    async def restart_service(self, name: str) -> Ack:
        """RestartService: every instance restarts (rolling); not repeated after an unknown outcome."""
        return await self._ack("RestartService", "PUT", self._svc(name, "restart"))

    async def list_service_instances(self, name: str, *, instance_status: str | None = None,
                                     page_size: int = DEFAULT_PAGE_SIZE) -> list[ServiceInstance]:
        """Every instance of the service (status, zone, spot, instance type), across pages."""
        query = {"InstanceStatus": instance_status} if instance_status else {}
        instances: list[ServiceInstance] = []
        async for data in self._pages("ListServiceInstances", self._svc(name, "instances"), query, page_size):
            instances.extend(_parse(InstancePage, data, "ListServiceInstances").instances)
        return instances

    # -- autoscaler -----------------------------------------------------------------------------

    async def create_service_autoscaler(self, name: str, *, min: int, max: int, strategies: Mapping[str, float],
                                        behavior: Mapping[str, Any] | None = None) -> Ack:
        """CreateServiceAutoScaler; retry-safe: "already exists" after an unknown outcome is checked by describing."""
        body = _autoscaler_body(min, max, strategies, behavior)

        async def resolve(err: ApiError) -> Json | None:
            if not isinstance(err, ConflictError):
                return None
            live = await self.describe_service_autoscaler(name)
            same = (live.min_replica, live.max_replica, live.strategies) == (min, max, dict(strategies))
            return {"Message": "already created"} if same else None
        return await self._ack("CreateServiceAutoScaler", "POST", self._svc(name, "autoscaler"),
                               body=dump_json(body), resolve=resolve)

    async def update_service_autoscaler(self, name: str, *, min: int, max: int, strategies: Mapping[str, float],
                                        behavior: Mapping[str, Any] | None = None) -> Ack:
        return await self._ack("UpdateServiceAutoScaler", "PUT", self._svc(name, "autoscaler"),
                               body=dump_json(_autoscaler_body(min, max, strategies, behavior)))

    async def describe_service_autoscaler(self, name: str) -> Autoscaler:
        data = await self.caller.call(Request("DescribeServiceAutoScaler", "GET", self._svc(name, "autoscaler")))
        return _parse(Autoscaler, data, "DescribeServiceAutoScaler")

    async def delete_service_autoscaler(self, name: str) -> Ack:
        return await self._ack("DeleteServiceAutoScaler", "DELETE", self._svc(name, "autoscaler"),
                               resolve=_gone_is_done)

    # -- groups ---------------------------------------------------------------------------------

    async def list_groups(self, *, filter: str | None = None,
                          page_size: int = DEFAULT_PAGE_SIZE) -> AsyncIterator[Group]:
        query = {"Filter": filter} if filter else {}
        async for data in self._pages("ListGroups", "/api/v2/groups", query, page_size):
            for group in _parse(GroupPage, data, "ListGroups").groups:
                yield group

    async def describe_group(self, name: str) -> Group:
        data = await self.caller.call(Request("DescribeGroup", "GET", self._grp(name)))
        return _parse(Group, data, "DescribeGroup")

    async def create_group(self, name: str, *, labels: Mapping[str, str] | None = None,
                           workspace_id: str | None = None) -> Ack:
        body: dict[str, Any] = {"Name": name}
        if workspace_id:
            body["WorkSpaceId"] = workspace_id  # sic: capital S on the wire, as the SDK sends it
        if labels:
            body["Labels"] = dict(labels)
        return await self._ack("CreateGroup", "POST", "/api/v2/groups", body=dump_json(body), resolve=_exists_is_done)

    async def update_group(self, name: str, *, traffic_mode: TrafficMode | None = None,
                           labels: Mapping[str, str] | None = None) -> Ack:
        """UpdateGroup: switch `auto` / `customized` (absolute values: idempotent)."""
        body: dict[str, Any] = {}
        if traffic_mode is not None:
            body["TrafficMode"] = traffic_mode.value
        if labels is not None:
            body["Labels"] = dict(labels)
        if not body:
            raise ConfigError("update_group needs traffic_mode and/or labels")
        return await self._ack("UpdateGroup", "PUT", self._grp(name), body=dump_json(body))

    async def delete_group(self, name: str, *, cascade: bool = False) -> Ack:
        return await self._ack("DeleteGroup", "DELETE", self._grp(name),
                               query={"CascadeDelete": "true" if cascade else "false"}, resolve=_gone_is_done)

    async def describe_group_endpoints(self, name: str) -> GroupEndpoints:
        data = await self.caller.call(Request("DescribeGroupEndpoints", "GET", self._grp(name, "endpoints")))
        return _parse(GroupEndpoints, data, "DescribeGroupEndpoints")


def _autoscaler_body(low: int, high: int, strategies: Mapping[str, float],
                     behavior: Mapping[str, Any] | None) -> dict[str, Any]:
    """The autoscaler API body: lowerCamel keys, strategies as a `scaleStrategies` list."""
    body: dict[str, Any] = {"min": low, "max": high, "scaleStrategies": [
        {"metricName": metric, "threshold": threshold} for metric, threshold in strategies.items()]}
    if behavior:
        body["behavior"] = dict(behavior)
    return body


async def _gone_is_done(err: ApiError) -> Json | None:
    """A delete repeated after an unknown outcome that answers NotFound: the first attempt deleted it."""
    return {"Message": "already deleted"} if isinstance(err, NotFoundError) else None


async def _exists_is_done(err: ApiError) -> Json | None:
    return {"Message": "already exists"} if isinstance(err, ConflictError) else None
