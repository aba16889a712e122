"""The official SDK (alibabacloud_eas20210701 7.0.0) drives the served emulator through every operation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from alibabacloud_eas20210701 import models as m
from alibabacloud_tea_openapi.exceptions import ClientException
from alibabacloud_tea_openapi.models import OpenApiRequest, Params
from alibabacloud_tea_util.models import RuntimeOptions  # type: ignore[import-untyped]

from reconciler.emulator import routes

from .helpers import REGION, Served, endpoint_token, metric_samples, metric_value, sdk_client

# The service and group operations the emulator serves (its EAS API surface).
ISSUE_OPERATIONS = frozenset({
    "CreateService", "DescribeService", "ListServices", "UpdateService", "UpdateServiceVersion", "ReleaseService",
    "DeleteService", "StartService", "StopService", "UpdateServiceLabel", "DeleteServiceLabel",
    "ListServiceVersions", "DescribeServiceEvent", "UpdateServiceSafetyLock", "ListGroups", "DescribeGroup",
    "CreateGroup", "UpdateGroup", "DeleteGroup", "DescribeGroupEndpoints",
})
# The operations on a service's instances added later: the autoscaler API, restarts, the instance list.
INSTANCE_OPERATIONS = frozenset({
    "CreateServiceAutoScaler", "DescribeServiceAutoScaler", "UpdateServiceAutoScaler", "DeleteServiceAutoScaler",
    "RestartService", "ListServiceInstances",
})
SCENARIO_TESTS = ("test_every_operation", "test_delete_service_through_the_sdk", "test_pmml_scenario",
                  "test_autoscaler_restart_and_instances")


class Recording:
    """An official SDK client whose every call (typed methods and the generic call_api) is recorded when it succeeds."""

    def __init__(self, port: int) -> None:
        self.client = sdk_client(port)
        self.succeeded: set[str] = set()
        original = self.client.call_api

        def call_api(params: Params, request: OpenApiRequest, runtime: RuntimeOptions) -> Any:
            result = original(params, request, runtime)
            self.succeeded.add(params.action)
            return result

        self.client.call_api = call_api


@pytest.fixture(scope="module")
def recording(served: Served) -> Recording:
    return Recording(served.port)


@pytest.fixture
def sdk(recording: Recording) -> Any:
    return recording.client


def generic(sdk: Any, action: str, method: str, pathname: str, body: dict[str, Any] | None = None,
            query: dict[str, str] | None = None) -> dict[str, Any]:
    """Operations missing from the 7.0.0 wheel go through the SDK's generic call_api."""
    params = Params(action=action, version="2021-07-01", protocol="HTTP", pathname=pathname, method=method,
                    auth_type="AK", style="ROA", req_body_type="json", body_type="json")
    result: dict[str, Any] = sdk.call_api(params, OpenApiRequest(body=body, query=query), RuntimeOptions())
    answer: dict[str, Any] = result["body"]
    return answer


def create(sdk: Any, name: str, group: str, instances: int, labels: dict[str, str] | None = None) -> Any:
    config = {"name": name, "processor": "pmml", "model_path": f"oss://bucket/{name}.pmml",
              "metadata": {"instance": instances, "cpu": 1, "memory": 1000, "group": group}}
    return sdk.create_service(m.CreateServiceRequest(body=json.dumps(config), labels=labels)).body


def listed(sdk: Any, group: str) -> dict[str, tuple[int, str]]:
    services = sdk.list_services(m.ListServicesRequest(group_name=group)).body.services
    return {s.service_name: (s.weight, s.traffic_state) for s in services}


async def count_in_process(served: Served, group: str, n: int) -> dict[str, int]:
    """n gateway requests to the served app object, in-process (loopback HTTP costs ~1 ms a request here)."""
    counts: dict[str, int] = {}
    transport = httpx.ASGITransport(app=served.app)
    headers = {"Authorization": endpoint_token(served.app, group)}
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator", headers=headers) as http:
        for _ in range(n):
            service = (await http.post(f"/api/predict/{group}", content=b"{}")).json()["service"]
            counts[service] = counts.get(service, 0) + 1
    return counts


def release(sdk: Any, name: str, state: str | None = None, weight: int | None = None) -> None:
    sdk.release_service(REGION, name, m.ReleaseServiceRequest(traffic_state=state, weight=weight))


