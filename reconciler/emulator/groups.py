"""Group operations, gateway routing data and the admin controls of the emulator (HTTP-free).

Group lifecycle: a group is created implicitly by the first service naming it (or by CreateGroup,
then `explicit`), and an implicit group is removed when its last member is gone. TrafficMode is
switched with UpdateGroup; shares follow immediately.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.emulator import errors
from reconciler.emulator.lifecycle import Core
from reconciler.emulator.models import GroupRecord, PhaseKind, TrafficMode, next_change
from reconciler.emulator.store import Tx
from reconciler.emulator.tokens import Tokens

T = TypeVar("T")


def paginate(items: Sequence[T], page: int, size: int) -> list[T]:
    """1-based pages; a page past the end is empty."""
    if page < 1 or size < 1:
        raise errors.invalid_parameter(f"PageNumber and PageSize must be >= 1 (got {page}, {size}).")
    return list(items[(page - 1) * size: page * size])


@dataclass(frozen=True)
class Target:
    """A member that can answer a prediction request."""

    name: str
    version: int
    labels: dict[str, str]
    autoscaled: bool = False  # has an autoscaler: the gateway counts its requests (autoscaler.py)


@dataclass(frozen=True)
class Route:
    """Where `/api/predict/<name>` leads: a group's weighted members, or one member directly."""

    kind: str  # "group" | "direct" | "none"
    weights: dict[str, int] = field(default_factory=dict)
    targets: dict[str, Target] = field(default_factory=dict)
    valid_until: float = math.inf  # emulated time at which a member's state next changes
    token: str = field(default="", repr=False)  # the AccessToken this endpoint takes ("" for "none")


