"""The emulator's CloudMonitor: DescribeMetricList over what the gateway routed, and synthetic load."""

from __future__ import annotations

import json
from typing import Any

import pytest
from emulator.helpers import FakeClock, InProcess
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .conftest import clock_of, make_group


@pytest.fixture
def app() -> Any:
    return create_app(EmulatorSettings(clock=FakeClock(), verify_signatures=False))


def describe(client: InProcess, **params: Any) -> Any:
    query = {"Namespace": "acs_learn", **{k: str(v) for k, v in params.items()}}
    return client.post("/", params=query, headers={"x-acs-action": "DescribeMetricList"})


def points(client: InProcess, **params: Any) -> list[dict[str, Any]]:
    response = describe(client, **params)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["Success"] is True and body["Code"] == "200"
    return list(json.loads(body["Datapoints"]))


def load(client: InProcess, group: str, requests: int, seconds: float) -> Any:
    response = client.post("/_emulator/load", json={"group": group, "requests": requests, "seconds": seconds})
    assert response.status_code == 200, response.text
    return response.json()


def test_synthetic_load_is_routed_by_weight_and_labels(app: Any) -> None:
    make_group(app, "g", {"prod": (3, {}), "grey": (1, {"emulator/error-rate": "0.5", "emulator/latency-ms": "200"})})
    client = InProcess(app)
    before = client.post("/_emulator/clock", json={"advance": 60 - clock_of(app)() % 60}).json()["Now"]  # aligned
    answer = load(client, "g", 800, 60)
    assert answer["Now"] == pytest.approx(before + 60)  # the traffic took its time on the emulated clock
    assert answer["Served"]["prod"] == {"requests": 600, "errors": 0}  # 3:1 by running instances
    errors = answer["Served"]["grey"]["errors"]
    assert answer["Served"]["grey"]["requests"] == 200 and 70 < errors < 130 and answer["Unanswered"] == 0
    window = {"StartTime": int(before * 1000) - 1, "EndTime": int(answer["Now"] * 1000)}
    per_second = points(client, MetricName="qps_total", Period=1, **window)
    counted = {name: sum(p["Average"] for p in per_second if p["serviceName"] == name) for name in ("prod", "grey")}
    assert counted == {"prod": pytest.approx(600), "grey": pytest.approx(200)}
    fives = points(client, MetricName="rps_status_5xx", Period=1, Dimensions='[{"serviceName":"grey"}]', **window)
    assert sum(p["Value"] for p in fives) == pytest.approx(errors)
    ratio = points(client, MetricName="rps_status_5xx_ratio", Period=60, Dimensions='[{"serviceName":"grey"}]',
                   **window)
    assert all(p["serviceName"] == "grey" and p["userId"] for p in ratio)
    assert set(ratio[0]) == {"timestamp", "userId", "serviceName", "Average", "Minimum", "Maximum", "Value"}
    requests = {p["timestamp"]: p["Average"] * 60 for p in points(
        client, MetricName="qps_total", Period=60, Dimensions='{"serviceName":"grey"}', **window)}
    assert sum(p["Average"] / 100 * requests[p["timestamp"]] for p in ratio) == pytest.approx(errors)
    rt = points(client, MetricName="rt", Period=60, Dimensions='{"serviceName":"grey"}', **window)
    assert [p["Average"] for p in rt] == [pytest.approx(200_000.0)]  # microseconds
    assert set(rt[0]) == {"timestamp", "userId", "serviceName", "Average", "Minimum", "Maximum"}
    prod_rt = points(client, MetricName="rt", Period=60, Dimensions='{"serviceName":"prod"}', **window)
    assert [p["Average"] for p in prod_rt] == [0.0]


def test_datapoints_per_period_and_window_edges(app: Any) -> None:
    make_group(app, "g", {"solo": (1, {"emulator/error-rate": "1"})})
    client = InProcess(app)
    now = client.post("/_emulator/clock", json={"advance": 60 - clock_of(app)() % 60}).json()["Now"]  # aligned
    load(client, "g", 120, 120)  # one request per second for two minutes
    start_ms = int(now * 1000)
    minute = points(client, MetricName="qps_total", Period=60, StartTime=start_ms - 1, EndTime=start_ms + 120_000)
    assert [(p["timestamp"] - start_ms, p["Average"], p["Maximum"]) for p in minute] == [
        (0, 1.0, 1.0), (60_000, 1.0, 1.0)]
    # StartTime is exclusive: a datapoint stamped exactly at StartTime is left out
    assert len(points(client, MetricName="qps_total", Period=60, StartTime=start_ms,
                      EndTime=start_ms + 120_000)) == 1
    seconds = points(client, MetricName="rps_status_5xx", Period=1, StartTime=start_ms - 1,
                     EndTime=start_ms + 119_000)
    assert len(seconds) == 120 and {p["Value"] for p in seconds} == {1.0}
    ratio = points(client, MetricName="rps_status_5xx_ratio", Period=120, StartTime=start_ms - 1,
                   EndTime=start_ms + 120_000)
    assert [(p["Average"], p["Maximum"], p["Minimum"]) for p in ratio] == [(100.0, 100.0, 100.0)]
    page = describe(client, MetricName="qps_total", Period=1, StartTime=start_ms - 1, EndTime=start_ms + 119_000,
                    Length=100).json()
    assert len(json.loads(page["Datapoints"])) == 100 and page["NextToken"] == "100"
    rest = describe(client, MetricName="qps_total", Period=1, StartTime=start_ms - 1, EndTime=start_ms + 119_000,
                    Length=100, NextToken=page["NextToken"]).json()
    assert len(json.loads(rest["Datapoints"])) == 20 and "NextToken" not in rest


