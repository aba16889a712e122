"""Drift: what live state has that the files do not say, field by field, with its cause.

Built on the plan's own diff (`reconciler.plan.diff.analyze`), so "drift" and "what apply would
change" never disagree on what differs; this module only says *why* each difference exists:

- `by_hand`: a managed member's field someone changed outside eas-gitops (console, eascmd, SDK).
- `platform`: an autoscaled member's replica count inside its range (the autoscaler's business):
  shown for information, never drift. Keys EAS adds to the live config are never compared.
- `unmanaged`: a member of a managed group without the ownership label (added by hand).
- `missing`: a declared member of a live group that has no such service.
- `pending`: the file is ahead of live (edited and not applied yet, or an apply that stopped).

How a difference is told apart from a file edit (`known` says the cause is certain):
- EAS config: the `eas-gitops/spec-hash` label is the hash of the config eas-gitops last wrote.
  When the file's config still hashes to it, the file did not change, so live did: `by_hand`,
  known. Otherwise the live config is read at the keys the declared-keys record names and hashed:
  equal to the label means live is untouched and the file is ahead (`pending`); different means
  both moved: `by_hand`, not known (the plan lets the file win, as before). A key the file removed
  is `pending`.
- Labels: a key the record names was written by eas-gitops, so a different live value is `by_hand`;
  a key it does not name is the file's newer wish (`pending`). Replicas, weight, traffic state and
  the group's mode: EAS keeps no record of the value last written, so a difference is `by_hand`
  (drift is meant to run on the branch that was applied) but not known.
Reserved labels (`eas-gitops/...`) are bookkeeping and never drift.

Each by-hand field carries its group's policy action (`reconciler.desired.drift_policy`) and whether a
list names it; ignored fields are kept (`shown` False) because `plan` must leave them alone too.
`kept_live` (plan leaves the live value) holds for a by-hand field whose action is report or
ignore when its cause is known or a policy list names it: a file edit of a field without a record
must still be applied by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from reconciler.desired.drift_policy import DriftAction, DriftPolicy
from reconciler.desired.eas_config import TYPED_PATHS, Path, declared_paths, value_at
from reconciler.desired.model import RESERVED_LABEL_PREFIX, ServiceGroup
from reconciler.live.model import LiveService, LiveState
from reconciler.plan import record
from reconciler.plan.diff import GroupDelta, MemberDelta, MemberKind, analyze, spec_hash
from reconciler.plan.model import Change, ChangeOp

ALWAYS_WRITTEN: tuple[Path, ...] = (("name",), ("metadata", "group"))


class DriftClass(StrEnum):
    BY_HAND = "by_hand"
    PLATFORM = "platform"
    UNMANAGED = "unmanaged"
    MISSING = "missing"
    PENDING = "pending"


COUNTED = frozenset({DriftClass.BY_HAND, DriftClass.UNMANAGED, DriftClass.MISSING})
# plan field names -> the names people write in the file and in a drift policy
_FILE_NAMES = {"traffic_state": "traffic"}


@dataclass(frozen=True)
class DriftItem:
    """One field (or member) where live differs from the file, and why."""

    region: str
    group: str
    service: str | None
    field: str  # the plan's name: replicas, traffic, weight, traffic_mode, labels.<k>, config.<path>, service
    cls: DriftClass
    live: Any
    file: Any
    action: DriftAction = DriftAction.REPORT
    path: Path | None = None  # a config field's EAS key path (keys may contain dots)
    known: bool = False  # the cause is certain (see the module docstring)
    named: bool = False  # a policy list names the field (not the default)

    @property
    def names(self) -> tuple[str, ...]:
        """Every name a policy may use for this field (plan name, typed file field)."""
        typed = _typed_name(self.path) if self.path else None
        return (self.field, typed) if typed else (self.field,)

    @property
    def shown(self) -> bool:
        return self.action is not DriftAction.IGNORE

    @property
    def counted(self) -> bool:
        """Drift proper: `drift` exits 2 for it."""
        return self.cls in COUNTED and self.shown

    @property
    def file_may_be_ahead(self) -> bool:
        """A by-hand config field whose cause is not known: the file may hold an edit not applied yet.

        `drift --write` reports it but does not write it (writing live there could undo that edit;
        after a write-back the spec-hash label stays stale until the next apply)."""
        return self.cls is DriftClass.BY_HAND and self.field.startswith("config.") and not self.known

    @property
    def kept_live(self) -> bool:
        """A by-hand field the next plan and apply leave alone (see the module docstring)."""
        return (self.cls is DriftClass.BY_HAND and self.action is not DriftAction.REVERT
                and (self.known or self.named))


def _typed_name(path: Path) -> str | None:
    """`resources.cpu` for ("metadata", "cpu"): the typed file field an EAS path is written from."""
    for n in range(len(path), 0, -1):
        typed = TYPED_PATHS.get(path[:n])
        if typed is not None:
            return typed.split(" ")[0].replace("services[].", "")
    return None


def rebuilt_hash(live: LiveService, member: MemberDelta) -> str | None:
    """The spec hash of the live config read at the keys eas-gitops last wrote (None without a record).

    A secret's live value is resolved, the hash was made of its reference: the file's reference
    stands in for it. `metadata.workspace_id` is tried both with and without (EAS may add it).
    """
    recorded = record.decode(live.labels)
    if recorded.declared is None or member.config is None:
        return None
    secret = recorded.declared.secret
    config: dict[str, Any] = {}
    for path in sorted({*recorded.declared.config, *ALWAYS_WRITTEN}):
        found, value = value_at(member.config if path in secret else live.config, path)
        if found:
            _put(config, path, value)
    digest = spec_hash(config)
    found, workspace = value_at(live.config, ("metadata", "workspace_id"))
    if digest != live.spec_hash and found:
        _put(config, ("metadata", "workspace_id"), workspace)
        digest = spec_hash(config)
    return digest


def _put(config: dict[str, Any], path: Path, value: Any) -> None:
    node = config
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = value


def config_cause(member: MemberDelta) -> tuple[DriftClass, bool]:
    """(class, known) of a member's config differences (see the module docstring)."""
    live = member.live
    if live is None or live.spec_hash is None:
        return DriftClass.BY_HAND, False  # nothing says what was written: someone else's config
    if member.spec_hash == live.spec_hash:
        return DriftClass.BY_HAND, True  # the file is what was last applied: the difference came from live
    if rebuilt_hash(live, member) == live.spec_hash:
        return DriftClass.PENDING, True
    return DriftClass.BY_HAND, False