class GroupOps(Core):
    @property
    def tokens(self) -> Tokens:
        """The AccessTokens of this store's services and groups (tokens.py)."""
        return Tokens(self.store.token_key)

    # lifecycle -----------------------------------------------------------------------------
    def ensure_group(self, tx: Tx, name: str, now: float) -> None:
        if tx.group(name) is None:
            tx.put_group(GroupRecord(name, self.settings.region, TrafficMode.AUTO, now, now, explicit=False))
            self.record(tx, now, "group", "GroupCreated", "", name, {"Explicit": False})

    def _group(self, tx: Tx, region: str, name: str) -> GroupRecord:
        group = tx.group(name)
        if group is None or group.region != region:
            raise errors.group_not_found(name)
        return group

    # operations ----------------------------------------------------------------------------
    def list_groups(self, name_contains: str, traffic_mode: str, page: int, size: int) -> tuple[list[GroupRecord], int]:
        with self.reading() as (tx, _now):
            groups = [g for g in tx.groups() if name_contains in g.name and g.region == self.settings.region
                      and (not traffic_mode or g.traffic_mode.value == traffic_mode)]
            return paginate(groups, page, size), len(groups)

    def describe_group(self, region: str, name: str) -> GroupRecord:
        with self.reading() as (tx, _now):
            return self._group(tx, region, name)

    def create_group(self, name: Any, labels: dict[str, str], network: dict[str, Any], workspace_id: str) -> str:
        name = self.check_name(name, "Group")
        with self.store.write() as tx:
            now = self._begin(tx)
            if tx.group(name) is not None:
                raise errors.group_exists(name)
            tx.put_group(GroupRecord(name, self.settings.region, TrafficMode.AUTO, now, now, explicit=True,
                                     labels=dict(labels), network=dict(network), workspace_id=workspace_id))
            self.record(tx, now, "write", "CreateGroup", "", name, {"Explicit": True, "Labels": sorted(labels)})
            return f"Create service group {name} successfully"

    def update_group(self, region: str, name: str, traffic_mode: str | None, labels: dict[str, str] | None,
                     network: dict[str, Any] | None) -> str:
        if traffic_mode is not None and traffic_mode not in ("auto", "customized"):
            raise errors.invalid_parameter(f"TrafficMode must be auto or customized, got {traffic_mode!r}.")
        with self.store.write() as tx:
            now = self._begin(tx)
            group = self._group(tx, region, name)
            if traffic_mode is not None:
                group.traffic_mode = TrafficMode(traffic_mode)
            if labels is not None:
                group.labels = dict(labels)
            if network is not None:
                group.network = dict(network)
            group.updated_at = now
            tx.put_group(group)
            detail: dict[str, Any] = {"TrafficMode": group.traffic_mode.value}
            if labels is not None:
                detail["Labels"] = sorted(labels)  # the label keys it set (every other label is gone)
            self.record(tx, now, "write", "UpdateGroup", "", name, detail)
            return f"Update service group {name} successfully"

    def delete_group(self, region: str, name: str, cascade: bool) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            group = self._group(tx, region, name)
            members = [m for m in tx.services(name) if m.phase.kind is not PhaseKind.DELETE]
            if members and not cascade:
                raise errors.group_not_empty(name, len(members))
            for member in members:  # check every lock before changing anything
                self.guard(member, "DeleteGroup", now)
            self.record(tx, now, "write", "DeleteGroup", "", name, {"CascadeDelete": cascade})
            for member in members:
                self.delete_member(tx, member, now, "DeleteGroup")
            if tx.services(name):
                group.explicit = False  # goes with its last member
                tx.put_group(group)
            else:
                tx.delete_group(name)
                self.record(tx, now, "group", "GroupDeleted", "", name, {"Reason": "DeleteGroup"})
            return f"Delete service group {name} successfully\n"

    # gateway -------------------------------------------------------------------------------
    def generation(self) -> tuple[str, float]:
        """(store generation, emulated now): cheap, read-only; keys the gateway's route cache."""
        with self.store.read() as tx:
            return tx.meta("generation", "0"), self.now(tx)

    def route(self, path_name: str) -> Route:
        """Resolve `<group>`, `<group>.<service>` or an ungrouped `<service>`; read-only, no settling."""
        with self.store.read() as tx:
            now = self.now(tx)
            group_name, _, service_name = path_name.partition(".")
            group = tx.group(group_name)
            if service_name or group is None:
                svc = tx.service(service_name or group_name)
                if svc is None or svc.group != (group_name if service_name else ""):
                    return Route("none")
                members = [svc]
                weights = {svc.name: svc.state(now).running}
                kind, token = "direct", self.tokens.service(svc)
            else:
                members = tx.services(group.name)
                weights = self.group_weights(tx, group, now)
                kind, token = "group", self.tokens.group(group)
            changes = [c for m in members if (c := next_change(m.phase, now)) is not None]
            targets = {m.name: Target(m.name, m.running_version(now), dict(m.labels), "autoscaler" in m.config)
                       for m in members}
            return Route(kind, weights, targets, min(changes, default=math.inf), token)

    # admin ---------------------------------------------------------------------------------
    def advance_clock(self, seconds: float) -> float:
        if not math.isfinite(seconds) or seconds < 0:  # a NaN offset would poison every later time
            raise errors.invalid_parameter("The clock only moves forward, by a finite number of seconds.")
        with self.store.write() as tx:
            tx.set_meta("clock_offset", repr(float(tx.meta("clock_offset", "0")) + seconds))
            tx.dirty = True
            return self._begin(tx)

    def set_stock(self, instance_type: str, in_stock: bool) -> None:
        with self.store.write() as tx:
            now = self._begin(tx)
            tx.set_stock(instance_type, in_stock)
            self.record(tx, now, "admin", "SetStock", "", "", {"InstanceType": instance_type, "InStock": in_stock})
            self.regrant(tx, now, instance_type=instance_type)

    def set_capacity(self, resource: str, instances: int | None) -> None:
        with self.store.write() as tx:
            now = self._begin(tx)
            tx.set_capacity(resource, instances)
            self.record(tx, now, "admin", "SetCapacity", "", "", {"Resource": resource, "Instances": instances})
            self.regrant(tx, now, resource=resource)

    def history(self, group: str | None = None) -> tuple[list[dict[str, Any]], list[dict[str, Any]], float]:
        """(events, share timeline, now), settled up to now; both filtered by group when given."""
        with self.store.write() as tx:
            now = self._begin(tx)
            return tx.events(group=group), tx.share_timeline(group), now
