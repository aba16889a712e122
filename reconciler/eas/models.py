"""Wire models of the EAS 2021-07-01 API, read-only views of responses.

Field names are snake_case with the PascalCase wire names as aliases; unknown wire fields are
ignored (the API grows), missing ones take neutral defaults (EAS omits empty fields). Values are
kept as the wire gives them (`status`, `traffic_state` are open strings: a new EAS status must not
break a listing); typed helpers (`config`, `labels`, `traffic`) interpret them.
"""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconciler.traffic import TrafficMode, TrafficState


class _Wire(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class UpdateType(StrEnum):
    """UpdateService `UpdateType`: merge the body into the config, or replace the config with it."""

    MERGE = "merge"
    REPLACE = "replace"


class SafetyLock(StrEnum):
    ALL = "all"
    DANGEROUS = "dangerous"
    NONE = "none"


class Label(_Wire):
    key: str = Field(alias="LabelKey")
    value: str = Field(default="", alias="LabelValue")


def _labels(pairs: list[Label]) -> dict[str, str]:
    return {p.key: p.value for p in pairs}


class Service(_Wire):
    """One service as ListServices / DescribeService return it."""

    service_name: str = Field(alias="ServiceName")
    service_id: str = Field(default="", alias="ServiceId")
    region: str = Field(default="", alias="Region")
    status: str = Field(default="", alias="Status")
    reason: str = Field(default="", alias="Reason")
    message: str = Field(default="", alias="Message")
    service_config: str = Field(default="", alias="ServiceConfig")
    service_group: str = Field(default="", alias="ServiceGroup")
    traffic_state: str = Field(default="", alias="TrafficState")
    weight: int | None = Field(default=None, alias="Weight")
    running_instance: int = Field(default=0, alias="RunningInstance")
    pending_instance: int = Field(default=0, alias="PendingInstance")
    total_instance: int = Field(default=0, alias="TotalInstance")
    current_version: int = Field(default=0, alias="CurrentVersion")
    latest_version: int = Field(default=0, alias="LatestVersion")
    cpu: float = Field(default=0, alias="Cpu")
    memory: int = Field(default=0, alias="Memory")
    gpu: int = Field(default=0, alias="Gpu")
    gpu_memory: int = Field(default=0, alias="GPUMemory")
    image: str = Field(default="", alias="Image")
    resource: str = Field(default="", alias="Resource")
    label_pairs: list[Label] = Field(default_factory=list, alias="Labels")
    safety_lock: str = Field(default="", alias="SafetyLock")
    internet_endpoint: str = Field(default="", alias="InternetEndpoint")  # DescribeService only
    intranet_endpoint: str = Field(default="", alias="IntranetEndpoint")  # DescribeService only
    secondary_internet_endpoint: str = Field(default="", alias="SecondaryInternetEndpoint")  # async services
    secondary_intranet_endpoint: str = Field(default="", alias="SecondaryIntranetEndpoint")  # async services
    autoscaler_enabled: bool = Field(default=False, alias="AutoscalerEnabled")
    role: str = Field(default="", alias="Role")
    source: str = Field(default="", alias="Source")
    quota_id: str = Field(default="", alias="QuotaId")
    gateway: str = Field(default="", alias="Gateway")
    extra_data: str = Field(default="", alias="ExtraData")  # JSON text
    access_token: str = Field(default="", alias="AccessToken", repr=False)  # for calling the service
    create_time: str = Field(default="", alias="CreateTime")
    update_time: str = Field(default="", alias="UpdateTime")
    request_id: str = Field(default="", alias="RequestId")

    @field_validator("service_config")
    @classmethod
    def _config_is_json_object(cls, value: str) -> str:
        if value and not isinstance(json.loads(value), dict):
            raise ValueError("ServiceConfig is not a JSON object")
        return value

    @property
    def config(self) -> dict[str, Any]:
        """The effective service config, parsed (empty when EAS sent none)."""
        parsed: dict[str, Any] = json.loads(self.service_config) if self.service_config else {}
        return parsed

    @property
    def labels(self) -> dict[str, str]:
        return _labels(self.label_pairs)

    @property
    def traffic(self) -> TrafficState | None:
        """The traffic state as the closed enum; None when the service is in no group or EAS sent another value."""
        try:
            return TrafficState(self.traffic_state)
        except ValueError:
            return None


class Group(_Wire):
    """A service group. Members are found with ListServices(group_name=...)."""

    name: str = Field(alias="Name")
    cluster_id: str = Field(default="", alias="ClusterId")
    traffic_mode: str = Field(default="", alias="TrafficMode")
    queue_service: str = Field(default="", alias="QueueService")
    internet_endpoint: str = Field(default="", alias="InternetEndpoint")
    intranet_endpoint: str = Field(default="", alias="IntranetEndpoint")
    access_token: str = Field(default="", alias="AccessToken", repr=False)
    label_pairs: list[Label] = Field(default_factory=list, alias="Labels")
    create_time: str = Field(default="", alias="CreateTime")
    update_time: str = Field(default="", alias="UpdateTime")

    @property
    def labels(self) -> dict[str, str]:
        return _labels(self.label_pairs)

    @property
    def mode(self) -> TrafficMode:
        """`auto` unless EAS says `customized` (auto is the documented default)."""
        return TrafficMode.CUSTOMIZED if self.traffic_mode == TrafficMode.CUSTOMIZED else TrafficMode.AUTO


class ScaleStrategy(_Wire):
    """One autoscaler strategy as DescribeServiceAutoScaler lists it (lowerCamel inside)."""

    metric_name: str = Field(alias="metricName")
    threshold: float = Field(default=0, alias="threshold")
    service: str = Field(default="", alias="service")


class CurrentMetric(_Wire):
    metric_name: str = Field(alias="metricName")
    value: float = Field(default=0, alias="value")
    service: str = Field(default="", alias="service")


class Autoscaler(_Wire):
    """DescribeServiceAutoScaler answer: PascalCase outside, lowerCamel inside."""

    request_id: str = Field(default="", alias="RequestId")
    service_name: str = Field(default="", alias="ServiceName")
    min_replica: int = Field(default=0, alias="MinReplica")
    max_replica: int = Field(default=0, alias="MaxReplica")
    behavior: dict[str, Any] = Field(default_factory=dict, alias="Behavior")
    scale_strategies: list[ScaleStrategy] = Field(default_factory=list, alias="ScaleStrategies")
    current_metrics: list[CurrentMetric] = Field(default_factory=list, alias="CurrentMetrics")

    @property
    def strategies(self) -> dict[str, float]:
        """metric -> threshold, the service-config form."""
        return {s.metric_name: s.threshold for s in self.scale_strategies}


class ServiceInstance(_Wire):
    """One instance as ListServiceInstances returns it."""

    instance_name: str = Field(alias="InstanceName")
    status: str = Field(default="", alias="Status")
    reason: str = Field(default="", alias="Reason")
    zone: str = Field(default="", alias="Zone")
    is_spot: bool = Field(default=False, alias="IsSpot")
    instance_type: str = Field(default="", alias="InstanceType")
    resource_type: str = Field(default="", alias="ResourceType")
    restart_count: int = Field(default=0, alias="RestartCount")
    start_time: str = Field(default="", alias="StartTime")
    inner_ip: str = Field(default="", alias="InnerIP")


class Ack(_Wire):
    """`{RequestId, Message}`: the answer of most writes."""

    request_id: str = Field(default="", alias="RequestId")
    message: str = Field(default="", alias="Message")


class CreatedService(Ack):
    """CreateService answer."""

    service_id: str = Field(default="", alias="ServiceId")
    service_name: str = Field(default="", alias="ServiceName")
    status: str = Field(default="", alias="Status")
    region: str = Field(default="", alias="Region")
    internet_endpoint: str = Field(default="", alias="InternetEndpoint")
    intranet_endpoint: str = Field(default="", alias="IntranetEndpoint")


class _Page(_Wire):
    request_id: str = Field(default="", alias="RequestId")
    page_number: int = Field(default=1, alias="PageNumber")
    page_size: int = Field(default=0, alias="PageSize")
    total_count: int = Field(default=0, alias="TotalCount")


class ServicePage(_Page):
    services: list[Service] = Field(default_factory=list, alias="Services")


class GroupPage(_Page):
    groups: list[Group] = Field(default_factory=list, alias="Groups")


class ServiceVersion(_Wire):
    image_id: int = Field(default=0, alias="ImageId")
    build_time: str = Field(default="", alias="BuildTime")
    image_available: str = Field(default="", alias="ImageAvailable")
    service_runnable: str = Field(default="", alias="ServiceRunnable")
    message: str = Field(default="", alias="Message")
    service_config: str = Field(default="", alias="ServiceConfig")


class InstancePage(_Page):
    instances: list[ServiceInstance] = Field(default_factory=list, alias="Instances")


class VersionPage(_Page):
    versions: list[ServiceVersion] = Field(default_factory=list, alias="Versions")


class ServiceEvent(_Wire):
    type: str = Field(default="", alias="Type")
    reason: str = Field(default="", alias="Reason")
    message: str = Field(default="", alias="Message")
    time: str = Field(default="", alias="Time")
    resource: str = Field(default="", alias="Resource")


class EventPage(_Wire):
    """DescribeServiceEvent answer; note `PageNum`, not `PageNumber`."""

    request_id: str = Field(default="", alias="RequestId")
    page_num: int = Field(default=1, alias="PageNum")
    total_count: int = Field(default=0, alias="TotalCount")
    total_page_num: int = Field(default=0, alias="TotalPageNum")
    events: list[ServiceEvent] = Field(default_factory=list, alias="Events")


class Endpoint(_Wire):
    endpoint_type: str = Field(default="", alias="EndpointType")
    backend_id: str = Field(default="", alias="BackendId")
    internet_endpoints: list[str] = Field(default_factory=list, alias="InternetEndpoints")
    intranet_endpoints: list[str] = Field(default_factory=list, alias="IntranetEndpoints")
    path_type: str = Field(default="", alias="PathType")
    port: int = Field(default=0, alias="Port")


class GroupEndpoints(_Wire):
    request_id: str = Field(default="", alias="RequestId")
    message: str = Field(default="", alias="Message")
    access_token: str = Field(default="", alias="AccessToken", repr=False)
    endpoints: list[Endpoint] = Field(default_factory=list, alias="Endpoints")