class _Classifier:
    def __init__(self, delta: GroupDelta, policy: DriftPolicy) -> None:
        self.delta, self.policy = delta, policy
        self.items: list[DriftItem] = []

    def add(self, service: str | None, field: str, cls: DriftClass, live: Any, file: Any,
            path: Path | None = None, known: bool = False) -> None:
        item = DriftItem(self.delta.region, self.delta.name, service, field, cls, live, file, path=path, known=known)
        if cls is DriftClass.BY_HAND:  # an ignored field is kept: plan overlays it, drift does not show it
            action, named = self.policy.choice(item.names)
            item = DriftItem(**{**item.__dict__, "action": action, "named": named})
        self.items.append(item)

    def group(self) -> None:
        for c in self.delta.changes:
            if c.service is None and c.field == "traffic_mode":
                self.add(None, "traffic_mode", DriftClass.BY_HAND, c.before, c.after)
        for m in self.delta.members:
            self.member(m)

    def member(self, m: MemberDelta) -> None:
        if m.kind is MemberKind.CREATE:
            self.add(m.name, "service", DriftClass.MISSING, None, "declared")
        elif m.kind is MemberKind.UNMANAGED:
            self.add(m.name, "service", DriftClass.UNMANAGED, "unmanaged member", None)
        elif m.kind is MemberKind.DELETE:
            self.add(m.name, "service", DriftClass.PENDING, "managed member", None)
        elif m.live is not None:
            self.platform(m, m.live)
            touched = any(c.field.startswith("config.") for c in m.changes)
            cause = config_cause(m) if touched else (DriftClass.PENDING, True)
            paths = {".".join(p): p for p in [*declared_paths(m.config or {}), *m.removed_config]}
            for c in m.changes:
                self.change(m, c, cause, paths)

    def platform(self, m: MemberDelta, live: LiveService) -> None:
        scaling = m.spec.autoscaling if m.spec is not None else None
        if scaling is not None and live.replicas != scaling.min and scaling.min <= live.replicas <= scaling.max:
            self.add(m.name, "replicas", DriftClass.PLATFORM, live.replicas, f"{scaling.min}-{scaling.max}")

    def change(self, m: MemberDelta, c: Change, cause: tuple[DriftClass, bool], paths: dict[str, Path]) -> None:
        live = m.live
        assert live is not None
        field = _FILE_NAMES.get(c.field, c.field)
        if field.startswith("labels."):
            key = field.removeprefix("labels.")
            if key.startswith(RESERVED_LABEL_PREFIX):
                return  # bookkeeping, never drift
            recorded = record.decode(live.labels).declared
            ours = recorded is not None and key in recorded.labels
            cls = DriftClass.BY_HAND if ours and c.op is not ChangeOp.REMOVE else DriftClass.PENDING
            self.add(m.name, field, cls, c.before, c.after)
        elif field.startswith("config."):
            cls, known = cause if c.op is not ChangeOp.REMOVE else (DriftClass.PENDING, True)
            self.add(m.name, field, cls, c.before, c.after, path=paths.get(field.removeprefix("config.")), known=known)
        elif field in ("replicas", "traffic", "weight"):
            self.add(m.name, field, DriftClass.BY_HAND, c.before, c.after)


def classify(delta: GroupDelta) -> list[DriftItem]:
    """The drift items of one declared group (an orphaned group, without a file, has none)."""
    if delta.desired is None:
        return []
    classifier = _Classifier(delta, delta.desired.spec.drift)
    classifier.group()
    return classifier.items


def find_drift(desired: Sequence[ServiceGroup], live: LiveState, *, groups: set[str] | None = None
               ) -> list[DriftItem]:
    """Every drift item of the declared groups, in the plan's order (region, group, service, field)."""
    return [item for delta in analyze(desired, live, groups=groups) for item in classify(delta)]


def summary(items: Sequence[DriftItem]) -> dict[str, int]:
    """Count per class, every class present (zeros included), for the JSON output and the CI outputs."""
    counts = {c.value: 0 for c in DriftClass}
    for item in items:
        if item.shown:
            counts[item.cls.value] += 1
    return counts
