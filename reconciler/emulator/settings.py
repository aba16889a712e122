"""Settings of the local PAI-EAS emulator, and every choice it makes where the EAS docs are silent.

The emulator serves the EAS 2021-07-01 management API and the prediction
gateway. Where the public documentation does not say what EAS does, the emulator chooses; each
choice is listed here and, where a test may want the other answer, it is a field of
`EmulatorSettings`.

Undocumented choices (all invented; the reconciler must not rely on them):

* Traffic state of a new group member: `initial_traffic_state` ("standalone", per the 2026 guide;
  "grouping" per the older guide's listing). A service without `metadata.group` has no group,
  `ServiceGroup` "" and `TrafficState` "standalone"; it is reached at `/api/predict/<name>`.
* Weight -1 (`weight_minus_one`): "unset" (default) counts as 0 in customized mode;
  "running_instances" counts as the member's RunningInstance. Stored weight of a new service:
  `default_weight` (100, the value of the struct documentation's example).
* Listed `Weight` in auto mode is the share in whole percent, rounded by largest remainder so that
  the eligible members' weights sum to 100; ineligible members list 0.
* Names: services and groups must match `name_pattern` (default `^[a-z][a-z0-9_]{0,62}$`).
  Names are unique per region. One app serves one `region` (new services get it; a path whose
  ClusterId names another region finds nothing); apps of several regions may share one state file.
* Wire errors the docs do not name (HTTP status in brackets): InvalidService.NotFound [404],
  InvalidGroup.NotFound [404], InvalidService.AlreadyExists [409], InvalidGroup.AlreadyExists [409],
  InvalidParameter [400], Missing<Name> [400], InvalidOperation.SafetyLock [409],
  InvalidOperation.ServiceStatus [409], InvalidOperation.GroupNotEmpty [409],
  InvalidAutoscaler.AlreadyExists [409], InvalidAutoscaler.NotFound [404], InternalError [500],
  ServiceUnavailable [503], Throttling.User [429 + `x-acs-retry-after` in milliseconds, as the SDK
  reads it]. Signature rejections use the names Alibaba Cloud's gateway documents, all with status 400;
  a content-hash mismatch is `SignatureDoesNotMatch` naming the header; STS problems are
  InvalidSecurityToken.Expired / InvalidSecurityToken.Malformed / InvalidSecurityToken.Mismatch.
* Safety lock: "dangerous" blocks DeleteService, StopService and a cascading DeleteGroup over the
  service; "all" blocks every write on the service except UpdateServiceSafetyLock itself.
* UpdateService: the group and the name are fixed at creation (a body naming another group or name
  is InvalidParameter; a replace body that omits them keeps them). A body equal to the current
  config changes nothing; one differing only in `metadata.instance` scales; anything else makes
  version LatestVersion+1. UpdateServiceVersion accepts any existing version (not only older ones)
  and keeps the current `metadata.instance`.
* Groups created with CreateGroup survive without members until DeleteGroup; groups created
  implicitly disappear with their last member. DeleteGroup with members and CascadeDelete=false is
  InvalidOperation.GroupNotEmpty; with CascadeDelete=true the members go to Deleting and the group
  goes with the last of them.
* Life over time is computed from timestamps on `clock` when read (no background threads):
  instances come up one every `provision_delay` seconds (Creating, Starting, Scaling up); a rolling
  update takes `update_delay` per running instance (count unchanged) before any count change;
  scale-in removes one instance every `scale_in_delay`; Stopping and Deleting take their delays and
  drop RunningInstance to 0 at once (instances being torn down take no traffic). TotalInstance =
  RunningInstance + PendingInstance. Scaling to 0 ends Running with 0 instances.
* Failure: a service whose labels hold `emulator/fail` (value = Reason) ends its next Creating,
  Updating, Scaling or Starting phase as Failed with 0 instances after one `provision_delay`.
* Capacity: a dedicated resource group (`metadata.resource`) may be given a capacity in instances
  (admin call); grants go first come first served in creation order, nothing running is evicted, and
  members beyond capacity wait (status Waiting, PendingInstance > 0). An instance type
  (`cloud.computing.instance_type` or the first of `cloud.computing.instances[].type`) may be put
  out of stock: its members keep what runs and wait for the rest.
* The signature date is checked against `auth_clock` (wall time), not the emulated `clock`, so that
  tests can advance emulated time while a real SDK signs with the real date. Nonces are stored in
  the state file with the wall time they were first seen and forgotten after `max_skew`, so a
  replay is refused across a restart too.
* Admin endpoints (`/_emulator/*`) take the same ACS3 signature as management calls whenever
  `verify_signatures` is on; their `x-acs-action` names the admin operation (admin_api.py). The
  signature is checked from the headers alone, before the body is read; the body is then read up
  to `max_body_bytes` and must match `x-acs-content-sha256`.
* Request bodies (management and admin) are limited to `max_body_bytes` (1 MiB): a longer body
  (by Content-Length, or while it streams in) is refused with 413 `RequestEntityTooLarge` in the
  EAS error shape. Prediction bodies are not read by the emulator and not limited.
* Management and admin bodies are standard JSON (a `NaN` or `Infinity` literal is 400
  InvalidParameter). Service configs keep `metadata.instance`, `cpu`, `memory`, `gpu`, `gpu_memory`
  and autoscaler `min` / `max` within `ConfigBounds` (1000 instances, 1024 cores, 4 TiB, 64 GPUs,
  2048 GB): beyond them is 400 InvalidParameter, so no request can break the state file.
* Admin bodies are JSON objects with known keys only (standard JSON: no NaN or Infinity literals),
  every number finite and bounded: a clock step is at most `max_clock_advance` seconds (one year).
* `/metrics`: with `metrics_token` set, the scrape needs `Authorization: Bearer <token>` (what
  Prometheus sends with `authorization: {credentials: ...}`); without it, only loopback clients may
  scrape. Anyone else gets 401 `AuthorizationFailed`. It is never ACS3-signed (a scraper cannot sign).
* Prediction tokens: see tokens.py; `check_tokens` turns the gateway's check off.
* Autoscaler, service fields the SDK declares, RestartService and ListServiceInstances: see
  `AutoscalerSettings` and `ServiceFieldSettings` below (and reconciler.emulator.autoscaler /
  reconciler.emulator.instances for the rules).
* Prediction gateway: smooth weighted round robin per group (state per process, reset when the
  members' weights change); `emulator/error-rate` (0..1) and `emulator/latency-ms` labels shape a
  member's answers, drawn from a generator seeded with `seed`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from reconciler.emulator import errors

LOCAL_ACCESS_KEY_ID = "LTAI5tEasGitopsLocal"
LOCAL_ACCESS_KEY_SECRET = "eas-gitops-local-emulator-secret"  # documented, local only: not a secret
DEFAULT_REGION = "cn-shanghai"
DEFAULT_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"

TrafficStateChoice = Literal["standalone", "grouping"]
WeightMinusOne = Literal["unset", "running_instances"]


@dataclass(frozen=True)
class StsCredential:
    """A temporary credential: its secret, its security token and when it expires (epoch seconds)."""

    secret: str
    token: str
    expiry: float


def _local_pair() -> dict[str, str]:
    return {LOCAL_ACCESS_KEY_ID: LOCAL_ACCESS_KEY_SECRET}


@dataclass(frozen=True)
class AutoscalerSettings:
    """The emulated autoscaler's rule (reconciler.emulator.autoscaler). Times are seconds of emulated time."""

    interval: float = 15.0  # the autoscaler decides at every multiple of this on the emulated clock
    window: float = 60.0  # QPS = gateway requests to the member in the last `window` seconds / window
    scale_up_stabilization: float = 0.0  # behavior.scaleUp.stabilizationWindowSeconds when not given
    scale_down_stabilization: float = 300.0  # behavior.scaleDown.stabilizationWindowSeconds when not given
    max_ticks: int = 20_000  # decisions computed per settle at most (a huge clock jump skips the rest)


