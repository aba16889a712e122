"""The desired-state model: one `ServiceGroup` document per file.

Typed fields for what the tool reasons about (traffic, replicas, weights, billing, GPU type,
code); `config` passes any other EAS service-config keys through untouched. Every model is
frozen and forbids unknown keys, so a typo is an error, never a silent default.

Field-level rules (types, ranges, mutually exclusive keys inside one object) live here;
rules that span a group or several files (names against the configurable pattern, weights vs.
mode, black holes, duplicate names, reserved labels, typed-field-vs-config clashes) live in
`reconciler.desired.checks`, which reports them with file positions.

Choices where the docs are silent:
- Numbers and booleans are strict: `replicas: "4"` or `spot: yes` is an error, as it is for the
  JSON Schema, so the editor and `validate` agree.
- Cross-field errors are `PydanticCustomError`s whose context names the key to point at
  (`ctx["at"]`, relative to the object), so the loader can report that key's line.
- `instance_types` needs two or more types (one type is `instance_type`), so every resource
  placement has exactly one spelling and the EAS mapping round-trips.
- Spot needs a bid: `spot: true` requires `spot_price_limit` (EAS bids per instance type).
- `instances` is the full EAS list (per-entry `capacity`, per-entry spot bids, a `dedicated_resource`
  entry that mixes the dedicated group with public types); it stands alone: no `instance_type(s)`,
  `spot` or `spot_price_limit` beside it, and a `dedicated_resource` entry needs `resource_group`
  (and `resource_group` beside `instances` needs one).
- A container starts with `command` (one entry command, no shell) or `script` (a shell script),
  not both: EAS documents them as two ways of starting the same container.
- Every number has an upper bound (`reconciler.desired.limits`), and floats must be finite: a value
  EAS would refuse, or Python could not turn into an instance count, is stopped here.
- Label keys are 1-128 characters, values at most 1024, neither with a control character
  (`reconciler.desired.limits`): a label travels in a URL query, so an unbounded one fails mid-apply.
- A `${env:` that does not form `${env:NAME}` is an error wherever it is written
  (`reference_problems`, applied by the loader to every string): it would reach EAS as written.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictInt, StrictStr, model_validator
from pydantic_core import PydanticCustomError

from reconciler.desired.drift_policy import DriftPolicy
from reconciler.desired.limits import (
    MAX_CPU,
    MAX_GPU,
    MAX_GPU_MEMORY_GB,
    MAX_LABEL_KEY,
    MAX_LABEL_VALUE,
    MAX_MEMORY_MB,
    MAX_REPLICAS,
    MAX_SPOT_PRICE,
    MAX_THRESHOLD,
)
from reconciler.desired.rollout import RolloutSpec
from reconciler.traffic import TrafficMode as TrafficMode  # re-exported: the files use the EAS words
from reconciler.traffic import TrafficState as TrafficState

API_VERSION = "eas-gitops/v1"
KIND = "ServiceGroup"
MAX_WEIGHT = 1000
RESERVED_LABEL_PREFIX = "eas-gitops/"
REGION_PATTERN = r"^[a-z]{2,}(-[a-z0-9]+)+$"

# Label keys 1-MAX_LABEL_KEY characters, values at most MAX_LABEL_VALUE, neither with a control character
# (EAS documents no label limits: desired/limits.py says why these). Checked by the types; the schema says so too.
_NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _label_text(what: str, limit: int) -> AfterValidator:
    def check(text: str) -> str:
        if what == "key" and not text:
            raise PydanticCustomError("label_text", "a label key is empty", {"hint": "name the label"})
        if len(text) > limit:
            raise PydanticCustomError("label_text", f"a label {what} has {len(text)} characters: at most {limit}",
                                      {"hint": f"EAS documents no limit; eas-gitops allows {limit}, "
                                               "as labels travel in a URL query"})
        if _CONTROL.search(text):
            raise PydanticCustomError("label_text", f"a label {what} holds a control character",
                                      {"hint": "a label is one line of plain text: no newline, tab or escape"})
        return text
    return AfterValidator(check)


LabelKey = Annotated[str, _label_text("key", MAX_LABEL_KEY)]
LabelValue = Annotated[str, _label_text("value", MAX_LABEL_VALUE)]
_LABELS_SCHEMA: dict[str, Any] = {
    "propertyNames": {"minLength": 1, "maxLength": MAX_LABEL_KEY, "pattern": _NO_CONTROL,
                      "not": {"pattern": f"^{RESERVED_LABEL_PREFIX}"}},
    "additionalProperties": {"type": "string", "maxLength": MAX_LABEL_VALUE, "pattern": _NO_CONTROL}}


def _conflict(message: str, at: str, hint: str) -> PydanticCustomError:
    """A cross-field error located at key `at` of the object being validated, with a hint for the fix."""
    return PydanticCustomError("conflict", message, {"at": at, "hint": hint})


def _present(*fields: str) -> dict[str, Any]:
    """JSON Schema: every field is present and not null."""
    return {"required": list(fields), "properties": {f: {"not": {"type": "null"}} for f in fields}}


class Billing(StrEnum):
    SUBSCRIPTION = "subscription"  # dedicated resource group (eas-r-...)
    PAY_AS_YOU_GO = "pay-as-you-go"  # public resources


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)


class Autoscaling(_Strict):
    """An autoscaling range instead of a fixed replica count (EAS `autoscaler: {min, max, strategies}`)."""

    min: int = Field(ge=0, le=MAX_REPLICAS, strict=True,
                     description="Fewest replicas the autoscaler keeps (planned replicas).")
    max: int = Field(ge=1, le=MAX_REPLICAS, strict=True, description="Most replicas the autoscaler may start.")
    metric: str = Field(default="qps", min_length=1, description="Scaling metric, e.g. qps, cpu, gpu[util].")
    threshold: float = Field(gt=0, le=MAX_THRESHOLD, strict=True, allow_inf_nan=False,
                             description="Target value of the metric per replica.")

    @model_validator(mode="after")
    def _range(self) -> Autoscaling:
        if self.min > self.max:
            raise _conflict(f"autoscaling min ({self.min}) is greater than max ({self.max})", "min",
                            "min is the fewest replicas, max the most: min <= max")
        return self


DEDICATED_ENTRY = "dedicated_resource"
CAPACITY_PERCENT = r"^(100|[1-9][0-9]?)%$"


class InstanceEntry(_Strict):
    """One entry of EAS `cloud.computing.instances`, in order of preference."""

    type: str = Field(min_length=1, description="An ECS instance type, or dedicated_resource (the resource_group).")
    capacity: StrictInt | StrictStr | None = Field(
        default=None, description='Most replicas this entry takes: a count (>= 1) or a share such as "20%".',
        json_schema_extra={"anyOf": [{"type": "integer", "minimum": 1},
                                     {"type": "string", "pattern": CAPACITY_PERCENT}, {"type": "null"}]},
    )
    spot_price_limit: float | None = Field(
        default=None, gt=0, strict=True, description="Spot bid for this type: highest hourly price per instance.")

    @model_validator(mode="after")
    def _entry(self) -> InstanceEntry:
        cap = self.capacity
        if isinstance(cap, bool) or (isinstance(cap, int) and cap < 1) or (
                isinstance(cap, str) and re.fullmatch(CAPACITY_PERCENT, cap) is None):
            raise _conflict(f"capacity {cap!r} is neither a count >= 1 nor a percentage 1%-100%", "capacity",
                            'a number of replicas, e.g. 4, or a share of them, e.g. "20%"')
        if self.type == DEDICATED_ENTRY and self.spot_price_limit is not None:
            raise _conflict("the dedicated_resource entry cannot bid for spot", "spot_price_limit",
                            "spot applies to public instance types only")
        return self


class Resources(_Strict):
    """Per-replica size and where it runs: a dedicated resource group or public instance types."""

    model_config = ConfigDict(
        json_schema_extra={
            "not": {"anyOf": [
                _present("resource_group", "instance_type"),
                _present("resource_group", "instance_types"),
                _present("instance_type", "instance_types"),
                _present("instances", "instance_type"),
                _present("instances", "instance_types"),
                _present("instances", "spot_price_limit"),
            ]},
            "anyOf": [_present("instance_type"), _present("instance_types"), _present("instances"),
                      _present("cpu", "memory")],
            "allOf": [
                {
                    "if": {"properties": {"spot": {"const": True}}, "required": ["spot"]},
                    "then": {"allOf": [_present("spot_price_limit"),
                                       {"anyOf": [_present("instance_type"), _present("instance_types")]}]},
                    "else": {"not": _present("spot_price_limit")},
                },
                {
                    "if": {"properties": {"gpu": {"type": "integer", "minimum": 1}}, "required": ["gpu"]},
                    "then": {"anyOf": [_present("instance_type"), _present("instance_types"),
                                       _present("instances"), _present("resource_group")]},
                },
            ],
        }
    )

    cpu: float | None = Field(default=None, gt=0, le=MAX_CPU, strict=True, allow_inf_nan=False,
                              description="CPU cores per replica.")
    memory: int | None = Field(default=None, gt=0, le=MAX_MEMORY_MB, strict=True,
                               description="Memory per replica in MB.")
    gpu: int | None = Field(default=None, ge=0, le=MAX_GPU, strict=True, description="GPUs per replica.")
    gpu_memory: int | None = Field(
        default=None, ge=0, le=MAX_GPU_MEMORY_GB, strict=True, description="GPU memory per replica in GB (GPU sharing)."
    )
    resource_group: str | None = Field(
        default=None, pattern=r"^eas-r-[a-z0-9]+$",
        description="Dedicated resource group ID (subscription billing), e.g. eas-r-abc123.",
    )
    instance_type: str | None = Field(
        default=None, min_length=1, description="Public resources (pay-as-you-go): one ECS instance type."
    )
    instance_types: list[str] | None = Field(
        default=None, min_length=2,
        description="Public resources: two or more instance types in order of preference (one type: instance_type).",
    )
    spot: bool = Field(default=False, strict=True, description="Use preemptible (spot) instances on public resources.")
    spot_price_limit: float | None = Field(
        default=None, gt=0, le=MAX_SPOT_PRICE, strict=True, allow_inf_nan=False,
        description="Highest hourly price bid for a spot instance (needs spot).",
    )
    instances: list[InstanceEntry] | None = Field(
        default=None, min_length=1,
        description="The full EAS instances list: entries with capacity, per-type spot bids, dedicated_resource.",
    )

    @model_validator(mode="after")
    def _placement(self) -> Resources:
        if self.instances is not None:
            return self._instances_list(self.instances)
        public = bool(self.instance_type or self.instance_types)
        if self.resource_group and public:
            at = "instance_type" if self.instance_type else "instance_types"
            raise _conflict(
                f"resource_group (dedicated, subscription) cannot be combined with {at} "
                "(public, pay-as-you-go)", at,
                "keep resource_group for a dedicated group, or remove it to run on public instance types")
        if self.instance_type and self.instance_types:
            raise _conflict("set instance_type or instance_types, not both", "instance_types",
                            "one type: instance_type; several in order of preference: instance_types")
        if self.spot and not public:
            raise _conflict("spot applies to public instance types only", "spot",
                            "remove spot, or run on public resources with instance_type(s)")
        if self.spot != (self.spot_price_limit is not None):
            at = "spot" if self.spot else "spot_price_limit"
            raise _conflict("spot: true and spot_price_limit go together", at,
                            "EAS bids for spot capacity: set both, e.g. spot: true, spot_price_limit: 2.5")
        if not public and (self.cpu is None or self.memory is None):
            raise _conflict("without an instance type, both cpu and memory are required",
                            "memory" if self.cpu is not None else "cpu",
                            "size each replica with cpu (cores) and memory (MB), or name an instance_type")
        if self.gpu and not public and not self.resource_group:
            raise _conflict("GPUs on public resources come with an instance type", "gpu",
                            "set instance_type, e.g. ecs.gn7i-c8g1.2xlarge, or a dedicated resource_group")
        return self

    def _instances_list(self, entries: list[InstanceEntry]) -> Resources:
        for at in ("instance_type", "instance_types", "spot_price_limit"):
            if getattr(self, at) is not None:
                raise _conflict(f"instances cannot be combined with {at}", at,
                                "say every type (and its spot bid) as an entry of instances")
        if self.spot:
            raise _conflict("instances cannot be combined with spot", "spot",
                            "give each spot entry of instances its spot_price_limit")
        dedicated = any(e.type == DEDICATED_ENTRY for e in entries)
        if dedicated != bool(self.resource_group):
            raise _conflict("a dedicated_resource entry and resource_group go together",
                            "resource_group" if self.resource_group else "instances",
                            "mix dedicated and public capacity with resource_group plus an instances entry "
                            "{type: dedicated_resource}")
        return self

    @property
    def billing(self) -> Billing:
        return Billing.SUBSCRIPTION if self.resource_group else Billing.PAY_AS_YOU_GO

    @property
    def types(self) -> list[str]:
        """The public instance types, in order of preference (empty on a dedicated group)."""
        if self.instances:
            return [e.type for e in self.instances if e.type != DEDICATED_ENTRY]
        if self.instance_types:
            return list(self.instance_types)
        return [self.instance_type] if self.instance_type else []


class ModelCode(_Strict):
    """A model file served by a built-in processor."""

    path: str = Field(min_length=1, description="Model URL, e.g. oss://bucket/models/lr.pmml.")
    processor: str = Field(min_length=1, description="Built-in processor, e.g. pmml, tensorflow_cpu_1.12.")


class Container(_Strict):
    """An image deployment: the image, its port, and how it starts (`command` or `script`)."""

    model_config = ConfigDict(json_schema_extra={"not": _present("command", "script")})

    image: str = Field(min_length=1, description="Container image.")
    port: int | None = Field(default=None, ge=1, le=65535, strict=True, description="Port the server listens on.")
    command: str | None = Field(
        default=None, min_length=1, description="Entry command, run as is without a shell (EAS `command`).")
    script: str | None = Field(
        default=None, min_length=1, description="Shell script run at start, e.g. cd /app && ./run.sh (EAS `script`).")

    @model_validator(mode="after")
    def _one_start(self) -> Container:
        if self.command is not None and self.script is not None:
            raise _conflict("set command or script, not both", "script",
                            "command: one entry command run without a shell; script: a shell script")
        return self


class SmokeTest(_Strict):
    """A request sent to the member's direct endpoint before it may take group traffic."""

    path: str = Field(default="/", pattern=r"^/", description="Path appended to the direct endpoint, e.g. /.")
    body: str | None = Field(default=None, description="Request body (POST when set, GET otherwise).")
    expect_status: int = Field(default=200, ge=100, le=599, strict=True, description="Expected HTTP status.")

    @model_validator(mode="after")
    def _no_secret_reference(self) -> SmokeTest:
        # `${env:NAME}` is resolved only inside a service's config; here it would be sent as written.
        for at in ("path", "body"):
            if "${env:" in (getattr(self, at) or ""):
                raise _conflict(f"a smoke test's {at} is sent as written: ${{env:NAME}} is not resolved here", at,
                                "secret references work only in a service's config; give the smoke test a path "
                                "and body that need no secret")
        return self


