"""Retries above the signer, backoff, throttling, rate limit and retry-safe writes (MockTransport, fake time)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping

import httpx
import pytest

from reconciler.eas.models import UpdateType
from reconciler.errors import ConflictError, NotFoundError, ServerError, ThrottledError, TransportError

from .helpers import FakeTime, answer, error, mock_client

pytestmark = pytest.mark.anyio


class Script:
    """Answers requests from a list (responses or exceptions to raise), recording every request."""

    def __init__(self, *steps: httpx.Response | Exception) -> None:
        self.steps: Iterator[httpx.Response | Exception] = iter(steps)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        step = next(self.steps)
        if isinstance(step, Exception):
            raise step
        return step

    def nonces(self) -> list[str]:
        return [r.headers["x-acs-signature-nonce"] for r in self.requests]


async def test_throttling_honours_retry_after_and_resigns(fake_time: FakeTime) -> None:
    script = Script(error(429, "Throttling.User", {"x-acs-retry-after": "3000"}),
                    error(400, "Throttling", {"x-acs-retry-after": "2000"}), answer())
    client = mock_client(script, fake_time)
    await client.release_service("foo", weight=40)
    assert fake_time.sleeps == [3.0, 2.0]
    assert len(set(script.nonces())) == 3
    assert len({r.headers["authorization"] for r in script.requests}) == 3
    assert client.stats.round_trips["ReleaseService"] == 3 and client.stats.calls["ReleaseService"] == 1


async def test_retry_after_is_capped_and_unit_is_a_setting(fake_time: FakeTime) -> None:
    # Milliseconds by default (as the SDK), capped; the unit is a setting.
    script = Script(error(429, "Throttling.User", {"x-acs-retry-after": "50000"}), answer(),
                    error(429, "Throttling.User", {"x-acs-retry-after": "5"}), answer())
    await mock_client(script, fake_time, max_retry_after=30).release_service("foo", weight=1)
    await mock_client(script, fake_time, retry_after_unit=1.0).release_service("foo", weight=1)
    assert fake_time.sleeps == [30.0, 5.0]


async def test_throttling_retries_even_unsafe_writes(fake_time: FakeTime) -> None:
    script = Script(error(429, "Throttling.User", {"x-acs-retry-after": "1"}), answer())
    await mock_client(script, fake_time).update_service("foo", {"metadata": {"instance": 2}})
    assert len(script.requests) == 2


async def test_5xx_and_drops_retried_for_idempotent_with_jittered_backoff(fake_time: FakeTime) -> None:
    script = Script(error(503, "ServiceUnavailable"), httpx.RemoteProtocolError("dropped"),
                    httpx.ReadTimeout("slow"), error(500, "InternalError"), answer())
    client = mock_client(script, fake_time, base=1.0, cap=4.0)
    await client.release_service("foo", traffic_state="grouping")
    assert len(script.requests) == 5 and len(set(script.nonces())) == 5
    bounds = [(0.5, 1.0), (1.0, 2.0), (2.0, 4.0), (2.0, 4.0)]
    assert all(lo <= s <= hi for s, (lo, hi) in zip(fake_time.sleeps, bounds, strict=True)), fake_time.sleeps
    assert client.stats.retries == 4


async def test_attempts_are_bounded(fake_time: FakeTime) -> None:
    script = Script(*(error(503, "ServiceUnavailable") for _ in range(3)))
    with pytest.raises(ServerError) as info:
        await mock_client(script, fake_time, attempts=3).describe_group("g")
    assert len(script.requests) == 3
    err = info.value
    assert (err.status, err.code, err.request_id, err.operation) == (503, "ServiceUnavailable", "R-err",
                                                                     "DescribeGroup")


@pytest.mark.parametrize("failure", [error(503, "ServiceUnavailable"), httpx.RemoteProtocolError("dropped"),
                                     httpx.ReadTimeout("slow")])
async def test_unsafe_write_not_retried_after_unknown_outcome(fake_time: FakeTime,
                                                             failure: httpx.Response | Exception) -> None:
    script = Script(failure, answer())
    with pytest.raises(ServerError if isinstance(failure, httpx.Response) else TransportError):
        await mock_client(script, fake_time).update_service("foo", {"a": 1}, update_type=UpdateType.REPLACE)
    assert len(script.requests) == 1 and fake_time.sleeps == []


async def test_connect_failure_is_retried_for_any_call(fake_time: FakeTime) -> None:
    script = Script(httpx.ConnectError("refused"), answer())
    client = mock_client(script, fake_time)
    await client.update_service_version("foo", 2)
    assert len(script.requests) == 2
    assert client.stats.round_trips["UpdateServiceVersion"] == 1  # the refused attempt never left


CONFIG = {"name": "pmml_grey", "metadata": {"group": "pmml", "instance": 1, "cpu": 1, "memory": 1000}}


def _described(config: Mapping[str, object], status: str = "Creating") -> httpx.Response:
    live = {**config, "token": "platform-default"}
    return answer(200, {"ServiceName": "pmml_grey", "ServiceId": "eas-m-1", "Status": status,
                        "ServiceConfig": json.dumps(live)})


async def test_create_already_exists_after_lost_answer_same_config_is_success(fake_time: FakeTime) -> None:
    script = Script(httpx.RemoteProtocolError("dropped"), error(409, "InvalidService.AlreadyExists"),
                    _described(CONFIG))
    created = await mock_client(script, fake_time).create_service(CONFIG)
    assert created.service_name == "pmml_grey" and created.service_id == "eas-m-1"
    assert [r.headers["x-acs-action"] for r in script.requests] == ["CreateService", "CreateService",
                                                                     "DescribeService"]


async def test_create_already_exists_after_lost_answer_other_config_conflicts(fake_time: FakeTime) -> None:
    other = {**CONFIG, "metadata": {**CONFIG["metadata"], "instance": 3}}  # type: ignore[dict-item]
    script = Script(error(503, "ServiceUnavailable"), error(409, "InvalidService.AlreadyExists"), _described(other))
    with pytest.raises(ConflictError, match="different config"):
        await mock_client(script, fake_time).create_service(CONFIG)


async def test_create_already_exists_on_first_attempt_is_a_conflict(fake_time: FakeTime) -> None:
    script = Script(error(409, "InvalidService.AlreadyExists"))
    with pytest.raises(ConflictError):
        await mock_client(script, fake_time).create_service(CONFIG)
    assert len(script.requests) == 1


async def test_delete_not_found_after_lost_answer_is_success(fake_time: FakeTime) -> None:
    script = Script(error(500, "InternalError"), error(404, "InvalidService.NotFound"))
    assert (await mock_client(script, fake_time).delete_service("foo")).message == "already deleted"
    assert [r.headers["x-acs-action"] for r in script.requests] == ["DeleteService", "DeleteService"]
    with pytest.raises(NotFoundError):
        await mock_client(Script(error(404, "InvalidService.NotFound")), fake_time).delete_service("foo")


async def test_rate_limit_spaces_calls(fake_time: FakeTime) -> None:
    client = mock_client(lambda r: answer(200, {"Name": "g"}), fake_time, rate_limit=20, burst=20)
    for _ in range(50):
        await client.describe_group("g")
    assert sum(fake_time.sleeps) == pytest.approx(30 / 20)
    assert fake_time.now - 1000.0 == pytest.approx(1.5)


async def test_rate_limit_refills_with_the_clock(fake_time: FakeTime) -> None:
    client = mock_client(lambda r: answer(200, {"Name": "g"}), fake_time, rate_limit=5, burst=5)
    for _ in range(5):
        await client.describe_group("g")
    fake_time.now += 1.0  # a second passes outside the client: 5 tokens back
    for _ in range(5):
        await client.describe_group("g")
    assert fake_time.sleeps == []
    await client.describe_group("g")
    assert fake_time.sleeps == [pytest.approx(0.2)]


async def test_throttled_error_surfaces_when_attempts_run_out(fake_time: FakeTime) -> None:
    script = Script(error(429, "Throttling.User", {"x-acs-retry-after": "1"}),
                    error(429, "Throttling.User", {"x-acs-retry-after": "1"}))
    with pytest.raises(ThrottledError) as info:
        await mock_client(script, fake_time, attempts=2).describe_service("foo")
    assert info.value.retry_after == 1.0


async def test_delete_refused_while_deleting_after_lost_answer_is_success(fake_time: FakeTime) -> None:
    """The repeat of an applied DeleteService may be refused because the service is already Deleting."""
    script = Script(error(503, "ServiceUnavailable"), error(409, "InvalidOperation.ServiceStatus"),
                    _described(CONFIG, "Deleting"))
    assert (await mock_client(script, fake_time).delete_service("pmml_grey")).message == "already requested"
    running = Script(error(503, "ServiceUnavailable"), error(409, "InvalidOperation.ServiceStatus"),
                     _described(CONFIG, "Running"))
    with pytest.raises(ConflictError):
        await mock_client(running, fake_time).delete_service("pmml_grey")