def test_every_operation(sdk: Any, served: Served) -> None:
    created = create(sdk, "ops_a", "ops", 2, labels={"team": "ml"})
    assert (created.service_name, created.status) == ("ops_a", "Creating")
    described = sdk.describe_service(REGION, "ops_a").body
    assert described.service_group == "ops" and described.pending_instance == 2
    assert described.labels[0].to_map() == {"LabelKey": "team", "LabelValue": "ml"}
    assert json.loads(described.service_config)["metadata"]["group"] == "ops"
    served.advance(10)
    page = sdk.list_services(m.ListServicesRequest(group_name="ops", filter="ops_", label={"team": "ml"},
                                                   service_status="Running", page_size=1, page_number=1)).body
    assert (page.total_count, [s.service_name for s in page.services]) == (1, ["ops_a"])
    stopped = m.ListServicesRequest(service_name="ops_a", service_status="Stopped")
    assert sdk.list_services(stopped).body.total_count == 0

    sdk.update_service(REGION, "ops_a", m.UpdateServiceRequest(body=json.dumps({"metadata": {"instance": 3}})))
    scaled = sdk.describe_service(REGION, "ops_a").body
    assert (scaled.status, scaled.latest_version) == ("Scaling", 1)
    sdk.update_service(REGION, "ops_a", m.UpdateServiceRequest(body=json.dumps({"model_path": "oss://b/v2.pmml"})))
    assert sdk.describe_service(REGION, "ops_a").body.latest_version == 2
    served.advance(30)
    assert sdk.describe_service(REGION, "ops_a").body.current_version == 2
    sdk.update_service_version(REGION, "ops_a", m.UpdateServiceVersionRequest(version=1))
    served.advance(30)
    back = sdk.describe_service(REGION, "ops_a").body
    assert (back.current_version, back.running_instance) == (1, 3)
    versions = sdk.list_service_versions(REGION, "ops_a", m.ListServiceVersionsRequest()).body
    assert [v.image_id for v in versions.versions] == [2, 1]

    release(sdk, "ops_a", "grouping", 50)
    sdk.update_service_label(REGION, "ops_a", m.UpdateServiceLabelRequest(labels={"a": "1", "b": "2"}))
    sdk.delete_service_label(REGION, "ops_a", m.DeleteServiceLabelRequest(keys=["a", "team"]))
    labels = sdk.describe_service(REGION, "ops_a").body.labels
    assert [(label.label_key, label.label_value) for label in labels] == [("b", "2")]
    events = sdk.describe_service_event(REGION, "ops_a", m.DescribeServiceEventRequest(page_size=200)).body
    assert {"CreateService", "Creating", "Running", "ReleaseService"} <= {e.reason for e in events.events}

    sdk.update_service_safety_lock(REGION, "ops_a", m.UpdateServiceSafetyLockRequest(lock="dangerous"))
    with pytest.raises(ClientException) as refused:
        sdk.stop_service(REGION, "ops_a")
    assert refused.value.code == "InvalidOperation.SafetyLock"
    sdk.update_service_safety_lock(REGION, "ops_a", m.UpdateServiceSafetyLockRequest(lock="none"))
    sdk.stop_service(REGION, "ops_a")
    served.advance(5)
    assert sdk.describe_service(REGION, "ops_a").body.status == "Stopped"
    sdk.start_service(REGION, "ops_a")
    served.advance(10)
    assert sdk.describe_service(REGION, "ops_a").body.status == "Running"

    groups = sdk.list_groups(m.ListGroupsRequest(filter="ops")).body
    assert [g.name for g in groups.groups] == ["ops"]
    assert sdk.describe_group(REGION, "ops").body.traffic_mode == "auto"
    endpoints = sdk.describe_group_endpoints(REGION, "ops").body.endpoints
    assert endpoints[0].internet_endpoints == [f"{served.base_url}/api/predict/ops"]

    assert "successfully" in generic(sdk, "CreateGroup", "POST", "/api/v2/groups", {"Name": "ops_explicit"})["Message"]
    generic(sdk, "UpdateGroup", "PUT", f"/api/v2/groups/{REGION}/ops", {"TrafficMode": "customized"})
    assert sdk.describe_group(REGION, "ops").body.traffic_mode == "customized"
    generic(sdk, "DeleteGroup", "DELETE", f"/api/v2/groups/{REGION}/ops_explicit")
    with pytest.raises(ClientException) as not_empty:
        generic(sdk, "DeleteGroup", "DELETE", f"/api/v2/groups/{REGION}/ops")
    assert not_empty.value.code == "InvalidOperation.GroupNotEmpty"
    generic(sdk, "DeleteGroup", "DELETE", f"/api/v2/groups/{REGION}/ops", query={"CascadeDelete": "true"})
    served.advance(5)
    with pytest.raises(ClientException) as gone:
        sdk.describe_service(REGION, "ops_a")
    assert (gone.value.code, gone.value.status_code) == ("InvalidService.NotFound", 404)
    assert sdk.list_groups(m.ListGroupsRequest(filter="ops")).body.total_count == 0


