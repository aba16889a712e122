"""The desired-state model: one `ServiceGroup` document per file (DESIGN.md §4).

Typed fields for what the tool reasons about (traffic, replicas, weights, billing, GPU type,
code); `config` passes any other EAS service-config keys through untouched. Every model is
frozen and forbids unknown keys, so a typo is an error, never a silent default.

Field-level rules (types, ranges, names, mutually exclusive keys inside one object) live here;
rules that span a group or several files (weights vs. mode, black holes, duplicate names,
typed-field-vs-config clashes) live in `reconciler.spec.checks`, which reports them with file
positions.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

API_VERSION = "eas-gitops/v1"
KIND = "ServiceGroup"
# EAS documents no name rule; this conservative default is a setting of the loader (see checks).
DEFAULT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
MAX_WEIGHT = 1000


class TrafficMode(StrEnum):
    """How a group splits traffic: by running replicas (`auto`) or by weight (`customized`)."""

    AUTO = "auto"
    CUSTOMIZED = "customized"


class TrafficState(StrEnum):
    """Whether a member takes part in group traffic (`grouping`) or only its direct endpoint."""

    GROUPING = "grouping"
    STANDALONE = "standalone"


class Billing(StrEnum):
    SUBSCRIPTION = "subscription"  # dedicated resource group (eas-r-...)
    PAY_AS_YOU_GO = "pay-as-you-go"  # public resources


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Autoscaling(_Strict):
    """An autoscaling range instead of a fixed replica count."""

    min: int = Field(ge=0, description="Fewest replicas the autoscaler keeps.")
    max: int = Field(ge=1, description="Most replicas the autoscaler may start.")
    metric: str = Field(default="qps", description="Scaling metric, e.g. qps, cpu, gpu[util].")
    threshold: float = Field(gt=0, description="Target value of the metric per replica.")

    @model_validator(mode="after")
    def _range(self) -> Autoscaling:
        if self.min > self.max:
            raise ValueError(f"autoscaling min ({self.min}) is greater than max ({self.max})")
        return self


class Resources(_Strict):
    """Per-replica size and where it runs: a dedicated resource group or public instance types."""

    cpu: float | None = Field(default=None, gt=0, description="CPU cores per replica.")
    memory: int | None = Field(default=None, gt=0, description="Memory per replica in MB.")
    gpu: int | None = Field(default=None, ge=0, description="GPUs per replica.")
    gpu_memory: int | None = Field(default=None, ge=0, description="GPU memory per replica in GB (GPU sharing).")
    resource_group: str | None = Field(
        default=None, pattern=r"^eas-r-[a-z0-9]+$",
        description="Dedicated resource group ID (subscription billing), e.g. eas-r-abc123.",
    )
    instance_type: str | None = Field(
        default=None, min_length=1, description="Public resources (pay-as-you-go): one ECS instance type."
    )
    instance_types: list[str] | None = Field(
        default=None, min_length=1, description="Public resources: instance types in order of preference."
    )
    spot: bool = Field(default=False, description="Use preemptible (spot) instances on public resources.")

    @model_validator(mode="after")
    def _placement(self) -> Resources:
        if self.resource_group and (self.instance_type or self.instance_types):
            raise ValueError(
                "resource_group (dedicated, subscription) cannot be combined with instance_type(s) "
                "(public, pay-as-you-go): choose one"
            )
        if self.instance_type and self.instance_types:
            raise ValueError("set instance_type or instance_types, not both")
        if self.spot and self.resource_group:
            raise ValueError("spot applies to public resources only, not to a dedicated resource_group")
        if not (self.instance_type or self.instance_types) and (self.cpu is None or self.memory is None):
            raise ValueError("without an instance type, both cpu and memory are required")
        return self

    @property
    def billing(self) -> Billing:
        return Billing.SUBSCRIPTION if self.resource_group else Billing.PAY_AS_YOU_GO

    @property
    def types(self) -> list[str]:
        """The public instance types, in order of preference (empty on a dedicated group)."""
        if self.instance_types:
            return list(self.instance_types)
        return [self.instance_type] if self.instance_type else []


class ModelCode(_Strict):
    """A model file served by a built-in processor."""

    path: str = Field(min_length=1, description="Model URL, e.g. oss://bucket/models/lr.pmml.")
    processor: str = Field(min_length=1, description="Built-in processor, e.g. pmml, tensorflow_cpu_1.12.")


class Container(_Strict):
    """An image deployment."""

    image: str = Field(min_length=1, description="Container image.")
    port: int | None = Field(default=None, ge=1, le=65535, description="Port the server listens on.")
    command: str | None = Field(default=None, description="Start command (EAS `script`).")


class SmokeTest(_Strict):
    """A request sent to the member's direct endpoint before it may take group traffic."""

    path: str = Field(default="/", description="Path appended to the direct endpoint.")
    body: str | None = Field(default=None, description="Request body (POST when set, GET otherwise).")
    expect_status: int = Field(default=200, ge=100, le=599, description="Expected HTTP status.")