def test_real_gateway_requests_are_recorded(app: Any) -> None:
    make_group(app, "g", {"a": (1, {}), "b": (1, {"emulator/error-rate": "1"})})
    client = InProcess(app)
    now = client.post("/_emulator/clock", json={"advance": 0}).json()["Now"]
    statuses = [client.post("/api/predict/g", content=b"{}").status_code for _ in range(10)]
    direct = [client.post("/api/predict/g.b", content=b"{}").status_code for _ in range(2)]
    assert sorted(statuses) == [200] * 5 + [500] * 5 and direct == [500, 500]
    window = {"Period": 60, "StartTime": int(now * 1000) - 60_000, "EndTime": int(now * 1000) + 60_000}
    qps = {p["serviceName"]: p["Average"] * 60 for p in points(client, MetricName="qps_total", **window)}
    assert qps == {"a": pytest.approx(5), "b": pytest.approx(7)}
    ratio = {p["serviceName"]: p["Average"] for p in points(client, MetricName="rps_status_5xx_ratio", **window)}
    assert ratio == {"a": 0.0, "b": 100.0}


def test_black_hole_load_is_unanswered_and_unknown_names_refused(app: Any) -> None:
    make_group(app, "g", {"a": (1, {})})
    client = InProcess(app)
    app.state.emulator.backend.release_service("cn-shanghai", "a", "standalone", None)
    assert load(client, "g", 10, 5)["Unanswered"] == 10
    refused = client.post("/_emulator/load", json={"group": "nothing", "requests": 1, "seconds": 1})
    assert (refused.status_code, refused.json()["Code"]) == (400, "InvalidParameter")
    for bad in ({"group": "g"}, {"group": "g", "requests": -1}, {"group": "g", "requests": 1, "seconds": 0},
                {"group": "g", "requests": True}, {"group": "g", "requests": 20_001},
                {"group": "g", "requests": 1_000_000}):
        assert client.post("/_emulator/load", json=bad).status_code == 400


@pytest.mark.parametrize(("params", "message"), [
    ({"MetricName": "qps_total", "Namespace": "acs_ecs_dashboard"}, "Namespace acs_ecs_dashboard"),
    ({"MetricName": "rt_p99"}, "MetricName rt_p99"),
    ({"Namespace": "acs_learn"}, "MetricName"),
    ({"MetricName": "rt", "Period": "0"}, "positive multiple of 1 seconds"),
    ({"MetricName": "rt", "Period": "abc"}, "Period must be an integer"),
    ({"MetricName": "rt", "StartTime": "yesterday"}, "StartTime 'yesterday'"),
    ({"MetricName": "rt", "StartTime": "2000", "EndTime": "1000"}, "before EndTime"),
    ({"MetricName": "rt", "Dimensions": "serviceName=a"}, "Dimensions must be JSON"),
    ({"MetricName": "rt", "Length": "5000"}, "Length must be"),
])
def test_bad_parameters(app: Any, params: dict[str, str], message: str) -> None:
    response = describe(InProcess(app), **params)
    assert response.status_code == 400 and message in response.json()["Message"]


def test_base_period_setting(app: Any) -> None:
    client = InProcess(app)
    assert client.get("/_emulator/cloudmonitor").json()["BasePeriod"] == 1
    assert describe(client, MetricName="rt", Period=4).status_code == 200
    assert client.post("/_emulator/cloudmonitor", json={"base_period": 60}).json()["BasePeriod"] == 60
    refused = describe(client, MetricName="rt", Period=4)
    assert refused.status_code == 400 and "multiple of 60 seconds" in refused.json()["Message"]
    assert describe(client, MetricName="rt", Period=300).status_code == 200
    assert client.post("/_emulator/cloudmonitor", json={"base_period": 0}).status_code == 400