def test_delete_service_through_the_sdk(sdk: Any, served: Served) -> None:
    create(sdk, "gone_a", "gone", 1)
    sdk.delete_service(REGION, "gone_a")
    assert sdk.describe_service(REGION, "gone_a").body.status == "Deleting"
    served.advance(5)
    with pytest.raises(ClientException) as exc:
        sdk.describe_group(REGION, "gone")
    assert exc.value.code == "InvalidGroup.NotFound"


def test_pmml_scenario(sdk: Any, served: Served) -> None:
    create(sdk, "pmml_prod", "pmml", 4)
    create(sdk, "pmml_grey", "pmml", 1)
    assert sdk.describe_group(REGION, "pmml").body.name == "pmml"
    assert set(listed(sdk, "pmml")) == {"pmml_prod", "pmml_grey"}
    served.advance(10)
    release(sdk, "pmml_prod", "grouping")
    release(sdk, "pmml_grey", "grouping")
    assert listed(sdk, "pmml") == {"pmml_prod": (80, "grouping"), "pmml_grey": (20, "grouping")}
    release(sdk, "pmml_grey", "standalone")
    assert listed(sdk, "pmml") == {"pmml_prod": (100, "grouping"), "pmml_grey": (0, "standalone")}
    grey_token = sdk.describe_service(REGION, "pmml_grey").body.access_token
    assert httpx.get(f"{served.base_url}/api/predict/pmml.pmml_grey").status_code == 401  # no token
    direct = httpx.get(f"{served.base_url}/api/predict/pmml.pmml_grey", headers={"Authorization": grey_token})
    assert direct.status_code == 200 and direct.json()["service"] == "pmml_grey"
    release(sdk, "pmml_grey", "grouping")
    assert listed(sdk, "pmml") == {"pmml_prod": (80, "grouping"), "pmml_grey": (20, "grouping")}

    release(sdk, "pmml_prod", weight=100)
    release(sdk, "pmml_grey", weight=400)
    generic(sdk, "UpdateGroup", "PUT", f"/api/v2/groups/{REGION}/pmml", {"TrafficMode": "customized"})
    over_http = {"pmml_prod": 0, "pmml_grey": 0}
    group_token = sdk.describe_group(REGION, "pmml").body.access_token
    assert group_token == sdk.describe_group_endpoints(REGION, "pmml").body.access_token != grey_token
    with httpx.Client(base_url=served.base_url, headers={"Authorization": group_token}) as http:
        for _ in range(500):
            over_http[http.post("/api/predict/pmml", content=b"{}").json()["service"]] += 1
    assert over_http == {"pmml_prod": 100, "pmml_grey": 400}  # smooth WRR: exact over whole rounds
    counts = asyncio.run(count_in_process(served, "pmml", 10_000))
    assert abs(counts["pmml_prod"] / 10_000 - 0.20) <= 0.01
    assert abs(counts["pmml_grey"] / 10_000 - 0.80) <= 0.01

    sdk.delete_service(REGION, "pmml_prod")
    sdk.delete_service(REGION, "pmml_grey")
    served.advance(5)
    assert "pmml" not in [g.name for g in sdk.list_groups(m.ListGroupsRequest()).body.groups]
    history = served.admin("GET", "/_emulator/history?group=pmml")
    kinds = [(e["kind"], e["action"]) for e in history["Events"]]
    assert kinds[0] == ("group", "GroupCreated") and kinds[-1] == ("group", "GroupDeleted")


def _scaler_request(cls: Any, low: int, high: int, threshold: float) -> Any:
    strategy = m.CreateServiceAutoScalerRequestScaleStrategies(metric_name="qps", threshold=threshold)
    if cls is m.UpdateServiceAutoScalerRequest:
        strategy = m.UpdateServiceAutoScalerRequestScaleStrategies(metric_name="qps", threshold=threshold)
    return cls(min=low, max=high, scale_strategies=[strategy])


