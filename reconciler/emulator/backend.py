"""The emulated EAS rules for services, free of HTTP: one method per operation.

Each method runs in one store transaction: settle time (see lifecycle), check, change, record the
accepted write in the history, start the phase the write implies. Errors are `WireError`s named
after their wire codes (reconciler.emulator.errors). Group operations live in `groups.py`.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from reconciler.emulator import autoscaler, errors, listing
from reconciler.emulator.groups import paginate
from reconciler.emulator.lifecycle import ServiceView
from reconciler.emulator.listing import ServiceQuery
from reconciler.emulator.models import (
    Phase,
    PhaseKind,
    SafetyLock,
    ServiceRecord,
    Status,
    TrafficState,
    Version,
    desired_instances,
    resource_of,
)
from reconciler.emulator.scaling import ScalingOps
from reconciler.emulator.store import Tx

_EVENT_TIME = "%Y-%m-%d %H:%M:%S"


def deep_merge(base: dict[str, Any], change: dict[str, Any]) -> dict[str, Any]:
    """`change` over `base`, recursively for objects; lists and scalars are replaced."""
    out = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _without_instance(config: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(config)
    (out.get("metadata") or {}).pop("instance", None)
    return out


class Backend(ScalingOps):
    # helpers -------------------------------------------------------------------------------
    def _validated_config(self, config: Any) -> dict[str, Any]:
        if not isinstance(config, dict):
            raise errors.invalid_parameter("The service config must be a JSON object.")
        metadata = config.get("metadata", {})
        if not isinstance(metadata, dict):
            raise errors.invalid_parameter("metadata must be a JSON object.")
        instance = metadata.get("instance", 1)
        if not isinstance(instance, int) or isinstance(instance, bool) or instance < 0:
            raise errors.invalid_parameter(f"metadata.instance must be an integer >= 0, got {instance!r}.")
        self.settings.bounds.check(metadata)
        self._bounded(autoscaler.from_config(config))  # a malformed autoscaler is refused here
        return config

    # CreateService -------------------------------------------------------------------------
    def create_service(self, config: Any, labels: dict[str, str], workspace_id: str = "") -> ServiceView:
        config = self._validated_config(config)
        metadata = config.get("metadata") or {}
        name = self.check_name(config.get("name", metadata.get("name")), "Service")
        group = metadata.get("group", "")
        if group:
            self.check_name(group, "Group")
        config = {**config, "name": name}
        with self.store.write() as tx:
            now = self._begin(tx)
            if tx.service(name) is not None:
                raise errors.service_exists(name)
            if group:
                self.ensure_group(tx, group, now)
            digest = hashlib.sha256(f"{name}/{now!r}".encode()).hexdigest()[:14]
            state = TrafficState(self.settings.initial_traffic_state) if group else TrafficState.STANDALONE
            svc = ServiceRecord(
                name=name, service_id=f"eas-m-{digest}", region=self.settings.region, group=group,
                traffic_state=state, weight=self.settings.default_weight, labels=dict(labels),
                safety_lock=SafetyLock.NONE, created_at=now, updated_at=now, config=config,
                versions=[Version(1, config, now)], current_version=1,
                phase=Phase(PhaseKind.CREATE, now, 0, 0, 0, 0, 0, 0, 0), settled=now, workspace_id=workspace_id)
            tx.put_service(svc, now)
            self.record(tx, now, "write", "CreateService", name, group,
                        {"Instance": desired_instances(config), "TrafficState": state.value})
            self.start_phase(tx, svc, PhaseKind.CREATE, now, desired_instances(config), to_version=1)
            return self.view(tx, svc, now)

    # reads ---------------------------------------------------------------------------------
    def describe_service(self, region: str, name: str) -> ServiceView:
        """The service with its group's member names (DescribeService's ExtraData, see responses)."""
        with self.reading() as (tx, now):
            svc = self._lookup(tx, region, name)
            members = tuple(s.name for s in tx.services(svc.group)) if svc.group else ()
            return replace(self.view(tx, svc, now), members=members)

    def list_services(self, q: ServiceQuery) -> tuple[list[ServiceView], int]:
        """One page and the total; read-only, nothing settled (see listing.py)."""
        with self.store.read() as tx:
            now = self.now(tx)
            page, total = listing.select(tx, q, now)
            return listing.views(tx, page, now, self.settings.weight_minus_one), total

    # UpdateService / UpdateServiceVersion --------------------------------------------------
    def update_service(self, region: str, name: str, body: Any, update_type: str = "merge") -> str:
        if update_type not in ("merge", "replace"):
            raise errors.invalid_parameter(f"UpdateType must be merge or replace, got {update_type!r}.")
        if not isinstance(body, dict):
            raise errors.invalid_parameter("The service config must be a JSON object.")
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "UpdateService", now)
            new = self._validated_config(deep_merge(svc.config, body) if update_type == "merge" else dict(body))
            new = self._keep_identity(svc, new)
            if new == svc.config:
                return f"Service [{name}] in region [{region}] is unchanged"
            scale_only = _without_instance(new) == _without_instance(svc.config)
            old_target = desired_instances(svc.config)
            svc.config = new
            detail = {"Instance": desired_instances(new), "UpdateType": update_type}
            if not scale_only:
                svc.versions.append(Version(svc.latest_version + 1, new, now))
                detail["Version"] = svc.latest_version
            self.record(tx, now, "write", "UpdateService", name, svc.group, detail)
            self._apply_config(tx, svc, now, PhaseKind.SCALE if scale_only else PhaseKind.UPDATE,
                               0 if scale_only else svc.latest_version)
            if desired_instances(new) < old_target:
                self.regrant(tx, now, resource=resource_of(new))
            return f"Succeed to update service [{name}] in region [{region}]"

    def _keep_identity(self, svc: ServiceRecord, new: dict[str, Any]) -> dict[str, Any]:
        """The name and the group are fixed at creation."""
        metadata = dict(new.get("metadata") or {})
        if new.get("name", svc.name) != svc.name or metadata.get("name", svc.name) != svc.name:
            raise errors.invalid_parameter("UpdateService cannot rename a service.")
        if metadata.get("group", svc.group) != svc.group:
            raise errors.invalid_parameter(f"UpdateService cannot move service [{svc.name}] to another group.")
        if svc.group:
            metadata["group"] = svc.group
        return {**new, "name": svc.name, **({"metadata": metadata} if metadata or "metadata" in new else {})}

    def _apply_config(self, tx: Tx, svc: ServiceRecord, now: float, kind: PhaseKind, to_version: int) -> None:
        """Start the phase a new config implies; a stopped service only stores it."""
        if svc.phase.kind is PhaseKind.STOP:
            tx.put_service(svc, now)
            return
        self.start_phase(tx, svc, kind, now, desired_instances(svc.config), to_version)

    def update_service_version(self, region: str, name: str, version: int) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "UpdateServiceVersion", now)
            if not 1 <= version <= svc.latest_version:
                raise errors.invalid_parameter(f"Version {version} does not exist (1..{svc.latest_version}).")
            config = copy.deepcopy(svc.versions[version - 1].config)
            config.setdefault("metadata", {})["instance"] = desired_instances(svc.config)
            svc.config = config
            self.record(tx, now, "write", "UpdateServiceVersion", name, svc.group, {"Version": version})
            self._apply_config(tx, svc, now, PhaseKind.UPDATE, version)
            return f"Succeed to update service [{name}] to version [{version}]"

    # ReleaseService ------------------------------------------------------------------------
    def release_service(self, region: str, name: str, traffic_state: str | None, weight: int | None) -> str:
        if traffic_state is not None and traffic_state not in ("grouping", "standalone"):
            raise errors.invalid_parameter(f"TrafficState must be grouping or standalone, got {traffic_state!r}.")
        if weight is not None and not -1 <= weight <= 1000:
            raise errors.invalid_parameter(f"Weight must be in [-1, 1000], got {weight}.")
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "ReleaseService", now)
            if not svc.group:
                raise errors.invalid_parameter(f"Service [{name}] is not in a service group.")
            if traffic_state is not None:
                svc.traffic_state = TrafficState(traffic_state)
            if weight is not None:
                svc.weight = weight
            svc.updated_at = now
            tx.put_service(svc, now)
            self.record(tx, now, "write", "ReleaseService", name, svc.group,
                        {"TrafficState": svc.traffic_state.value, "Weight": svc.weight})
            status = svc.state(now).status.value
            return (f"Releasing service [{name}] in region [{region}] with weight [{svc.weight}], "
                    f"service status: [{status}]")

    # Delete / Stop / Start -----------------------------------------------------------------
    def delete_service(self, region: str, name: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            self.delete_member(tx, self._lookup(tx, region, name), now, "DeleteService")
            return f"Service [{name}] in region [{region}] is terminating"

    def stop_service(self, region: str, name: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "StopService", now)
            if svc.phase.kind is not PhaseKind.STOP:
                self.record(tx, now, "write", "StopService", name, svc.group, {})
                self.start_phase(tx, svc, PhaseKind.STOP, now, desired_instances(svc.config))
                self.regrant(tx, now, resource=resource_of(svc.config))
            return f"Service [{name}] in region [{region}] is stopping"

    def start_service(self, region: str, name: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "StartService", now)
            if svc.phase.kind is PhaseKind.STOP or svc.state(now).status is Status.FAILED:
                self.record(tx, now, "write", "StartService", name, svc.group, {})
                latest = svc.latest_version
                self.start_phase(tx, svc, PhaseKind.START, now, desired_instances(svc.config),
                                 latest if latest != svc.running_version(now) else 0)
            return f"Service [{name}] in region [{region}] is starting"

    # labels, lock --------------------------------------------------------------------------
    def update_service_label(self, region: str, name: str, labels: dict[str, str]) -> str:
        return self._change(region, name, "UpdateServiceLabel", lambda s: s.labels.update(labels),
                            {"Labels": labels}, f"Succeed to update service [{name}] labels.")

    def delete_service_label(self, region: str, name: str, keys: list[str]) -> str:
        def drop(svc: ServiceRecord) -> None:
            for key in keys:
                svc.labels.pop(key, None)
        return self._change(region, name, "DeleteServiceLabel", drop, {"Keys": keys},
                            f"Succeed to delete service [{name}] labels.")

    def update_service_safety_lock(self, region: str, name: str, lock: str) -> str:
        if lock not in {m.value for m in SafetyLock}:
            raise errors.invalid_parameter(f"Lock must be all, dangerous or none, got {lock!r}.")

        def set_lock(svc: ServiceRecord) -> None:
            svc.safety_lock = SafetyLock(lock)
        return self._change(region, name, "UpdateServiceSafetyLock", set_lock, {"Lock": lock},
                            f"service safety lock updated to {lock}")

    def _change(self, region: str, name: str, action: str, change: Any, detail: dict[str, Any], message: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            if action != "UpdateServiceSafetyLock":
                self.guard(svc, action, now)
            change(svc)
            svc.updated_at = now
            tx.put_service(svc, now)
            self.record(tx, now, "write", action, name, svc.group, detail)
            return message

    # versions, events ----------------------------------------------------------------------
    def list_service_versions(self, region: str, name: str, page: int, size: int) -> tuple[list[Version], int]:
        with self.reading() as (tx, _now):
            versions = list(reversed(self._lookup(tx, region, name).versions))
            return paginate(versions, page, size), len(versions)

    def describe_service_event(self, region: str, name: str, start: float | None, end: float | None,
                               event_type: str, page: int, size: int) -> tuple[list[dict[str, str]], int]:
        with self.reading() as (tx, now):
            self._lookup(tx, region, name)
            start = now - 7 * 86400 if start is None else start
            end = now if end is None else end
            out = []
            for e in tx.events(service=name):
                kind = "Warning" if e["action"] == Status.FAILED.value else "Normal"
                if start <= e["time"] <= end and (not event_type or event_type == kind):
                    out.append({"Type": kind, "Reason": e["action"], "Resource": "Service",
                                "Time": datetime.fromtimestamp(e["time"], UTC).strftime(_EVENT_TIME),
                                "Message": _event_message(e)})
            return paginate(out, page, size), len(out)


def _event_message(event: dict[str, Any]) -> str:
    return json.dumps({"kind": event["kind"], **event["detail"]}, sort_keys=True)

