"""The Plan: a frozen value the renderers and the executor only read.

Shape (JSON is the canonical form; `schemas/plan.schema.json` is generated from these models):

    Plan(format_version, live_fingerprint, options, summary, warnings, groups, commit?)
      GroupPlan(region, name, status, mode_before -> mode_after, warnings, changes,
                steps, timeline, members_now, members_final, commit?)
        Change(service, field, op + ~ -, before, after)          what differs, for people
        Step(index, action, service, params, reason, expect)      what to do, for the executor
        TimelineEntry(step, shares, black_hole)                   every member's share after each step
        RolloutPlan(canary, baseline, steps, abort_steps, ...)    a release carried by the canary, or None

Invariants:
- `Step.action` is a closed enum and `Step.params.action` repeats it (a tagged union, so every
  action has its own typed parameters). `reason` is display text, never used for decisions.
- `Step.expect` is what a read-back must show before the next step runs.
- Steps are numbered 1..n inside their group; timeline entry 0 is "now" (the live state).
- Shares are percentages rounded to 0.1 for display; the planner decides on exact fractions.
- `commit` (plan and group) is left out when None (outside git): such plans read as before it existed.
- No secret value is ever stored: a config value holding `${env:NAME}` keeps that reference (the
  executor resolves it when applying), and `Change.before/after` show `(sensitive)` instead.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from reconciler.analysis.gates import AnalysisSpec
from reconciler.desired.limits import MAX_REPLICAS, config_faults
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.desired.rollout import OnFailure
from reconciler.errors import PlanError
from reconciler.live.model import ServiceStatus

FORMAT_VERSION: Literal[1] = 1
SENSITIVE = "(sensitive)"


class Action(StrEnum):
    CREATE_SERVICE = "create_service"  # created standalone: takes no group traffic until it joins
    UPDATE_CONFIG = "update_config"  # new version; EAS rolls the instances
    SCALE = "scale"  # change the replica count only (no new version)
    WAIT_RUNNING = "wait_running"  # Running with all desired replicas, new version if one was made
    SMOKE_TEST = "smoke_test"  # request on the member's direct endpoint
    SET_WEIGHT = "set_weight"  # ReleaseService Weight
    SET_TRAFFIC_STATE = "set_traffic_state"  # ReleaseService TrafficState
    SET_MODE = "set_mode"  # UpdateGroup TrafficMode (group-level: no service)
    DRAIN = "drain"  # standalone + verified read-back before a delete or a scale to zero
    DELETE_SERVICE = "delete_service"  # only after a verified drain
    UPDATE_LABELS = "update_labels"  # ownership / spec-hash / declared-keys record / declared labels
    DELETE_LABELS = "delete_labels"  # DeleteServiceLabel: labels removed from the file, stale record pieces
    BAKE = "bake"  # a rollout step: the canary holds its share while the analysis judges it (runner decides)
    UPDATE_VERSION = "update_version"  # UpdateServiceVersion: back to an earlier version (a rollout's abort path)


class ChangeOp(StrEnum):
    ADD = "+"
    MODIFY = "~"
    REMOVE = "-"


class GroupStatus(StrEnum):
    CREATE = "create"  # no live group yet
    UPDATE = "update"
    DELETE = "delete"  # removed with --prune
    ORPHANED = "orphaned"  # managed live group without a file; kept (no --prune)
    UNCHANGED = "unchanged"


class WarningCode(StrEnum):
    SOLE_MEMBER_UPDATE = "sole_member_update"  # the only grouping member gets a new version
    UNMANAGED_MEMBER = "unmanaged_member"  # counted in shares, never touched
    UNMANAGED_NAME = "unmanaged_name"  # a declared service exists but is not ours: left alone
    ORPHANED_GROUP = "orphaned_group"  # managed group without a file, kept without --prune
    PRUNE_LEAVES_UNMANAGED = "prune_leaves_unmanaged"
    NOT_READY = "not_ready"  # a member that is not ready takes traffic (forced)
    FORCED = "forced"  # a safety rule was overruled with force
    SHARE_SPLIT = "share_split"  # a large jump was split into steps
    IN_PLACE_UPDATE = "in_place_update"  # a serving member gets its new version under traffic (too big to drain)
    UNKNOWN_GROUP = "unknown_group"  # a group asked for by name is neither declared nor live
    REMOVALS_NOT_TRACKED = "removals_not_tracked"  # declared-keys record too long or unreadable: nothing removed
    DRIFT = "drift"  # a field changed outside eas-gitops that apply leaves alone (drift policy report)


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Change(_Frozen):
    """One field that differs between live and desired, for people (`+` add, `~` modify, `-` remove)."""

    region: str
    group: str
    service: str | None = Field(description="None for a group-level change.")
    field: str = Field(description="service | group | traffic_mode | replicas | traffic_state | weight | "
                                   "config.<path> | labels.<key>")
    op: ChangeOp
    before: Any = None
    after: Any = None


class PlanWarning(_Frozen):
    code: WarningCode
    region: str
    group: str
    service: str | None = None
    message: str


# ---- step parameters: one typed model per action --------------------------------------------------------------


def _bounded_config(config: dict[str, Any]) -> dict[str, Any]:
    """A saved plan may have been edited: its configs obey the desired state's number limits (desired/limits.py)."""
    faults = config_faults(config)
    if faults:
        raise ValueError("config " + "; ".join(faults[:3]))
    return config


