"""Request shapes, paging, parsing and call counting of EasClient (MockTransport)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.eas.errormap import error_class
from reconciler.eas.models import SafetyLock, UpdateType
from reconciler.errors import (
    ApiError,
    AuthError,
    ConfigError,
    ConflictError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)

from .helpers import FakeTime, answer, body_of, error, mock_client

pytestmark = pytest.mark.anyio


class Recorder:
    def __init__(self, reply: Any = None) -> None:
        self.requests: list[httpx.Request] = []
        self.reply = reply

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.reply(request) if callable(self.reply) else answer()

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def raw_path(request: httpx.Request) -> str:
    return request.url.raw_path.decode().partition("?")[0]


async def test_path_segments_are_percent_encoded(fake_time: FakeTime) -> None:
    rec = Recorder(lambda r: answer(200, {"ServiceName": "my svc/x~y"}))
    await mock_client(rec, fake_time).describe_service("my svc/x~y")
    assert raw_path(rec.last) == "/api/v2/services/cn-shanghai/my%20svc%2Fx~y"
    assert rec.last.headers["x-acs-action"] == "DescribeService"
    assert "content-type" not in rec.last.headers


async def test_create_sends_the_raw_compact_config_and_labels_as_json(fake_time: FakeTime) -> None:
    rec = Recorder(lambda r: answer(200, {"ServiceName": "a", "ServiceId": "eas-m-1", "Status": "Creating"}))
    config = {"name": "a", "metadata": {"group": "g", "instance": 2}, "description": "modèle"}
    created = await mock_client(rec, fake_time).create_service(config, labels={"team": "ml"})
    assert rec.last.content == '{"name":"a","metadata":{"group":"g","instance":2},"description":"modèle"}'.encode()
    assert rec.last.headers["content-type"] == "application/json; charset=utf-8"
    assert rec.last.url.params["Labels"] == '{"team":"ml"}'
    assert (rec.last.method, raw_path(rec.last)) == ("POST", "/api/v2/services")
    assert created.service_id == "eas-m-1"


@pytest.mark.parametrize("number", [float("inf"), float("-inf"), float("nan")])
async def test_non_finite_numbers_are_refused_before_the_request_is_sent(fake_time: FakeTime, number: float) -> None:
    rec = Recorder()
    client = mock_client(rec, fake_time)
    with pytest.raises(ConfigError, match="infinity or NaN"):
        await client.create_service({"name": "a", "metadata": {"cpu": number}})
    with pytest.raises(ConfigError, match="infinity or NaN"):
        await client.update_service("a", {"metadata": {"memory": number}})
    assert rec.requests == []


async def test_an_unsendable_url_is_a_transport_error_not_a_traceback(fake_time: FakeTime) -> None:
    rec = Recorder()
    with pytest.raises(TransportError, match="CreateService: the request cannot be sent"):
        await mock_client(rec, fake_time).create_service({"name": "a"}, labels={"owner": "x" * 100_000})
    assert rec.requests == []


async def test_update_sends_a_string_config_verbatim(fake_time: FakeTime) -> None:
    rec = Recorder()
    raw = '{ "metadata": {"instance": 3} }'
    await mock_client(rec, fake_time).update_service("a", raw, update_type=UpdateType.REPLACE)
    assert rec.last.content == raw.encode() and rec.last.url.params["UpdateType"] == "replace"
    assert rec.last.method == "PUT" and raw_path(rec.last) == "/api/v2/services/cn-shanghai/a"


@pytest.mark.parametrize(("call", "method", "path", "body"), [
    (lambda c: c.release_service("a", traffic_state=TrafficState.GROUPING, weight=80), "PUT",
     "/api/v2/services/cn-shanghai/a/release", {"TrafficState": "grouping", "Weight": 80}),
    (lambda c: c.release_service("a", weight=0), "PUT", "/api/v2/services/cn-shanghai/a/release", {"Weight": 0}),
    (lambda c: c.update_service_version("a", 2), "PUT", "/api/v2/services/cn-shanghai/a/version", {"Version": 2}),
    (lambda c: c.start_service("a"), "PUT", "/api/v2/services/cn-shanghai/a/start", None),
    (lambda c: c.stop_service("a"), "PUT", "/api/v2/services/cn-shanghai/a/stop", None),
    (lambda c: c.delete_service("a"), "DELETE", "/api/v2/services/cn-shanghai/a", None),
    (lambda c: c.update_service_label("a", {"k": "v"}), "PUT", "/api/v2/services/cn-shanghai/a/label",
     {"Labels": {"k": "v"}}),
    (lambda c: c.update_service_safety_lock("a", SafetyLock.DANGEROUS), "PUT",
     "/api/v2/services/cn-shanghai/a/lock", {"Lock": "dangerous"}),
    (lambda c: c.create_group("g"), "POST", "/api/v2/groups", {"Name": "g"}),
    (lambda c: c.update_group("g", traffic_mode=TrafficMode.CUSTOMIZED), "PUT", "/api/v2/groups/cn-shanghai/g",
     {"TrafficMode": "customized"}),
])
async def test_write_shapes(fake_time: FakeTime, call: Any, method: str, path: str, body: Any) -> None:
    rec = Recorder()
    client = mock_client(rec, fake_time)
    await call(client)
    assert (rec.last.method, raw_path(rec.last), body_of(rec.last)) == (method, path, body)
    assert client.stats.writes == 1 and client.stats.reads == 0


async def test_query_parameters_of_deletes(fake_time: FakeTime) -> None:
    rec = Recorder()
    client = mock_client(rec, fake_time)
    await client.delete_service_label("a", ["k1", "k2"])
    assert rec.last.url.params["Keys"] == "k1,k2"
    await client.delete_group("g", cascade=True)
    assert rec.last.url.params["CascadeDelete"] == "true"


def _service(i: int) -> dict[str, Any]:
    return {"ServiceName": f"s{i:03d}", "ServiceGroup": "g", "TrafficState": "grouping", "Weight": 1,
            "RunningInstance": 1, "Labels": [{"LabelKey": "team", "LabelValue": "ml"}],
            "ServiceConfig": json.dumps({"name": f"s{i:03d}"}), "SomeFutureField": {"x": 1}}


async def test_list_services_pages_inside_and_passes_filters(fake_time: FakeTime) -> None:
    everything = [_service(i) for i in range(250)]

    def reply(request: httpx.Request) -> httpx.Response:
        number, size = int(request.url.params["PageNumber"]), int(request.url.params["PageSize"])
        page = everything[(number - 1) * size: number * size]
        return answer(200, {"RequestId": "r", "PageNumber": number, "PageSize": size, "TotalCount": 250,
                            "Services": page})

    rec = Recorder(reply)
    client = mock_client(rec, fake_time)
    got = [s async for s in client.list_services(group_name="g", label={"team": "ml"},
                                                 traffic_state=TrafficState.GROUPING, filter="s")]
    assert [s.service_name for s in got] == [f"s{i:03d}" for i in range(250)]
    assert [r.url.params["PageNumber"] for r in rec.requests] == ["1", "2", "3"]
    params = rec.last.url.params
    assert (params["GroupName"], params["Label"], params["TrafficState"], params["Filter"], params["PageSize"]) == (
        "g", '{"team":"ml"}', "grouping", "s", "100")
    assert got[0].labels == {"team": "ml"} and got[0].config == {"name": "s000"}
    assert got[0].traffic is TrafficState.GROUPING
    assert client.stats.round_trips["ListServices"] == 3 and client.stats.reads == 3 and client.stats.writes == 0


async def test_list_groups_and_versions_page(fake_time: FakeTime) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        number = int(request.url.params["PageNumber"])
        if request.headers["x-acs-action"] == "ListGroups":
            groups = [{"Name": f"g{number}{i}", "TrafficMode": "customized"} for i in range(2 if number < 3 else 1)]
            return answer(200, {"TotalCount": 5, "Groups": groups})
        return answer(200, {"TotalCount": 1, "Versions": [{"ImageId": 2, "Message": "ok"}]})

    client = mock_client(Recorder(reply), fake_time)
    groups = [g async for g in client.list_groups(page_size=2)]
    assert [g.name for g in groups] == ["g10", "g11", "g20", "g21", "g30"]
    assert groups[0].mode is TrafficMode.CUSTOMIZED
    assert [v.image_id for v in await client.list_service_versions("a")] == [2]


async def test_describe_group_and_endpoints_parse(fake_time: FakeTime) -> None:
    def reply(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/endpoints"):
            return answer(200, {"Endpoints": [{"EndpointType": "DefaultGateway", "Port": 80,
                                               "InternetEndpoints": ["http://x/api/predict/g"]}]})
        return answer(200, {"Name": "g", "ClusterId": "cn-shanghai", "TrafficMode": "auto"})

    client = mock_client(Recorder(reply), fake_time)
    assert (await client.describe_group("g")).cluster_id == "cn-shanghai"
    endpoints = await client.describe_group_endpoints("g")
    assert endpoints.endpoints[0].internet_endpoints == ["http://x/api/predict/g"]


async def test_describe_service_event_uses_pagenum(fake_time: FakeTime) -> None:
    rec = Recorder(lambda r: answer(200, {"PageNum": 2, "TotalCount": 1, "Events": [{"Type": "Normal"}]}))
    page = await mock_client(rec, fake_time).describe_service_event("a", page_num=2, event_type="Normal")
    assert rec.last.url.params["PageNum"] == "2" and "PageNumber" not in rec.last.url.params
    assert page.events[0].type == "Normal"


@pytest.mark.parametrize("reply", [httpx.Response(200, content=b"<html>"), httpx.Response(200, json=[1]),
                                   httpx.Response(200, json={"ServiceName": "a", "ServiceConfig": "not json"}),
                                   httpx.Response(200, json={"Status": "Running"})])
async def test_malformed_answers_become_api_errors(fake_time: FakeTime, reply: httpx.Response) -> None:
    with pytest.raises(ApiError) as info:
        await mock_client(lambda r: reply, fake_time).describe_service("a")
    assert info.value.code == "InvalidResponse" and info.value.operation == "DescribeService"


@pytest.mark.parametrize(("status", "code", "retry_after", "expected"), [
    (404, "InvalidService.NotFound", False, NotFoundError),
    (404, "InvalidGroup.NotFound", False, NotFoundError),
    (409, "InvalidService.AlreadyExists", False, ConflictError),
    (409, "InvalidOperation.SafetyLock", False, ConflictError),
    (400, "SignatureDoesNotMatch", False, AuthError),
    (404, "InvalidAccessKeyId.NotFound", False, AuthError),
    (400, "InvalidTimeStamp.Expired", False, AuthError),
    (400, "SignatureNonceUsed", False, AuthError),
    (403, "Forbidden.RAM", False, AuthError),
    (400, "Throttling.User", False, ThrottledError),
    (200, "Anything", True, ThrottledError),
    (503, "ServiceUnavailable", False, ServerError),
    (500, "InternalError", False, ServerError),
    (400, "InvalidParameter", False, ApiError),
    (404, "InvalidApi.NotFound", False, ApiError),
])
def test_error_classes(status: int, code: str, retry_after: bool, expected: type[ApiError]) -> None:
    assert error_class(status, code, retry_after) is expected


async def test_error_carries_wire_fields(fake_time: FakeTime) -> None:
    with pytest.raises(NotFoundError) as info:
        await mock_client(lambda r: error(404, "InvalidService.NotFound"), fake_time).describe_service("gone")
    err = info.value
    assert (err.status, err.code, err.message, err.request_id, err.operation) == (
        404, "InvalidService.NotFound", "InvalidService.NotFound happened", "R-err", "DescribeService")
    assert "DescribeService" in str(err) and "R-err" in str(err)
