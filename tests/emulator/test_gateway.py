"""Gateway routing, per-member behaviour labels, metrics, faults and the admin endpoints."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from alibabacloud_eas20210701 import models as m
from alibabacloud_tea_openapi.exceptions import ThrottlingException

from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import EmulatorSettings

from .helpers import REGION, FakeClock, InProcess, Served, metric_samples, metric_value


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(clock: FakeClock) -> Any:
    return create_app(EmulatorSettings(clock=clock, verify_signatures=False, initial_traffic_state="grouping"))


def backend_of(app: Any) -> Backend:
    backend: Backend = app.state.emulator.backend
    return backend


def group_of_two(app: Any, clock: FakeClock, labels: dict[str, str] | None = None) -> None:
    b = backend_of(app)
    b.create_service({"name": "big", "metadata": {"instance": 3, "group": "g"}}, {})
    b.create_service({"name": "small", "metadata": {"instance": 1, "group": "g"}}, labels or {})
    clock.advance(10)


def spread(client: InProcess, path: str, n: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _ in range(n):
        response = client.post(path, content=b"{}")
        assert response.status_code == 200, response.text
        assert response.headers["x-eas-emulator-service"] == response.json()["service"]
        counts[response.json()["service"]] = counts.get(response.json()["service"], 0) + 1
    return counts


def test_group_traffic_follows_shares_and_direct_bypasses(app: Any, clock: FakeClock) -> None:
    group_of_two(app, clock)
    client = InProcess(app)
    assert spread(client, "/api/predict/g", 40) == {"big": 30, "small": 10}
    backend_of(app).release_service(REGION, "small", "standalone", None)
    assert spread(client, "/api/predict/g", 8) == {"big": 8}
    assert spread(client, "/api/predict/g.small", 3) == {"small": 3}
    backend_of(app).release_service(REGION, "big", "standalone", None)
    assert client.get("/api/predict/g").status_code == 503  # black hole
    assert client.get("/api/predict/nothing").status_code == 404
    assert client.get("/api/predict/g.nothing").status_code == 404


def test_gateway_sees_instances_come_up_without_writes(app: Any, clock: FakeClock) -> None:
    backend_of(app).create_service({"name": "a", "metadata": {"instance": 2, "group": "g"}}, {})
    client = InProcess(app)
    assert client.get("/api/predict/g").status_code == 503
    clock.advance(1.0)  # first instance up: the cached route must expire on time
    assert client.get("/api/predict/g").json()["service"] == "a"


def test_error_rate_label_and_metrics(app: Any, clock: FakeClock) -> None:
    group_of_two(app, clock, labels={"emulator/error-rate": "1"})
    client = InProcess(app)
    statuses = [client.get("/api/predict/g").status_code for _ in range(8)]
    assert sorted(statuses) == [200] * 6 + [500] * 2
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain; version=")
    samples = metric_samples(response.text)
    requests, errors = "eas_emulator_gateway_requests_total", "eas_emulator_gateway_errors_total"
    assert metric_value(samples, requests, group="g", service="small", code="500") == 2
    assert metric_value(samples, requests, group="g", service="big", code="200") == 6
    assert metric_value(samples, requests, group="g", service="small", code="200") == 0
    assert metric_value(samples, errors, group="g", service="small") == 2
    assert metric_value(samples, errors, group="g", service="big") == 0
    latency = "eas_emulator_gateway_latency_seconds"
    assert metric_value(samples, f"{latency}_count", group="g", service="big") == 6
    assert metric_value(samples, f"{latency}_bucket", group="g", service="big", le="+Inf") == 6
    assert metric_value(samples, f"{latency}_bucket", group="g", service="small", le="5.0") == 2


def test_metrics_count_api_calls_per_app(clock: FakeClock) -> None:
    """Each app has its own registry: two apps in one process count apart (and creating both does not clash)."""
    first = InProcess(create_app(EmulatorSettings(clock=clock, verify_signatures=False)))
    second = InProcess(create_app(EmulatorSettings(clock=clock, verify_signatures=False)))
    for _ in range(3):
        first.get("/api/v2/services")
    first.get("/api/v2/services/cn-shanghai/missing")
    first.get("/no/such/api")
    second.get("/api/v2/groups")
    calls = "eas_emulator_api_calls_total"
    mine = metric_samples(first.get("/metrics").text)
    assert metric_value(mine, calls, action="ListServices", code="200") == 3
    assert metric_value(mine, calls, action="DescribeService", code="404") == 1
    assert metric_value(mine, calls, action="Unknown", code="404") == 1
    assert metric_value(mine, calls, action="ListGroups", code="200") == 0
    theirs = metric_samples(second.get("/metrics").text)
    assert metric_value(theirs, calls, action="ListGroups", code="200") == 1
    assert metric_value(theirs, calls, action="ListServices", code="200") == 0


def test_faults_throttle_error_drop_and_count(app: Any) -> None:
    client = InProcess(app)
    faults: list[dict[str, Any]] = [
        {"operation": "ListServices", "kind": "throttle", "retry_after_ms": 250, "count": 1},
        {"operation": "ListGroups", "kind": "error503", "rate": 0.5, "seed": 3},
        {"operation": "Predict", "kind": "drop"},
    ]
    for fault in faults:
        assert client.post("/_emulator/faults", json=fault).status_code == 200
    throttled = client.get("/api/v2/services")
    assert (throttled.status_code, throttled.json()["Code"]) == (429, "Throttling.User")
    assert throttled.headers["x-acs-retry-after"] == "250"
    assert client.get("/api/v2/services").status_code == 200  # count exhausted
    statuses = [client.get("/api/v2/groups").status_code for _ in range(40)]
    assert {200, 503} == set(statuses) and 10 < statuses.count(503) < 30
    assert statuses == InProcessReplay.statuses(fault=faults[1], n=40)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/predict/g")
    fired = {f["operation"]: f["fired"] for f in client.get("/_emulator/faults").json()["Faults"]}
    assert fired == {"ListServices": 1, "ListGroups": statuses.count(503), "Predict": 1}
    assert client.request("DELETE", "/_emulator/faults").json() == {"Faults": []}
    bad = client.post("/_emulator/faults", json={"operation": "x", "kind": "nope"})
    assert bad.json()["Code"] == "InvalidParameter"


class InProcessReplay:
    """The same seeded fault on a fresh app gives the same sequence: faults are reproducible."""

    @staticmethod
    def statuses(fault: dict[str, Any], n: int) -> list[int]:
        client = InProcess(create_app(EmulatorSettings(verify_signatures=False)))
        client.post("/_emulator/faults", json=fault)
        return [client.get("/api/v2/groups").status_code for _ in range(n)]


def test_admin_clock_stock_capacity_and_history(app: Any) -> None:
    client = InProcess(app)
    gpu = {"name": "a", "metadata": {"instance": 2, "group": "g"}, "cloud": {"computing": {"instance_type": "gpu"}}}
    assert client.post("/_emulator/stock", json={"instance_type": "gpu", "in_stock": False}).status_code == 200
    assert client.post("/api/v2/services", json=gpu).status_code == 200
    assert client.post("/_emulator/clock", json={"advance": 10}).status_code == 200
    assert client.get("/api/v2/services/cn-shanghai/a").json()["Status"] == "Waiting"
    client.post("/_emulator/stock", json={"instance_type": "gpu", "in_stock": True})
    client.post("/_emulator/clock", json={"advance": 10})
    assert client.get("/api/v2/services/cn-shanghai/a").json()["RunningInstance"] == 2
    assert client.post("/_emulator/capacity", json={"resource": "eas-r-1", "instances": 2}).status_code == 200
    history = client.get("/_emulator/history", params={"group": "g"}).json()
    assert {e["group"] for e in history["Events"]} == {"g"}
    assert history["Shares"]["g"][-1]["shares"] == {"a": 1.0}
    assert client.get("/_emulator/shares").json()["Shares"].keys() == {"g"}
    assert client.post("/_emulator/clock", json={"advance": -1}).json()["Code"] == "InvalidParameter"
    assert client.post("/_emulator/stock", json={"in_stock": 1}).status_code == 400


def test_sdk_sees_throttling_as_throttling(served: Served, sdk: Any) -> None:
    served.admin("POST", "/_emulator/faults", {"operation": "ListGroups", "kind": "throttle", "count": 1})
    with pytest.raises(ThrottlingException) as exc:
        sdk.list_groups(m.ListGroupsRequest())
    assert exc.value.code == "Throttling.User"
    assert sdk.list_groups(m.ListGroupsRequest()).status_code == 200
    served.admin("DELETE", "/_emulator/faults")


def test_served_drop_breaks_the_connection(served: Served) -> None:
    served.admin("POST", "/_emulator/faults", {"operation": "Predict", "kind": "drop", "count": 1})
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{served.base_url}/api/predict/anything")
    served.admin("DELETE", "/_emulator/faults")


def test_label_deletion_accepts_comma_lists_and_json_arrays(app: Any) -> None:
    client = InProcess(app)
    client.post("/api/v2/services", json={"name": "lab"}, params={"Labels": json.dumps(dict.fromkeys("abcdef", "1"))})
    path = "/api/v2/services/cn-shanghai/lab/label"
    for query in ({"Keys": "a,b"}, {"Keys": '["c"]'}, {"LabelKeys": '["d","e"]'}):
        assert client.request("DELETE", path, params=query).status_code == 200
    labels = client.get("/api/v2/services/cn-shanghai/lab").json()["Labels"]
    assert labels == [{"LabelKey": "f", "LabelValue": "1"}]
    assert client.request("DELETE", path).json()["Code"] == "MissingKeys"


def test_latency_fault_delays_then_answers(app: Any) -> None:
    client = InProcess(app)
    client.post("/_emulator/faults", json={"operation": "*", "kind": "latency", "latency_ms": 1})
    assert client.get("/api/v2/groups").status_code == 200
    assert client.get("/_emulator/faults").json()["Faults"][0]["fired"] == 1


def test_after_faults_apply_the_write_then_lose_the_answer(app: Any) -> None:
    client = InProcess(app)
    client.post("/_emulator/faults", json={"operation": "CreateService", "kind": "error503", "after": True, "count": 1})
    lost = client.post("/api/v2/services", content=json.dumps({"name": "a", "metadata": {"group": "g"}}))
    assert (lost.status_code, lost.json()["Code"]) == (503, "ServiceUnavailable")
    assert client.get(f"/api/v2/services/{REGION}/a").json()["ServiceName"] == "a"  # it was created all the same
    again = client.post("/api/v2/services", content=json.dumps({"name": "a", "metadata": {"group": "g"}}))
    assert (again.status_code, again.json()["Code"]) == (409, "InvalidService.AlreadyExists")
    client.post("/_emulator/faults", json={"operation": "UpdateServiceLabel", "kind": "drop", "after": True})
    with pytest.raises(httpx.RemoteProtocolError):
        client.put(f"/api/v2/services/{REGION}/a/label", json={"Labels": {"team": "ml"}})
    labels = client.get(f"/api/v2/services/{REGION}/a").json()["Labels"]
    assert labels == [{"LabelKey": "team", "LabelValue": "ml"}]
    for bad in ({"kind": "throttle", "after": True}, {"kind": "drop", "after": "yes"}):
        refused = client.post("/_emulator/faults", json={"operation": "ListServices", **bad})
        assert (refused.status_code, refused.json()["Code"]) == (400, "InvalidParameter")
        assert "after" in refused.json()["Message"]


def test_sub_paths_reach_the_member_or_the_group_like_the_bare_path(app: Any, clock: FakeClock) -> None:
    group_of_two(app, clock)
    backend_of(app).create_service({"name": "solo", "metadata": {"instance": 1}}, {})
    clock.advance(5)
    client = InProcess(app)
    direct = client.get("/api/predict/g.small/health")
    assert direct.status_code == 200, direct.text
    assert direct.json() == {"service": "small", "version": 1, "group": "g", "path": "/health"}
    assert client.post("/api/predict/g.big/v1/models/m:predict", content=b"{}").json()["path"] == \
        "/v1/models/m:predict"
    assert spread(client, "/api/predict/g/anything", 40) == {"big": 30, "small": 10}  # weighted, as the bare path
    assert client.get("/api/predict/solo/x").json()["service"] == "solo"  # an ungrouped service
    assert client.get("/api/predict/g.nothing/health").status_code == 404
    assert client.get("/api/predict/nothing/x").status_code == 404
    backend_of(app).release_service(REGION, "big", "standalone", None)
    backend_of(app).release_service(REGION, "small", "standalone", None)
    assert client.get("/api/predict/g/anything").status_code == 503  # black hole, like /api/predict/g
    samples = metric_samples(client.get("/metrics").text)
    requests = "eas_emulator_gateway_requests_total"
    assert metric_value(samples, requests, group="g", service="small", code="200") == 11
    assert metric_value(samples, requests, group="g", service="", code="503") == 1


def test_requests_answered_by_an_injected_fault_are_counted(app: Any, clock: FakeClock) -> None:
    group_of_two(app, clock)
    client = InProcess(app)
    client.post("/_emulator/faults", json={"operation": "Predict", "kind": "error503", "count": 2})
    client.post("/_emulator/faults", json={"operation": "Predict", "kind": "throttle", "count": 1})
    assert [client.get("/api/predict/g/x").status_code for _ in range(4)] == [503, 503, 429, 200]
    client.post("/_emulator/faults", json={"operation": "Predict", "kind": "drop", "count": 1})
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/api/predict/g.big")
    samples = metric_samples(client.get("/metrics").text)
    requests, errors = "eas_emulator_gateway_requests_total", "eas_emulator_gateway_errors_total"
    assert metric_value(samples, requests, group="g", service="", code="503") == 2
    assert metric_value(samples, requests, group="g", service="", code="429") == 1
    assert metric_value(samples, requests, group="g", service="", code="0") == 1
    assert metric_value(samples, errors, group="g", service="") == 2
    assert metric_value(samples, "eas_emulator_gateway_latency_seconds_count", group="g", service="") == 0
