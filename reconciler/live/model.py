"""The live side: what EAS reports, as pure frozen data (no I/O; the reader fills it in).

`LiveState` holds every service and group the planner needs; the planner never calls EAS.
`fingerprint(live)` hashes everything a plan depends on, so a saved plan can be refused when the
live state moved since (nothing stale).

Invariants:
- `LiveService.weight` is what EAS lists: the stored weight in `customized` mode, the computed
  share in percent in `auto` mode (a standalone member lists 0). The planner never reads it as a
  stored weight while the group is in `auto` mode.
- `status` is a closed enum; a value EAS adds later maps to `OTHER`, the raw text kept in
  `status_text`. `SETTLING` lists the statuses that reach Running without a write from us.
- Ownership is a label: `eas-gitops/managed-by` marks services this tool created (or adopted);
  `eas-gitops/spec-hash` carries the hash of the EAS config last applied from the spec.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from enum import StrEnum
from functools import cached_property
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from reconciler.desired.model import TrafficMode, TrafficState

MANAGED_BY_LABEL = "eas-gitops/managed-by"
MANAGED_BY_VALUE = "eas-gitops"
SPEC_HASH_LABEL = "eas-gitops/spec-hash"
COMMIT_LABEL = "eas-gitops/commit"  # the commit a plan that wrote to the service came from (reconciler.gitops.commit)


class ServiceStatus(StrEnum):
    """EAS service statuses; anything else is OTHER."""

    CREATING = "Creating"
    WAITING = "Waiting"
    DEPLOYING = "Deploying"
    RUNNING = "Running"
    UPDATING = "Updating"
    HOT_UPDATE = "HotUpdate"
    SCALING = "Scaling"
    STARTING = "Starting"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    FAILED = "Failed"
    PENDING = "Pending"
    COMPLETE = "Complete"
    CLONING = "Cloning"
    DEVELOPING = "Developing"
    COMMITTING = "Committing"
    DELETING = "Deleting"
    DELETED = "Deleted"
    DELETE_FAILED = "DeleteFailed"
    OTHER = "Other"


_STATUS_BY_TEXT = {s.value.lower(): s for s in ServiceStatus if s is not ServiceStatus.OTHER}

# Statuses from which EAS brings a service to Running with every replica by itself (the EAS docs are
# silent on which ones settle; our choice): the planner may wait for a member in one of these. Any
# other status (Failed, Stopped, Deleting, an unknown one...) needs a change before it can be ready.
SETTLING = frozenset({
    ServiceStatus.CREATING, ServiceStatus.WAITING, ServiceStatus.DEPLOYING, ServiceStatus.RUNNING,
    ServiceStatus.UPDATING, ServiceStatus.HOT_UPDATE, ServiceStatus.SCALING, ServiceStatus.STARTING,
    ServiceStatus.PENDING,
})


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LiveService(_Frozen):
    """One EAS service as listed (ListServices gives every field here in one call)."""

    name: str
    region: str
    group: str | None = Field(default=None, description="ServiceGroup; None when not in a group.")
    status: ServiceStatus = ServiceStatus.RUNNING
    status_text: str = Field(default="", description="Raw Status text as EAS sent it.")
    reason: str = ""
    running: int = Field(default=0, ge=0, description="RunningInstance.")
    pending: int = Field(default=0, ge=0, description="PendingInstance.")
    total: int = Field(default=0, ge=0, description="TotalInstance.")
    traffic_state: TrafficState = TrafficState.STANDALONE
    weight: int = Field(default=0, description="Listed Weight: stored (customized) or share % (auto).")
    config: dict[str, Any] = Field(default_factory=dict, description="ServiceConfig, parsed.")
    labels: dict[str, str] = Field(default_factory=dict)
    current_version: int = 1
    latest_version: int = 1

    @model_validator(mode="before")
    @classmethod
    def _status(cls, data: Any) -> Any:
        """Map any status text to the closed enum, keeping the raw text."""
        if isinstance(data, dict) and isinstance(data.get("status"), str):
            raw = data["status"]
            known = _STATUS_BY_TEXT.get(raw.lower())
            data = {**data, "status": known or ServiceStatus.OTHER}
            data.setdefault("status_text", raw)
        return data

    @property
    def key(self) -> tuple[str, str]:
        return (self.region, self.name)

    @property
    def managed(self) -> bool:
        return self.labels.get(MANAGED_BY_LABEL) == MANAGED_BY_VALUE

    @property
    def spec_hash(self) -> str | None:
        return self.labels.get(SPEC_HASH_LABEL)

    @property
    def commit(self) -> str | None:
        return self.labels.get(COMMIT_LABEL)

    @property
    def replicas(self) -> int:
        """Desired replicas: `metadata.instance` of the config, else TotalInstance."""
        meta = self.config.get("metadata")
        instance = meta.get("instance") if isinstance(meta, dict) else None
        return instance if isinstance(instance, int) else self.total

    @property
    def ready(self) -> bool:
        """Running with every desired replica up (ready before traffic)."""
        return self.status is ServiceStatus.RUNNING and self.running > 0 and self.running >= self.replicas

    @property
    def settling(self) -> bool:
        """Not stuck: EAS brings it to Running by itself (see `SETTLING`)."""
        return self.status in SETTLING


class LiveGroup(_Frozen):
    name: str
    region: str
    traffic_mode: TrafficMode = TrafficMode.AUTO

    @property
    def key(self) -> tuple[str, str]:
        return (self.region, self.name)


class LiveState(_Frozen):
    """Every service and group read from EAS; lookups by (region, name)."""

    services: tuple[LiveService, ...] = ()
    groups: tuple[LiveGroup, ...] = ()

    @model_validator(mode="after")
    def _unique(self) -> LiveState:
        for kind, keys in (("service", [s.key for s in self.services]), ("group", [g.key for g in self.groups])):
            if len(set(keys)) != len(keys):
                dupes = sorted({k for k in keys if keys.count(k) > 1})
                raise ValueError(f"duplicate {kind} in live state: {dupes}")
        return self

    # Lookups go through indexes built once on first use (the state is frozen, so they never go
    # stale; `cached_property` values are not fields: equality, dumps and the schema ignore them).
    # Linear scans here made planning 10,000 services quadratic.

    @cached_property
    def _service_index(self) -> dict[tuple[str, str], LiveService]:
        return {s.key: s for s in self.services}

    @cached_property
    def _group_index(self) -> dict[tuple[str, str], LiveGroup]:
        return {g.key: g for g in self.groups}

    @cached_property
    def _member_index(self) -> dict[tuple[str, str], tuple[LiveService, ...]]:
        found: dict[tuple[str, str], list[LiveService]] = {}
        for s in self.services:
            if s.group:
                found.setdefault((s.region, s.group), []).append(s)
        return {k: tuple(sorted(v, key=lambda s: s.name)) for k, v in found.items()}

    def service(self, region: str, name: str) -> LiveService | None:
        return self._service_index.get((region, name))

    def group(self, region: str, name: str) -> LiveGroup | None:
        return self._group_index.get((region, name))

    def members(self, region: str, group: str) -> list[LiveService]:
        """Members of a group, sorted by name."""
        return list(self._member_index.get((region, group), ()))

    def group_keys(self) -> list[tuple[str, str]]:
        """Every group known live: listed groups and groups named by services."""
        return sorted(set(self._group_index) | set(self._member_index))

    def only(self, keys: Iterable[tuple[str, str]]) -> LiveState:
        """The part of the state that concerns the given (region, group) keys."""
        wanted = set(keys)
        return LiveState(
            services=tuple(s for s in self.services if s.group and (s.region, s.group) in wanted),
            groups=tuple(g for g in self.groups if g.key in wanted),
        )


def _service_facts(s: LiveService) -> dict[str, Any]:
    return {
        "region": s.region, "name": s.name, "group": s.group, "status": s.status.value,
        "running": s.running, "pending": s.pending, "total": s.total,
        "traffic_state": s.traffic_state.value, "weight": s.weight,
        "current_version": s.current_version, "latest_version": s.latest_version,
        "config": s.config, "labels": s.labels,
    }


def fingerprint(live: LiveState) -> str:
    """sha256 over a canonical JSON of everything a plan depends on (order-independent)."""
    doc = {
        "services": [_service_facts(s) for s in sorted(live.services, key=lambda s: s.key)],
        "groups": [
            {"region": g.region, "name": g.name, "traffic_mode": g.traffic_mode.value}
            for g in sorted(live.groups, key=lambda g: g.key)
        ],
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()