class ServiceSpec(_Strict):
    """One member service of the group."""

    model_config = ConfigDict(
        json_schema_extra={"allOf": [
            {"oneOf": [_present("replicas"), _present("autoscaling")]},
            {"oneOf": [_present("model"), _present("containers")]},
        ]}
    )

    name: str = Field(min_length=1, description="EAS service name, unique per region.")
    role: str | None = Field(default=None, description="primary, canary, or free text shown in plans.")
    traffic: TrafficState = Field(default=TrafficState.GROUPING, description="grouping | standalone.")
    weight: int | None = Field(
        default=None, ge=0, le=MAX_WEIGHT, strict=True,
        description="Share weight (0-1000); required for grouping members under customized mode, an error under auto.",
    )
    replicas: int | None = Field(default=None, ge=0, le=MAX_REPLICAS, strict=True, description="Fixed replica count.")
    autoscaling: Autoscaling | None = Field(default=None, description="Autoscaling range instead of replicas.")
    resources: Resources = Field(description="Size per replica and placement (dedicated or public).")
    model: ModelCode | None = Field(default=None, description="Model + processor deployment.")
    containers: list[Container] | None = Field(default=None, min_length=1, description="Image deployment.")
    smoke_test: SmokeTest | None = Field(
        default=None, description="Request checked on the direct endpoint before the member takes group traffic."
    )
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="EAS service labels (keys eas-gitops/... are reserved).",
        json_schema_extra=_LABELS_SCHEMA,
    )
    config: dict[str, Any] = Field(
        default_factory=dict, description="Other EAS service-config keys, passed through as written."
    )

    @model_validator(mode="after")
    def _one_of(self) -> ServiceSpec:
        if (self.replicas is None) == (self.autoscaling is None):
            raise _conflict("set exactly one of replicas or autoscaling",
                            "autoscaling" if self.autoscaling is not None else "replicas",
                            "a fixed count (replicas: 2) or a range (autoscaling: {min, max, threshold})")
        if (self.model is None) == (self.containers is None):
            raise _conflict("set exactly one of model or containers",
                            "containers" if self.containers is not None else "model",
                            "model: {path, processor} for a built-in processor, or containers: [{image, port}]")
        return self

    @property
    def base_replicas(self) -> int:
        """Replicas the member is planned with: the fixed count or the autoscaling minimum."""
        if self.replicas is not None:
            return self.replicas
        assert self.autoscaling is not None
        return self.autoscaling.min