class ServiceSpec(_Strict):
    """One member service of the group."""

    name: str = Field(description="EAS service name, unique per region.")
    role: str | None = Field(default=None, description="primary, canary, or free text shown in plans.")
    traffic: TrafficState = Field(default=TrafficState.GROUPING, description="grouping | standalone.")
    weight: int | None = Field(
        default=None, ge=0, le=MAX_WEIGHT,
        description="Share weight (0-1000); required for grouping members under customized mode.",
    )
    replicas: int | None = Field(default=None, ge=0, description="Fixed replica count.")
    autoscaling: Autoscaling | None = Field(default=None, description="Autoscaling range instead of replicas.")
    resources: Resources
    model: ModelCode | None = Field(default=None, description="Model + processor deployment.")
    containers: list[Container] | None = Field(default=None, min_length=1, description="Image deployment.")
    smoke_test: SmokeTest | None = None
    labels: dict[str, str] = Field(default_factory=dict, description="EAS service labels.")
    config: dict[str, Any] = Field(
        default_factory=dict, description="Other EAS service-config keys, passed through as written."
    )

    @model_validator(mode="after")
    def _one_of(self) -> ServiceSpec:
        if (self.replicas is None) == (self.autoscaling is None):
            raise ValueError("set exactly one of replicas or autoscaling")
        if (self.model is None) == (self.containers is None):
            raise ValueError("set exactly one of model or containers")
        return self

    @property
    def base_replicas(self) -> int:
        """Replicas the member is planned with: the fixed count or the autoscaling minimum."""
        if self.replicas is not None:
            return self.replicas
        assert self.autoscaling is not None
        return self.autoscaling.min


class GroupMetadata(_Strict):
    name: str = Field(description="Service group name (the group endpoint is /api/predict/<name>).")
    region: str = Field(min_length=1, description="Region ID, e.g. cn-shanghai.")
    workspace_id: str | None = Field(default=None, description="PAI workspace ID.")
    labels: dict[str, str] = Field(default_factory=dict)


class GroupSpec(_Strict):
    traffic_mode: TrafficMode = Field(
        default=TrafficMode.AUTO, description="auto: shares follow running replicas; customized: weights."
    )
    services: list[ServiceSpec] = Field(min_length=1)


class ServiceGroup(_Strict):
    """One service group: the unit of a desired-state file."""

    api_version: Literal["eas-gitops/v1"] = Field(alias="apiVersion")
    kind: Literal["ServiceGroup"]
    metadata: GroupMetadata
    spec: GroupSpec

    @property
    def name(self) -> str:
        return self.metadata.name

    @property
    def region(self) -> str:
        return self.metadata.region

    def service(self, name: str) -> ServiceSpec | None:
        return next((s for s in self.spec.services if s.name == name), None)