EasConfig = Annotated[dict[str, Any], AfterValidator(_bounded_config)]
Replicas = Annotated[int, Field(ge=0, le=MAX_REPLICAS)]


class CreateParams(_Frozen):
    action: Literal[Action.CREATE_SERVICE] = Action.CREATE_SERVICE
    config: EasConfig = Field(description="EAS service config; secrets as ${env:NAME} references.")
    labels: dict[str, str] = Field(description="Labels sent with CreateService (ownership + spec hash).")
    replicas: Replicas
    traffic_state: Literal[TrafficState.STANDALONE] = TrafficState.STANDALONE
    sensitive_paths: tuple[str, ...] = ()


class UpdateConfigParams(_Frozen):
    action: Literal[Action.UPDATE_CONFIG] = Action.UPDATE_CONFIG
    config: EasConfig = Field(
        description="Desired config without metadata.instance (merge update); secrets as references.")
    changed_paths: tuple[str, ...]
    sensitive_paths: tuple[str, ...] = ()
    removed_paths: tuple[tuple[str, ...], ...] = Field(
        default=(), description="Config key paths (lists of keys) to remove. When set, the executor reads the live "
                                "config, merges `config` over it, takes these paths out and sends the result with "
                                "UpdateType=replace (merge cannot remove a key). Omitted when empty.")

    @model_serializer(mode="wrap")
    def _omit_no_removals(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without removals the step reads exactly as before the field existed (plans stay byte-stable)."""
        data: dict[str, Any] = handler(self)
        if not self.removed_paths:
            data.pop("removed_paths", None)
        return data


class ScaleParams(_Frozen):
    action: Literal[Action.SCALE] = Action.SCALE
    replicas: Replicas
    before: int


class WaitParams(_Frozen):
    action: Literal[Action.WAIT_RUNNING] = Action.WAIT_RUNNING
    replicas: Replicas


class SmokeTestParams(_Frozen):
    action: Literal[Action.SMOKE_TEST] = Action.SMOKE_TEST
    path: str
    body: str | None = None
    expect_status: int = 200


class WeightParams(_Frozen):
    action: Literal[Action.SET_WEIGHT] = Action.SET_WEIGHT
    weight: int
    before: int | None = Field(default=None, description="Stored weight before (None: unknown in auto mode).")


class TrafficStateParams(_Frozen):
    action: Literal[Action.SET_TRAFFIC_STATE] = Action.SET_TRAFFIC_STATE
    traffic_state: TrafficState
    before: TrafficState


class ModeParams(_Frozen):
    action: Literal[Action.SET_MODE] = Action.SET_MODE
    mode: TrafficMode
    before: TrafficMode


class DrainParams(_Frozen):
    action: Literal[Action.DRAIN] = Action.DRAIN
    traffic_state: Literal[TrafficState.STANDALONE] = TrafficState.STANDALONE


class DeleteParams(_Frozen):
    action: Literal[Action.DELETE_SERVICE] = Action.DELETE_SERVICE


class LabelsParams(_Frozen):
    action: Literal[Action.UPDATE_LABELS] = Action.UPDATE_LABELS
    labels: dict[str, str] = Field(description="Labels to add or overwrite.")


class DeleteLabelsParams(_Frozen):
    action: Literal[Action.DELETE_LABELS] = Action.DELETE_LABELS
    keys: tuple[str, ...] = Field(min_length=1, description="Label keys to delete (DeleteServiceLabel).")


class BakeParams(_Frozen):
    """Rollout step `step` of `of`: the canary holds `share` % for `bake_seconds`, judged against `baseline`."""

    action: Literal[Action.BAKE] = Action.BAKE
    step: int = Field(ge=1, description="The rollout step, 1-based.")
    of: int = Field(ge=1, description="How many rollout steps the release has.")
    share: float = Field(description="The canary's share of group traffic during the bake, in percent.")
    bake_seconds: float = Field(ge=0, description="How long the step bakes (the full bake, even when resumed).")
    canary: str
    baseline: list[str] = Field(description="The members the canary is compared with (still on the old version).")
    analysis: AnalysisSpec


class VersionParams(_Frozen):
    action: Literal[Action.UPDATE_VERSION] = Action.UPDATE_VERSION
    version: int = Field(ge=1, description="The service version to return to (UpdateServiceVersion).")


StepParams = Annotated[
    CreateParams | UpdateConfigParams | ScaleParams | WaitParams | SmokeTestParams | WeightParams
    | TrafficStateParams | ModeParams | DrainParams | DeleteParams | LabelsParams | DeleteLabelsParams
    | BakeParams | VersionParams,
    Field(discriminator="action"),
]


class Expect(_Frozen):
    """What the read-back after a step must show; None fields are not checked."""

    exists: bool = True
    status: ServiceStatus | None = None
    running: int | None = Field(default=None, description="RunningInstance equal to this.")
    min_version: int | None = Field(default=None, description="CurrentVersion at least this (a new version).")
    traffic_state: TrafficState | None = None
    weight: int | None = Field(default=None, description="Stored weight (checked in customized mode only).")
    mode: TrafficMode | None = None
    labels: dict[str, str] | None = None
    http_status: int | None = Field(default=None, description="Smoke test response status.")


class Step(_Frozen):
    index: int = Field(ge=1)
    action: Action
    service: str | None = Field(description="None for group-level steps (set_mode).")
    params: StepParams
    reason: str = Field(default="", description="Display only; never used for decisions.")
    expect: Expect = Expect()

    @model_validator(mode="after")
    def _tagged(self) -> Step:
        if self.params.action is not self.action:
            raise ValueError(f"step {self.index}: params are for {self.params.action}, action is {self.action}")
        if (self.service is None) != (self.action is Action.SET_MODE):
            raise ValueError(f"step {self.index}: {self.action} needs {'no' if self.service else 'a'} service")
        return self


class TimelineEntry(_Frozen):
    step: int = Field(ge=0, description="0 = now (live), else the step index after which the shares hold.")
    shares: dict[str, float] = Field(description="Member -> share in percent, every member listed.")
    black_hole: bool = False


class MemberView(_Frozen):
    """One member as a table row: now (live) or final (after the plan)."""

    name: str
    managed: bool
    exists: bool = True
    traffic_state: TrafficState | None = None
    replicas: int = 0
    weight: int | None = Field(default=None, description="Stored weight (customized mode) or None.")
    share: float = 0.0
    status: ServiceStatus | None = None


class RolloutStepPlan(_Frozen):
    share: float = Field(description="The canary's share of group traffic in percent.")
    bake_seconds: float = Field(ge=0)


class RolloutPlan(_Frozen):
    """A release carried by the canary: the ramp, the promotion and the abort path, planned together.

    The ramp's steps are ordinary steps of the group (`bake` steps among them); `abort_steps` are
    not in `steps`: the runner runs them only when a bake, the canary or its smoke test fails.
    """

    canary: str
    baseline: list[str] = Field(description="Grouping members still on the old version during the ramp.")
    release: str = Field(description="The canary's desired spec hash: identifies the release in the progress label.")
    steps: list[RolloutStepPlan] = Field(description="Every rollout step of the release (also those already done).")
    analysis: AnalysisSpec
    on_failure: OnFailure
    previous_version: int | None = Field(description="The canary's version before the release (None: unknown).")
    abort_steps: list[Step] = Field(description="Run on an abort: the canary standalone (read back), its previous "
                                                "version for on_failure rollback, the progress label at step 0.")
    min_duration_seconds: float = Field(ge=0, description="The sum of the bakes still to run: the least time "
                                                          "the release takes (the part of a resumed bake "
                                                          "already served is subtracted at apply time).")
    resumed_from: int | None = Field(default=None, description="The step an unfinished release resumes at.")
    promotes: list[str] = Field(default_factory=list,
                                description="Primaries that get the new version after the last bake.")


class GroupPlan(_Frozen):
    region: str
    name: str
    status: GroupStatus
    mode_before: TrafficMode | None = Field(description="None when the group does not exist yet.")
    mode_after: TrafficMode | None = Field(description="None when the group is deleted.")
    warnings: tuple[PlanWarning, ...] = ()
    changes: tuple[Change, ...] = ()
    steps: tuple[Step, ...] = ()
    timeline: tuple[TimelineEntry, ...] = ()
    members_now: tuple[MemberView, ...] = ()
    members_final: tuple[MemberView, ...] = ()
    commit: str | None = Field(default=None, description=(
        "The eas-gitops/commit label value this plan writes on the group's services: the sha of the commit the "
        "group's file comes from, with the suffix -dirty when the file differs from it. Omitted outside git."))
    rollout: RolloutPlan | None = Field(default=None, description="The release the canary carries, if any "
                                                                  "(omitted when there is none).")

    @model_serializer(mode="wrap")
    def _omit_none(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """Without a commit or a rollout the group reads exactly as before those fields existed (byte-stable)."""
        return _without_none(_without_none(handler(self), "commit"), "rollout")

    @property
    def has_changes(self) -> bool:
        return bool(self.steps)


class PlanOptions(_Frozen):
    prune: bool = False
    max_shift: int = 50
    force: bool = False
    groups: tuple[str, ...] | None = None


class Summary(_Frozen):
    groups: int = 0
    groups_changed: int = 0
    groups_to_delete: int = 0
    services_to_create: int = 0
    services_to_update: int = 0
    services_to_delete: int = 0
    steps: int = 0
    warnings: int = 0


class PlanCommit(_Frozen):
    """The commit a plan was made from (a saved plan applied later still records this one)."""

    sha: str = Field(description="HEAD of the repository holding the group files when the plan was made.")
    dirty: bool = Field(description="Some group file differed from that commit (changed, untracked or ignored).")


class Plan(_Frozen):
    format_version: Literal[1] = FORMAT_VERSION
    live_fingerprint: str
    options: PlanOptions = PlanOptions()
    summary: Summary = Summary()
    warnings: tuple[PlanWarning, ...] = ()
    groups: tuple[GroupPlan, ...] = ()
    commit: PlanCommit | None = Field(default=None, description=(
        "The commit the files came from; omitted outside git or when the files span several repositories."))

    @model_serializer(mode="wrap")
    def _omit_no_commit(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return _without_none(handler(self), "commit")

    @property
    def has_changes(self) -> bool:
        return any(g.has_changes for g in self.groups)

    def group_keys(self) -> list[tuple[str, str]]:
        """(region, name) of every group the plan covers: the scope of its live fingerprint."""
        return [(g.region, g.name) for g in self.groups]


def _without_none(data: dict[str, Any], key: str) -> dict[str, Any]:
    """Leave out a field that is None, so plans made outside git read exactly as before it existed."""
    if data.get(key, 0) is None:
        data.pop(key)
    return data


def plan_json_schema() -> dict[str, Any]:
    """The JSON Schema of a plan file (written to schemas/plan.schema.json)."""
    schema = Plan.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://eas-gitops.dev/schemas/plan.schema.json"
    return schema


def load_plan(text: str) -> Plan:
    """Parse a saved plan; refuses another format version or a malformed file with PlanError."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PlanError(f"the plan file is not JSON: {exc}") from exc
    version = raw.get("format_version") if isinstance(raw, dict) else None
    if version != FORMAT_VERSION:
        raise PlanError(f"plan format_version {version!r} is not supported (this tool reads {FORMAT_VERSION})")
    try:
        return Plan.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        raise PlanError(f"the plan file is malformed: {message} at {first['loc']}") from exc