class GroupMetadata(_Strict):
    """Which group, where: the name (also the endpoint path), the region and the workspace."""

    name: str = Field(min_length=1, description="Service group name (the group endpoint is /api/predict/<name>).")
    region: str = Field(pattern=REGION_PATTERN, description="Region ID, e.g. cn-shanghai.")
    workspace_id: str | None = Field(default=None, min_length=1, description="PAI workspace ID.")
    labels: dict[LabelKey, LabelValue] = Field(
        default_factory=dict, description="Labels of the group (keys eas-gitops/... are reserved).",
        json_schema_extra=_LABELS_SCHEMA,
    )


_WEIGHT_RULES: dict[str, Any] = {
    "if": {"properties": {"traffic_mode": {"const": "customized"}}, "required": ["traffic_mode"]},
    "then": {"properties": {"services": {"items": {
        "if": {"properties": {"traffic": {"const": "standalone"}}, "required": ["traffic"]},
        "else": _present("weight"),
    }}}},
    "else": {"properties": {"services": {"items": {"not": _present("weight")}}}},
}


class GroupSpec(_Strict):
    """How the group splits traffic, and its members."""

    model_config = ConfigDict(json_schema_extra=_WEIGHT_RULES)

    traffic_mode: TrafficMode = Field(
        default=TrafficMode.AUTO, description="auto: shares follow running replicas; customized: weights."
    )
    services: list[ServiceSpec] = Field(min_length=1, description="The member services.")
    drift: DriftPolicy = Field(
        default_factory=DriftPolicy,
        description="What to do with live values changed outside eas-gitops: ignore, report (default) or revert.")
    rollout: RolloutSpec | None = Field(
        default=None, description="How a new version reaches traffic: through the canary, step by step on evidence."
    )