def test_other_actions_on_root_stay_unknown(app: Any) -> None:
    client = InProcess(app)
    response = client.post("/", headers={"x-acs-action": "DescribeMetricLast"})
    assert (response.status_code, response.json()["Code"]) == (404, "InvalidApi.NotFound")
    by_query = client.get("/", params={"Action": "DescribeMetricList", "Namespace": "acs_learn",
                                       "MetricName": "qps_total"})
    assert by_query.status_code == 200


def test_time_formats() -> None:
    from reconciler.emulator.cloudmonitor import parse_time

    assert parse_time("1700000000000", "StartTime") == 1_700_000_000.0
    assert parse_time("2023-11-14 22:13:20", "StartTime") == 1_700_000_000.0
    assert parse_time("2023-11-14T22:13:20Z", "StartTime") == 1_700_000_000.0


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=9), min_size=1, max_size=4), st.integers(1, 5),
       st.integers(1, 90))
def test_synthetic_load_splits_exactly_by_weight(weights: list[int], rounds: int, seconds: int) -> None:
    """Customized weights w: over rounds x sum(w) requests each member serves exactly rounds x w, and
    CloudMonitor's per-second qps adds up to the same counts."""
    app = create_app(EmulatorSettings(clock=FakeClock(), verify_signatures=False))
    members = {f"m{i}": (1, {}) for i in range(len(weights))}
    make_group(app, "w", members)
    backend = app.state.emulator.backend
    backend.update_group("cn-shanghai", "w", "customized", None, None)
    for i, weight in enumerate(weights):
        backend.release_service("cn-shanghai", f"m{i}", None, weight)
    client = InProcess(app)
    start = client.post("/_emulator/clock", json={"advance": 0}).json()["Now"]
    total = rounds * sum(weights)
    answer = load(client, "w", total, seconds)
    expected = {f"m{i}": rounds * w for i, w in enumerate(weights) if w}
    assert {name: tally["requests"] for name, tally in answer["Served"].items()} == expected
    assert answer["Unanswered"] == (total if not sum(weights) else 0)
    qps = points(client, MetricName="qps_total", Period=1, StartTime=int(start * 1000) - 1000,
                 EndTime=int(answer["Now"] * 1000))
    counted: dict[str, float] = {}
    for point in qps:
        counted[point["serviceName"]] = counted.get(point["serviceName"], 0) + point["Average"]
    assert counted == pytest.approx(expected)


def test_management_signature_version_is_refused_for_cloudmonitor() -> None:
    """CloudMonitor calls are verified for version 2019-01-01: an EAS-versioned signature is refused."""
    from emulator.helpers import signed_headers

    app = create_app(EmulatorSettings(clock=FakeClock()))
    query = {"Namespace": "acs_learn", "MetricName": "rt"}
    headers = signed_headers("POST", "/", query, b"", "testserver", "DescribeMetricList")
    response = InProcess(app).post("/", params=query, headers=headers)
    assert (response.status_code, response.json()["Code"]) == (400, "InvalidVersion")
    unsigned = InProcess(app).post("/", params=query, headers={"x-acs-action": "DescribeMetricList"})
    assert unsigned.json()["Code"] == "IncompleteSignature"


def test_usage_keeps_only_the_retention_window() -> None:
    from reconciler.emulator.usage import Usage

    now = [1000.0]
    usage = Usage(lambda: now[0], retention=60)
    usage.record("a", 200, 0.1)
    usage.record("a", 503, 0.3, at=1000.5)
    now[0] = 1059.0
    usage.record("a", 404, 0.2)
    counts = dict(usage.seconds("a", 0, 2000))
    assert sorted(counts) == [1000, 1059]
    first = counts[1000]
    assert (first.requests, first.status_2xx, first.status_5xx, first.latency_max, first.latency_min) == (
        2, 1, 1, 0.3, 0.1)
    now[0] = 1061.0
    usage.record("b", 200, 0.0)
    assert sorted(s for s, _ in usage.seconds("a", 0, 2000)) == [1059]  # 1000 is older than 60 s
    assert usage.services() == ["a", "b"]


def test_a_period_is_whole_whatever_the_end_time(app: Any) -> None:
    make_group(app, "g", {"solo": (1, {})})
    client = InProcess(app)
    now = client.post("/_emulator/clock", json={"advance": 60 - clock_of(app)() % 60}).json()["Now"]
    load(client, "g", 60, 60)
    start_ms = int(now * 1000)
    for end_ms in (start_ms, start_ms + 1, start_ms + 30_000, start_ms + 59_999):
        minute = points(client, MetricName="qps_total", Period=60, StartTime=start_ms - 1, EndTime=end_ms)
        assert [(p["timestamp"], p["Average"]) for p in minute] == [(start_ms, 1.0)]
