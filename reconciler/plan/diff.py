"""diff(desired, live) -> changes: pure, with a stable order (region, group, service, field).

`analyze` does the work and keeps what the ordering needs per member (`MemberDelta`); `diff`
flattens it into the `Change` list people read.

Rules:
- Configs are compared only on the keys the spec declares (`declared_paths` of `to_eas_config`):
  EAS adds platform defaults to the live config. `metadata.instance` is compared as `replicas`
  (an instance-only update is a scale, not a new version) and `metadata.group` as membership.
- Autoscaled members: live replicas inside [min, max] are the autoscaler's business, no change.
- Weights matter only when the group ends in `customized` mode; in `auto` mode EAS lists the
  share, not the stored weight, so a switch to customized always sets every declared weight.
- Ownership: a live member without `eas-gitops/managed-by` is shown and counted, never touched.
  A declared service that exists unmanaged is left alone with a warning unless `adopt` is set.
  A managed member no longer declared is removed; a managed group whose file is gone is orphaned:
  reported, and removed only with `prune`.
- Removals: a label key or config key the file no longer declares is removed live only when the
  declared-keys record on the service says eas-gitops declared it last time, so platform defaults
  and other people's labels stay (`reconciler.plan.record`: the record; `reconciler.plan.removals`:
  the decisions). A config removal is a new version. The record follows every write to the service.
- Commit: the `eas-gitops/commit` label (`reconciler.gitops.commit`) goes with every member the plan
  creates or changes; it is never a change by itself, so a new commit alone plans nothing.
- Secrets: a config value holding `${env:NAME}` is never compared (the live side holds the
  resolved value) and always shown as `(sensitive)`. Changes to it are detected through the
  `eas-gitops/spec-hash` label, the hash of the unresolved config last applied.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from reconciler.desired.eas_config import Path, declared_paths, to_eas_config, value_at
from reconciler.desired.model import ServiceGroup, ServiceSpec, TrafficMode
from reconciler.errors import PlanError
from reconciler.live.model import (
    COMMIT_LABEL,
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    SPEC_HASH_LABEL,
    LiveService,
    LiveState,
)
from reconciler.plan import record
from reconciler.plan.model import SENSITIVE, Change, ChangeOp, GroupStatus, PlanWarning, WarningCode
from reconciler.plan.record import DEFAULT_LIMITS, RecordLimits, RecordState
from reconciler.plan.removals import RecordDiffer

_NOT_COMPARED = {("metadata", "instance"), ("metadata", "group")}
_SKIPPED: dict[Path, set[str]] = {("metadata",): {"instance", "group"}}  # _NOT_COMPARED by parent, for `_covered`
_ABSENT = object()
SECRET_MARK = "${env:"


class MemberKind(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    KEEP = "keep"  # managed, nothing to change
    DELETE = "delete"
    UNMANAGED = "unmanaged"  # counted in shares, never touched


@dataclass(frozen=True)
class MemberDelta:
    """One member of a group: where it is, where it should be, what differs."""

    name: str
    kind: MemberKind
    spec: ServiceSpec | None = None
    live: LiveService | None = None
    config: dict[str, Any] | None = None  # desired EAS config (secrets as references)
    spec_hash: str | None = None
    config_paths: tuple[str, ...] = ()  # changed config paths; non-empty means a new version
    sensitive_paths: tuple[str, ...] = ()
    labels: dict[str, str] = field(default_factory=dict)  # labels to add or overwrite
    record: dict[str, str] = field(default_factory=dict)  # the declared-keys record labels as they should be
    removed_labels: tuple[str, ...] = ()  # label keys to delete (declared last time, no longer)
    removed_config: tuple[Path, ...] = ()  # config paths to delete; they are in `config_paths` too
    stale_record: tuple[str, ...] = ()  # record pieces the shorter record no longer uses
    target_replicas: int | None = None  # None: unchanged
    changes: tuple[Change, ...] = ()
    commit: str | None = None  # the commit label a created member is created with (kept members: in `labels`)

    @property
    def managed(self) -> bool:
        return self.kind is not MemberKind.UNMANAGED


@dataclass(frozen=True)
class GroupDelta:
    region: str
    name: str
    status: GroupStatus
    desired: ServiceGroup | None
    mode_before: TrafficMode | None
    mode_after: TrafficMode | None
    members: tuple[MemberDelta, ...]
    changes: tuple[Change, ...]
    warnings: tuple[PlanWarning, ...]
    commit: str | None = None  # the eas-gitops/commit value for the members it writes (None: outside git)

    def member(self, name: str) -> MemberDelta:
        return next(m for m in self.members if m.name == name)


def is_sensitive(value: Any) -> bool:
    """True when a config value holds a secret reference anywhere inside it."""
    if isinstance(value, str):
        return SECRET_MARK in value
    if isinstance(value, dict):
        return any(is_sensitive(v) for v in value.values())
    if isinstance(value, list):
        return any(is_sensitive(v) for v in value)
    return False


def mask(value: Any) -> Any:
    """`value` with every secret reference replaced by `(sensitive)`, for display."""
    if isinstance(value, str):
        return SENSITIVE if SECRET_MARK in value else value
    if isinstance(value, dict):
        return {k: mask(v) for k, v in value.items()}
    if isinstance(value, list):
        return [mask(v) for v in value]
    return value


def _covered(want: dict[str, Any], have: Any, prefix: Path = ()) -> bool:
    """True only when `_GroupDiffer._config_changes` finds no change: every declared leaf of `want`
    (see `declared_paths`) but `_NOT_COMPARED` is in `have`, equal. One walk, no sorted path list:
    the common case of a member whose config did not change. Objects are matched as `dict` (what
    JSON parsing and `to_eas_config` give): anything else is compared whole, which can only say
    "differs" where the path-by-path comparison would not, never the reverse."""
    if not isinstance(have, dict):
        return False
    skip = _SKIPPED.get(prefix, ())
    for key, value in want.items():
        if isinstance(value, dict) and value:
            if not _covered(value, have.get(key), (*prefix, key)):
                return False
        elif key not in skip and have.get(key, _ABSENT) != value:
            return False
    return True


def without_instance(config: dict[str, Any]) -> dict[str, Any]:
    """`config` without `metadata.instance`: replicas travel in scale steps, never with a new version
    (sending it with an update would undo what an autoscaler did)."""
    meta = config.get("metadata")
    if isinstance(meta, dict) and "instance" in meta:
        return {**config, "metadata": {k: v for k, v in meta.items() if k != "instance"}}
    return config


def spec_hash(config: dict[str, Any]) -> str:
    """Short sha256 of the unresolved EAS config (without replicas): the `eas-gitops/spec-hash` label value."""
    text = json.dumps(without_instance(config), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _wanted(region: str, name: str, groups: set[str] | None) -> bool:
    return groups is None or name in groups or f"{region}/{name}" in groups


def describe_spec(spec: ServiceSpec, mode: TrafficMode) -> str:
    """One line for a new member: replicas, traffic, placement, code."""
    parts = [f"{spec.replicas} replica{'' if spec.replicas == 1 else 's'}" if spec.replicas is not None
             else f"autoscaling {spec.autoscaling.min}-{spec.autoscaling.max}" if spec.autoscaling else ""]
    parts.append(spec.traffic.value)
    if mode is TrafficMode.CUSTOMIZED and spec.weight is not None:
        parts.append(f"weight {spec.weight}")
    res = spec.resources
    if res.resource_group:
        parts.append(f"dedicated {res.resource_group}")
    if res.types:
        parts.append("public " + "/".join(res.types))
    if res.cpu is not None and res.memory is not None:
        parts.append(f"cpu {res.cpu:g} memory {res.memory} MB" + (f" gpu {res.gpu}" if res.gpu else ""))
    if spec.model is not None:
        parts.append(f"{spec.model.processor} {spec.model.path}")
    for container in spec.containers or []:
        parts.append(f"image {container.image}")
    return ", ".join(p for p in parts if p)


def describe_live(s: LiveService) -> str:
    return f"{s.running}/{s.replicas} running, {s.traffic_state.value}, {s.status.value}"


class _GroupDiffer(RecordDiffer):
    """Builds the `GroupDelta` of one group; `changes` accumulate in `self.changes`."""

    def __init__(self, region: str, name: str, live: LiveState, *, adopt: bool,
                 limits: RecordLimits = DEFAULT_LIMITS, commit: str | None = None) -> None:
        self.region, self.name, self.live, self.adopt, self.limits = region, name, live, adopt, limits
        self.commit = commit
        self.changes: list[Change] = []
        self.warnings: list[PlanWarning] = []

    def change(self, service: str | None, field_: str, op: ChangeOp, before: Any, after: Any) -> Change:
        c = Change(region=self.region, group=self.name, service=service, field=field_, op=op,
                   before=before, after=after)
        self.changes.append(c)
        return c

    def warn(self, code: WarningCode, service: str | None, message: str) -> None:
        self.warnings.append(PlanWarning(code=code, region=self.region, group=self.name, service=service,
                                         message=message))

    def unmanaged(self, live: LiveService, declared: bool) -> MemberDelta:
        if declared:
            self.warn(WarningCode.UNMANAGED_NAME, live.name,
                      f"{live.name} exists but is not managed by eas-gitops (no {MANAGED_BY_LABEL} label): "
                      "left untouched; plan with --adopt to manage it")
        else:
            self.warn(WarningCode.UNMANAGED_MEMBER, live.name,
                      f"{live.name} is not managed by eas-gitops: counted in the shares, never changed")
        return MemberDelta(name=live.name, kind=MemberKind.UNMANAGED, live=live)

    def removed(self, live: LiveService) -> MemberDelta:
        c = self.change(live.name, "service", ChangeOp.REMOVE, describe_live(live), None)
        return MemberDelta(name=live.name, kind=MemberKind.DELETE, live=live, changes=(c,))

    def created(self, group: ServiceGroup, spec: ServiceSpec) -> MemberDelta:
        config = to_eas_config(group, spec)
        c = self.change(spec.name, "service", ChangeOp.ADD, None, describe_spec(spec, group.spec.traffic_mode))
        declared = declared_paths(config)
        secret = _secret_paths(config, declared)
        wanted = self.wanted_record(spec, declared, secret, record.Recorded(RecordState.ABSENT))
        return MemberDelta(name=spec.name, kind=MemberKind.CREATE, spec=spec, config=config,
                           spec_hash=spec_hash(config), sensitive_paths=dotted(secret), record=wanted,
                           target_replicas=spec.base_replicas, changes=(c,), commit=self.commit)

    def kept(self, group: ServiceGroup, spec: ServiceSpec, live: LiveService, mode_before: TrafficMode | None
             ) -> MemberDelta:
        start = len(self.changes)
        config = to_eas_config(group, spec)
        digest = spec_hash(config)
        declared = declared_paths(config)  # once per member: both the comparison and the secrets need it
        secret = _secret_paths(config, declared)
        recorded = record.decode(live.labels)
        gone_labels, gone_paths = self.removals(spec, live, declared, recorded)
        paths = self._config_changes(spec.name, config, declared, live, digest, removing=bool(gone_paths))
        # A stale hash alone, with a readable record and no secret, is bookkeeping: the visible config
        # already matches (e.g. after `drift --write`); it is refreshed with the next write.
        settled = live.spec_hash is not None and not secret and recorded.state is RecordState.OK
        labels = self._label_changes(spec, live, digest, bool(paths) or bool(gone_paths), settled)
        target = self._replica_change(spec, live)
        if spec.traffic is not live.traffic_state:
            self.change(spec.name, "traffic_state", ChangeOp.MODIFY, live.traffic_state.value, spec.traffic.value)
        if group.spec.traffic_mode is TrafficMode.CUSTOMIZED and spec.weight is not None:
            stored = live.weight if mode_before is TrafficMode.CUSTOMIZED else None
            if stored != spec.weight:
                self.change(spec.name, "weight", ChangeOp.MODIFY, stored, spec.weight)
        if self.commit is not None and len(self.changes) > start and live.commit != self.commit:
            labels[COMMIT_LABEL] = self.commit  # only along with a real change: a new commit alone is no diff
        writing = bool(labels or gone_labels or gone_paths)
        # a service without a record and without writes keeps none: nothing to compute for it
        wanted = (self.wanted_record(spec, declared, secret, recorded)
                  if writing or recorded.state is not RecordState.ABSENT else {})
        now = record.Declared(frozenset(spec.labels), frozenset(declared), frozenset(secret))
        new_record: dict[str, str]
        stale: tuple[str, ...]
        if (not writing and recorded.declared is not None and record.covers(recorded.declared, now, live)
                and not record.stale_pieces(live.labels, wanted)):
            new_record, stale = {}, ()  # the record names more keys, all gone live: nothing to remove, no write
        else:
            new_record, stale = self.record_changes(spec.name, live, recorded, wanted, writing)
        labels.update(new_record)
        mine = tuple(self.changes[start:])
        return MemberDelta(name=spec.name, kind=MemberKind.UPDATE if mine else MemberKind.KEEP, spec=spec,
                           live=live, config=config, spec_hash=digest,
                           config_paths=(*paths, *dotted(gone_paths)), sensitive_paths=dotted(secret),
                           labels=labels, record=wanted, removed_labels=gone_labels, removed_config=gone_paths,
                           stale_record=stale, target_replicas=target, changes=mine)

    def _config_changes(self, name: str, config: dict[str, Any], declared: set[Path], live: LiveService,
                        digest: str, *, removing: bool = False) -> tuple[str, ...]:
        changed: list[str] = []
        secret: list[tuple[str, bool]] = []  # (path, present live)
        if not is_sensitive(config) and _covered(config, live.config):
            return ()  # the common case, checked in one walk: nothing differs and no secret hides a change
        for path in sorted(declared - _NOT_COMPARED):
            _, want = value_at(config, path)
            found, have = value_at(live.config, path)
            dotted = ".".join(path)
            if is_sensitive(want):
                secret.append((dotted, found))
            elif not found or have != want:
                op = ChangeOp.MODIFY if found else ChangeOp.ADD
                self.change(name, f"config.{dotted}", op, mask(have) if found else None, mask(want))
                changed.append(dotted)
        if not changed and not removing and secret and live.spec_hash != digest:
            # Only a secret reference can explain a different hash with equal visible keys.
            for dotted, found in secret:  # an absent live value is shown as absent, not as a secret
                op = ChangeOp.MODIFY if found else ChangeOp.ADD
                self.change(name, f"config.{dotted}", op, SENSITIVE if found else None, SENSITIVE)
            changed = [dotted for dotted, _ in secret]
        return tuple(changed)

    def _label_changes(self, spec: ServiceSpec, live: LiveService, digest: str, new_version: bool,
                       settled: bool = False) -> dict[str, str]:
        labels: dict[str, str] = {}
        if not live.managed:  # adopted
            labels[MANAGED_BY_LABEL] = MANAGED_BY_VALUE
            self.change(spec.name, f"labels.{MANAGED_BY_LABEL}", ChangeOp.ADD, None, MANAGED_BY_VALUE)
        for key, value in sorted(spec.labels.items()):
            if live.labels.get(key) != value:
                labels[key] = value
                op = ChangeOp.MODIFY if key in live.labels else ChangeOp.ADD
                self.change(spec.name, f"labels.{key}", op, live.labels.get(key), value)
        if live.spec_hash != digest and (new_version or labels or not settled):
            labels[SPEC_HASH_LABEL] = digest
            if not new_version:  # with a new version the hash follows silently
                op = ChangeOp.MODIFY if live.spec_hash else ChangeOp.ADD
                self.change(spec.name, f"labels.{SPEC_HASH_LABEL}", op, live.spec_hash, digest)
        return labels

    def _replica_change(self, spec: ServiceSpec, live: LiveService) -> int | None:
        have = live.replicas
        if spec.autoscaling is not None:
            want = min(max(have, spec.autoscaling.min), spec.autoscaling.max)
        else:
            want = spec.base_replicas
        if want == have:
            return None
        self.change(spec.name, "replicas", ChangeOp.MODIFY, have, want)
        return want


def _secret_paths(config: dict[str, Any], declared: set[Path]) -> tuple[Path, ...]:
    if not is_sensitive(config):  # the common case, without a lookup per declared path
        return ()
    return tuple(p for p in sorted(declared) if is_sensitive(value_at(config, p)[1]))


def dotted(paths: Sequence[Path]) -> tuple[str, ...]:
    return tuple(".".join(p) for p in paths)


def _desired_group(group: ServiceGroup, live: LiveState, adopt: bool, limits: RecordLimits,
                   commit: str | None = None) -> GroupDelta:
    d = _GroupDiffer(group.region, group.name, live, adopt=adopt, limits=limits, commit=commit)
    live_group = live.group(group.region, group.name)
    live_members = live.members(group.region, group.name)
    exists = bool(live_members)
    mode_before = live_group.traffic_mode if live_group else (TrafficMode.AUTO if exists else None)
    mode_after = group.spec.traffic_mode
    if not exists:
        d.change(None, "group", ChangeOp.ADD, None, mode_after.value)
    elif mode_before is not mode_after:
        d.change(None, "traffic_mode", ChangeOp.MODIFY, mode_before.value if mode_before else None, mode_after.value)
    members: list[MemberDelta] = []
    for spec in group.spec.services:
        lv = live.service(group.region, spec.name)
        if lv is None:
            members.append(d.created(group, spec))
        elif lv.group != group.name:
            raise PlanError(
                f"service {group.region}/{spec.name} is declared in group {group.name} but lives in group "
                f"{lv.group or '(none)'}: moving a service between groups is not supported; remove it from "
                "one file, apply, then declare it in the other")
        elif not lv.managed and not adopt:
            members.append(d.unmanaged(lv, declared=True))
        else:
            members.append(d.kept(group, spec, lv, mode_before))
    declared = {s.name for s in group.spec.services}
    for lv in live_members:
        if lv.name not in declared:
            members.append(d.removed(lv) if lv.managed else d.unmanaged(lv, declared=False))
    status = GroupStatus.CREATE if not exists else (
        GroupStatus.UPDATE if d.changes else GroupStatus.UNCHANGED)
    return GroupDelta(group.region, group.name, status, group, mode_before, mode_after, tuple(members),
                      tuple(d.changes), tuple(d.warnings), commit)


def _orphan_group(region: str, name: str, live: LiveState, prune: bool) -> GroupDelta:
    d = _GroupDiffer(region, name, live, adopt=False)
    live_group = live.group(region, name)
    mode = live_group.traffic_mode if live_group else TrafficMode.AUTO
    members = [d.removed(s) if (s.managed and prune) else
               (MemberDelta(name=s.name, kind=MemberKind.KEEP, live=s) if s.managed else d.unmanaged(s, False))
               for s in live.members(region, name)]
    if not prune:
        d.warn(WarningCode.ORPHANED_GROUP, None,
               f"group {name} is managed by eas-gitops but no file declares it: kept; plan with --prune to delete it")
        return GroupDelta(region, name, GroupStatus.ORPHANED, None, mode, mode, tuple(members), (), tuple(d.warnings))
    left = [m.name for m in members if m.kind is MemberKind.UNMANAGED]
    if left:
        d.warn(WarningCode.PRUNE_LEAVES_UNMANAGED, None,
               f"prune deletes only managed members; {', '.join(left)} stay, so group {name} stays")
    else:
        d.change(None, "group", ChangeOp.REMOVE, mode.value, None)
    return GroupDelta(region, name, GroupStatus.DELETE, None, mode, None if not left else mode, tuple(members),
                      tuple(d.changes), tuple(d.warnings))


def analyze(desired: Sequence[ServiceGroup], live: LiveState, *, prune: bool = False,
            groups: set[str] | None = None, adopt: bool = False,
            limits: RecordLimits = DEFAULT_LIMITS, commits: Mapping[tuple[str, str], str] | None = None,
            ) -> list[GroupDelta]:
    """Every group in scope, sorted by (region, name), with its members and changes. `limits`: how the
    record is cut into labels (`reconciler.plan.record`); `commits`: commit label per (region, name)."""
    deltas: dict[tuple[str, str], GroupDelta] = {}
    for group in desired:
        if _wanted(group.region, group.name, groups):
            if (group.region, group.name) in deltas:
                raise PlanError(f"group {group.region}/{group.name} is declared twice")
            deltas[(group.region, group.name)] = _desired_group(group, live, adopt, limits,
                                                                (commits or {}).get((group.region, group.name)))
    for region, name in live.group_keys():
        if (region, name) in deltas or not _wanted(region, name, groups):
            continue
        if any(s.managed for s in live.members(region, name)):
            deltas[(region, name)] = _orphan_group(region, name, live, prune)
    return [deltas[k] for k in sorted(deltas)]


def change_key(c: Change) -> tuple[str, str, str, str]:
    return (c.region, c.group, c.service or "", c.field)


def diff(desired: Sequence[ServiceGroup], live: LiveState, *, prune: bool = False,
         groups: set[str] | None = None, adopt: bool = False) -> list[Change]:
    """Every change, sorted by (region, group, service, field); group-level changes first."""
    changes = [c for g in analyze(desired, live, prune=prune, groups=groups, adopt=adopt) for c in g.changes]
    return sorted(changes, key=change_key)