class ServiceGroup(_Strict):
    """One service group: the unit of a desired-state file."""

    api_version: Literal["eas-gitops/v1"] = Field(alias="apiVersion", description="Always eas-gitops/v1.")
    kind: Literal["ServiceGroup"] = Field(description="Always ServiceGroup.")
    metadata: GroupMetadata = Field(description="The group: name, region, optional workspace_id and labels.")
    spec: GroupSpec = Field(description="The traffic mode and the member services.")

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def region(self) -> str:
        return self.metadata.region

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.spec.services if s.name == name), None)


# `${env:NAME}` is a secret reference, resolved at apply time; NAME is an environment variable name.
ENV_REFERENCE = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_REFERENCE_START = "${env:"


def reference_problems(text: str) -> list[tuple[str, str]]:
    """(message, hint) for every `${env:` in `text` that is not a well-formed `${env:NAME}` reference."""
    problems = []
    start = text.find(_REFERENCE_START)
    while start >= 0:
        if not ENV_REFERENCE.match(text, start):
            end = text.find("}", start)
            written = text[start: end + 1] if end >= 0 else text[start: start + 40]
            problems.append((f"malformed secret reference {written!r}: expected ${{env:NAME}}",
                             "NAME is an environment variable: letters, digits and _, not starting with a digit, "
                             "e.g. ${env:MY_TOKEN}; it would be sent to EAS as written"))
        start = text.find(_REFERENCE_START, start + 1)
    return problems