@dataclass(frozen=True)
class ConfigBounds:
    """Largest numbers a service config may hold (CreateService / UpdateService, the autoscaler API).

    EAS publishes no such limits; the emulator refuses anything beyond them with 400 InvalidParameter
    so that no client can store a number it could not answer with again. The defaults are the desired
    state's own bounds (reconciler.desired.limits), far above any real service.
    """

    instances: int = 1000  # metadata.instance and autoscaler min / max
    cpu: int = 1024  # metadata.cpu, cores per instance
    memory: int = 4 * 1024 * 1024  # metadata.memory, MB per instance
    gpu: int = 64  # metadata.gpu
    gpu_memory: int = 2048  # metadata.gpu_memory, GB

    def check(self, metadata: dict[str, Any]) -> None:
        """InvalidParameter for a metadata number (present) that is not a finite number in 0..bound."""
        for key in ("instance", "cpu", "memory", "gpu", "gpu_memory"):
            if key not in metadata:
                continue
            value, bound = metadata[key], getattr(self, "instances" if key == "instance" else key)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= bound:
                raise errors.invalid_parameter(f"metadata.{key} must be a number from 0 to {bound}, got {value!r}.")


@dataclass(frozen=True)
class ServiceFieldSettings:
    """Service fields with no source of their own in the emulator (DescribeService / ListServices)."""

    source: str = "openapi"  # Source: deployed through the API (EAS examples: dsw)
    role: str = ""  # Role of an ordinary service (EAS sets Queue, LLMGateway, ... for special ones)
    async_types: tuple[str, ...] = ("Async",)  # metadata.type values that get secondary endpoints
    secondary_path: str = "/sync"  # the secondary (synchronous) endpoint of an async service
    gateway_keys: tuple[tuple[str, ...], ...] = (("metadata", "gateway"), ("networking", "gateway"))
    extra_data_members: bool = True  # DescribeService ExtraData lists the group's members (blue_green_services)
    zones: tuple[str, ...] = ("a", "b")  # instances are spread round robin over <region>-<zone>
    account_uid: str = "1000000000000000"  # CallerUid and ParentUid