def test_autoscaler_restart_and_instances(sdk: Any, served: Served) -> None:
    create(sdk, "as_a", "as", 1)
    served.advance(5)
    release(sdk, "as_a", "grouping")
    sdk.create_service_auto_scaler(REGION, "as_a", _scaler_request(m.CreateServiceAutoScalerRequest, 1, 4, 2))
    config = json.loads(sdk.describe_service(REGION, "as_a").body.service_config)
    assert config["autoscaler"] == {"min": 1, "max": 4, "strategies": {"qps": 2}}  # the service-config form
    with pytest.raises(ClientException) as twice:
        sdk.create_service_auto_scaler(REGION, "as_a", _scaler_request(m.CreateServiceAutoScalerRequest, 1, 4, 2))
    assert twice.value.code == "InvalidAutoscaler.AlreadyExists"

    asyncio.run(count_in_process(served, "as", 480))  # 480 requests in the last 60 s: 8 QPS, 2 per instance
    served.advance(15)
    described = sdk.describe_service_auto_scaler(REGION, "as_a").body
    assert (described.min_replica, described.max_replica, described.service_name) == (1, 4, "as_a")
    assert [(s.metric_name, s.threshold) for s in described.scale_strategies] == [("qps", 2)]
    assert described.current_metrics[0].value == 8
    assert sdk.describe_service(REGION, "as_a").body.total_instance == 4  # scaled up by itself
    served.advance(400)  # no load for longer than the scale-down stabilization window
    assert sdk.describe_service(REGION, "as_a").body.total_instance == 1

    sdk.update_service_auto_scaler(REGION, "as_a", _scaler_request(m.UpdateServiceAutoScalerRequest, 2, 3, 5))
    assert sdk.describe_service(REGION, "as_a").body.total_instance == 2  # brought into [min, max] at once
    sdk.delete_service_auto_scaler(REGION, "as_a")
    assert "autoscaler" not in json.loads(sdk.describe_service(REGION, "as_a").body.service_config)
    with pytest.raises(ClientException) as none:
        sdk.describe_service_auto_scaler(REGION, "as_a")
    assert (none.value.code, none.value.status_code) == ("InvalidAutoscaler.NotFound", 404)

    served.advance(10)
    sdk.restart_service(REGION, "as_a")
    assert sdk.describe_service(REGION, "as_a").body.status == "Updating"
    served.advance(10)
    assert sdk.describe_service(REGION, "as_a").body.status == "Running"
    listing = sdk.list_service_instances(REGION, "as_a", m.ListServiceInstancesRequest()).body
    assert listing.total_count == 2
    first = listing.instances[0]
    assert (first.status, first.restart_count, first.is_spot, first.zone) == ("Running", 1, False, f"{REGION}-a")
    assert listing.instances[1].zone == f"{REGION}-b"
    one = sdk.list_service_instances(REGION, "as_a", m.ListServiceInstancesRequest(page_size=1, page_number=2)).body
    assert [i.instance_name for i in one.instances] == [listing.instances[1].instance_name]


@pytest.mark.parametrize(("key_id", "secret", "code"), [
    ("LTAI5tEasGitopsLocal", "not-the-secret", "SignatureDoesNotMatch"),
    ("LTAI5tUnknownKey", "whatever", "InvalidAccessKeyId.NotFound"),
])
def test_bad_credentials_rejected(served: Served, key_id: str, secret: str, code: str) -> None:
    with pytest.raises(ClientException) as exc:
        sdk_client(served.port, key_id, secret).list_services(m.ListServicesRequest())
    assert (exc.value.code, exc.value.status_code) == (code, 400)


def test_the_sdk_drove_every_emulated_operation(recording: Recording, served: Served,
                                                request: pytest.FixtureRequest) -> None:
    """Every operation the emulator routes was called through the official EAS SDK by the scenario tests of
    this module and answered with success: the route table holds exactly these operations, each succeeded in
    the recording, and the emulator's own `/metrics` counted a 200 answer for each."""
    if not_run := set(SCENARIO_TESTS) - {item.name for item in request.session.items}:
        pytest.skip(f"needs the scenario tests of this module in the same run: {sorted(not_run)}")
    every = ISSUE_OPERATIONS | INSTANCE_OPERATIONS
    assert {operation for operation, _, _ in routes.TABLE} == every
    assert sorted(every - recording.succeeded) == []
    samples = metric_samples(httpx.get(f"{served.base_url}/metrics", timeout=10).text)
    answered = {op for op in every if metric_value(samples, "eas_emulator_api_calls_total",
                                                   action=op, code="200") >= 1}
    assert answered == every