@dataclass
class EmulatorSettings:
    """Everything that shapes one emulator instance. Times are seconds."""

    state_path: Path | None = None  # None: a private in-memory store
    credentials: dict[str, str] = field(default_factory=_local_pair)  # access key id -> secret
    sts_credentials: dict[str, StsCredential] = field(default_factory=dict)  # STS key id -> credential
    region: str = DEFAULT_REGION
    initial_traffic_state: TrafficStateChoice = "standalone"
    weight_minus_one: WeightMinusOne = "unset"
    default_weight: int = 100
    name_pattern: str = DEFAULT_NAME_PATTERN
    provision_delay: float = 1.0  # per instance coming up
    update_delay: float = 1.0  # per instance rolled by an update
    scale_in_delay: float = 0.5  # per instance removed
    stop_delay: float = 1.0
    delete_delay: float = 1.0
    clock: Callable[[], float] = time.time  # emulated time (life of services), epoch seconds
    auth_clock: Callable[[], float] = time.time  # wall time for x-acs-date checks
    max_skew: float = 900.0  # 15 minutes, as Alibaba Cloud's gateway allows
    verify_signatures: bool = True  # management and admin calls must be ACS3-signed
    check_tokens: bool = True  # the gateway wants the endpoint's AccessToken
    max_body_bytes: int = 1_048_576  # management and admin request bodies
    max_clock_advance: float = 366 * 86_400.0  # largest step of POST /_emulator/clock
    metrics_token: str | None = field(default=None, repr=False)  # None: /metrics open to loopback only
    seed: int = 0
    host_id: str = ""  # HostId in error bodies; "" means pai-eas.<region>.aliyuncs.com
    autoscaler: AutoscalerSettings = field(default_factory=AutoscalerSettings)
    bounds: ConfigBounds = field(default_factory=ConfigBounds)
    service_fields: ServiceFieldSettings = field(default_factory=ServiceFieldSettings)

    def __post_init__(self) -> None:
        if not self.host_id:
            self.host_id = f"pai-eas.{self.region}.aliyuncs.com"
