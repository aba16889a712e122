"""The served emulator is not an open door: signed admin calls, validated bodies, size limits,
stored nonces and the /metrics guard, each refusal tested (in-process and served). Gateway tokens:
test_gateway_tokens.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.admin_api import ADMIN_ACTIONS
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import FakeClock, InProcess, Served, admin_auth, app_with, eas_code, signed_headers

HOST = "testserver"


def signed(method: str, path: str, body: bytes = b"", action: str | None = None, **sign: Any) -> dict[str, str]:
    return signed_headers(method, path, {}, body, HOST, action or ADMIN_ACTIONS[(method, path)], **sign)


def now_of(client: InProcess) -> float:
    now: float = client.get("/_emulator/history").json()["Now"]
    return now


# --- admin endpoints need the signature, checked before the body is read -------------------------

async def asgi_call(app: Any, method: str, path: str, headers: dict[str, str], chunks: Sequence[bytes],
                    client: tuple[str, int] = ("127.0.0.1", 5000)) -> tuple[int, dict[str, Any], int]:
    """One raw ASGI request whose body arrives in `chunks`; (status, JSON answer, chunks the app read)."""
    pending, read = list(chunks), 0

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not pending:
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": pending.pop(0), "more_body": bool(pending)}

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "client": client,
             "server": (HOST, 80), "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    await app(scope, receive, send)
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), read


@pytest.mark.parametrize(("method", "path"), sorted(ADMIN_ACTIONS))
def test_every_admin_endpoint_refuses_an_unsigned_call_without_reading_its_body(method: str, path: str) -> None:
    app = app_with()
    status, body, read = asyncio.run(asgi_call(app, method, path, {"host": HOST}, [b'{"advance": 5}']))
    assert (status, body["Code"], read) == (400, "IncompleteSignature", 0)
    assert now_of(InProcess(app)) == FakeClock().now  # nothing moved


def test_a_signed_admin_call_reads_its_body_and_passes() -> None:
    body = b'{"advance": 5}'
    status, answer, read = asyncio.run(asgi_call(app_with(), "POST", "/_emulator/clock",
                                                 signed("POST", "/_emulator/clock", body), [body]))
    assert (status, answer["Now"], read) == (200, FakeClock().now + 5, 1)


@pytest.mark.parametrize(("sign", "expected"), [
    ({"secret": "not-the-secret"}, (400, "SignatureDoesNotMatch")),
    ({"key_id": "LTAI5tSomeoneElse"}, (400, "InvalidAccessKeyId.NotFound")),
    ({"action": "EmulatorSetStock"}, (404, "InvalidApi.NotFound")),  # signed for another admin operation
    ({"action": "ListServices"}, (404, "InvalidApi.NotFound")),
    ({"date": "2001-01-01T00:00:00Z"}, (400, "InvalidTimeStamp.Expired")),
])
def test_badly_signed_admin_calls_are_refused_like_management_calls(sign: dict[str, Any],
                                                                    expected: tuple[int, str]) -> None:
    client = InProcess(app_with())
    body = b'{"advance": 5}'
    headers = signed("POST", "/_emulator/clock", body, **sign)
    assert eas_code(client.post("/_emulator/clock", content=body, headers=headers, auth=None)) == expected
    assert now_of(client) == FakeClock().now


def test_an_admin_body_that_differs_from_the_signed_hash_is_refused() -> None:
    client = InProcess(app_with())
    headers = signed("POST", "/_emulator/clock", b'{"advance": 5}')
    refused = client.post("/_emulator/clock", content=b'{"advance": 9}', headers=headers, auth=None)
    assert eas_code(refused) == (400, "SignatureDoesNotMatch") and "x-acs-content-sha256" in refused.json()["Message"]
    assert now_of(client) == FakeClock().now


def test_served_admin_endpoints_refuse_unsigned_calls(served: Served) -> None:
    for (method, path), action in sorted(ADMIN_ACTIONS.items()):
        refused = httpx.request(method, f"{served.base_url}{path}", json={"advance": 1}, timeout=10)
        assert eas_code(refused) == (400, "IncompleteSignature"), action
    assert served.admin("GET", "/_emulator/faults") == {"Faults": []}  # the same calls, signed, pass


@pytest.mark.parametrize(("method", "path"), [("PUT", "/_emulator/clock"), ("DELETE", "/_emulator/history"),
                                            ("GET", "/_emulator/stock")])
def test_another_method_on_an_admin_path_is_a_json_404(method: str, path: str) -> None:
    refused = InProcess(app_with()).request(method, path, auth=None)
    assert eas_code(refused) == (404, "InvalidApi.NotFound")


def test_admin_calls_stay_open_when_signatures_are_off() -> None:
    client = InProcess(app_with(verify_signatures=False))
    assert client.post("/_emulator/clock", json={"advance": 2}, auth=None).json()["Now"] == FakeClock().now + 2


# --- admin bodies: standard JSON objects, finite bounded numbers, known keys --------------------

@pytest.mark.parametrize(("path", "raw", "message"), [
    ("/_emulator/clock", b'{"advance": NaN}', "not valid JSON"),
    ("/_emulator/clock", b'{"advance": Infinity}', "not valid JSON"),
    ("/_emulator/clock", b'{"advance": -Infinity}', "not valid JSON"),
    ("/_emulator/clock", b'{"advance": 1e400}', "finite number"),  # parses to inf: refused as a number
    ("/_emulator/clock", b'{"advance": -1}', "greater than or equal to 0"),
    ("/_emulator/clock", b'{"advance": 40000000}', "at most"),  # over a year in one step
    ("/_emulator/clock", b'{"advance": "5"}', "valid number"),
    ("/_emulator/clock", b'{"advance": true}', "valid number"),
    ("/_emulator/clock", b'{"advanse": 5}', "Extra inputs"),
    ("/_emulator/clock", b"advance=5", "not valid JSON"),
    ("/_emulator/clock", b"[5]", "JSON object"),
    ("/_emulator/clock", b"\xff\xfe", "not valid JSON"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "latency", "latency_ms": 1e400}', "finite number"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "latency", "latency_ms": 1e9}', "less than or equal"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "throttle", "rate": NaN}', "not valid JSON"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "throttle", "rate": 1.5}', "less than or equal to 1"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "throttle", "count": -1}', "greater than or equal to 0"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "throttle", "retry_after_ms": 1e12}', "valid integer"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "bogus"}', "kind"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "drop", "after": "yes"}', "valid boolean"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "throttle", "after": true}', "after is true only"),
    ("/_emulator/faults", b'{"operation": "*", "kind": "drop", "oops": 1}', "Extra inputs"),
    ("/_emulator/stock", b'{"instance_type": "gpu", "in_stock": 1}', "valid boolean"),
    ("/_emulator/stock", b'{"instance_type": "", "in_stock": true}', "at least 1 character"),
    ("/_emulator/capacity", b'{"resource": "eas-r-1", "instances": -1}', "greater than or equal to 0"),
    ("/_emulator/capacity", b'{"resource": "eas-r-1", "instances": 2.5}', "valid integer"),
    ("/_emulator/capacity", b'{"resource": "eas-r-1", "instances": 10000000000}', "less than or equal"),
    ("/_emulator/capacity", b'{"resource": "eas-r-1"}', "Field required"),
])
def test_bad_admin_bodies_are_refused_and_change_nothing(path: str, raw: bytes, message: str) -> None:
    app = app_with()
    client = InProcess(app)
    before = client.get("/_emulator/history").json()
    refused = client.post(path, content=raw, headers={"content-type": "application/json"})
    assert eas_code(refused) == (400, "InvalidParameter") and message in refused.json()["Message"], refused.text
    assert client.get("/_emulator/history").json() == before
    assert client.get("/_emulator/faults").json() == {"Faults": []}


def test_a_served_nan_clock_is_refused_and_the_state_stays_readable(served: Served) -> None:
    before = served.admin("GET", "/_emulator/history")["Now"]
    raw = b'{"advance": NaN}'
    headers = signed_headers("POST", "/_emulator/clock", {}, raw, served.base_url.removeprefix("http://"),
                             ADMIN_ACTIONS[("POST", "/_emulator/clock")])
    refused = httpx.post(f"{served.base_url}/_emulator/clock", content=raw, headers=headers, timeout=10)
    assert eas_code(refused) == (400, "InvalidParameter")
    assert served.admin("GET", "/_emulator/history")["Now"] == before


def test_valid_admin_bodies_take_effect() -> None:
    client = InProcess(app_with())
    year = 366 * 86_400  # the largest step
    assert client.post("/_emulator/clock", json={"advance": year}).json()["Now"] == FakeClock().now + year
    fault = client.post("/_emulator/faults", json={"operation": "Predict", "kind": "latency", "latency_ms": 600_000,
                                                   "rate": 0, "count": 0})
    assert fault.json()["Faults"][0]["latency_ms"] == 600_000
    assert client.post("/_emulator/capacity", json={"resource": "r", "instances": None}).status_code == 200
    assert client.post("/_emulator/stock", json={"instance_type": "t", "in_stock": False}).status_code == 200


# --- body size limit (management and admin) ----------------------------------------------------

def test_oversize_bodies_are_refused_by_content_length_before_reading() -> None:
    app = app_with(max_body_bytes=100)
    body = json.dumps({"name": "big", "metadata": {"instance": 1}, "pad": "x" * 200}).encode()
    for method, path, action in [("POST", "/api/v2/services", "CreateService"),
                                 ("POST", "/_emulator/faults", ADMIN_ACTIONS[("POST", "/_emulator/faults")])]:
        headers = {**signed(method, path, body, action=action), "content-length": str(len(body))}
        status, answer, read = asyncio.run(asgi_call(app, method, path, headers, [body]))
        assert (status, answer["Code"], read) == (413, "RequestEntityTooLarge", 0)
        assert answer["RequestId"] and "100 bytes" in answer["Message"]
    assert app.state.emulator.backend.route("big").kind == "none"  # nothing was created


def test_a_streamed_body_is_cut_at_the_limit() -> None:
    app = app_with(max_body_bytes=100)
    chunks = [b'{"name": "s", "pad": "', *([b"x" * 40] * 10), b'"}']
    body = b"".join(chunks)
    headers = signed("POST", "/api/v2/services", body, action="CreateService")  # no content-length: chunked
    status, answer, read = asyncio.run(asgi_call(app, "POST", "/api/v2/services", headers, chunks))
    assert (status, answer["Code"]) == (413, "RequestEntityTooLarge")
    assert read < len(chunks)  # it stopped reading once past the limit


def test_a_body_at_the_limit_passes() -> None:
    body = json.dumps({"name": "fits", "metadata": {"instance": 1}}).encode()
    app = app_with(max_body_bytes=len(body))
    headers = signed("POST", "/api/v2/services", body, action="CreateService")
    assert InProcess(app).post("/api/v2/services", content=body, headers=headers, auth=None).status_code == 200


def test_served_oversize_management_body_is_413(served: Served) -> None:
    body = b'{"name": "huge", "pad": "' + b"x" * 1_100_000 + b'"}'
    headers = signed_headers("POST", "/api/v2/services", {}, body, served.base_url.removeprefix("http://"),
                             "CreateService")
    refused = httpx.post(f"{served.base_url}/api/v2/services", content=body, headers=headers, timeout=10)
    assert eas_code(refused) == (413, "RequestEntityTooLarge")


# --- nonces survive a restart ---------------------------------------------------------------------

def test_a_nonce_replayed_after_a_restart_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    headers = signed_headers("GET", "/api/v2/services", {}, b"", HOST, "ListServices", nonce=uuid.uuid4().hex)
    first = create_app(EmulatorSettings(state_path=state))
    assert InProcess(first).get("/api/v2/services", headers=headers, auth=None).status_code == 200
    first.state.emulator.store.close()
    restarted = create_app(EmulatorSettings(state_path=state))
    replay = InProcess(restarted).get("/api/v2/services", headers=headers, auth=None)
    assert eas_code(replay) == (400, "SignatureNonceUsed")
    admin = signed("GET", "/_emulator/faults", nonce=headers["x-acs-signature-nonce"])  # same key, same nonce
    assert eas_code(InProcess(restarted).get("/_emulator/faults", headers=admin, auth=None)) == \
        (400, "SignatureNonceUsed")
    restarted.state.emulator.store.close()


def test_nonces_are_forgotten_after_the_window_and_kept_per_access_key(tmp_path: Path) -> None:
    store = Store(tmp_path / "n.db")
    assert store.use_nonce("ak", "n1", 1000.0, 900.0)
    assert not store.use_nonce("ak", "n1", 1900.0, 900.0)  # still inside the window
    assert store.use_nonce("other", "n1", 1900.0, 900.0)  # another access key
    assert store.use_nonce("ak", "n1", 1900.5, 900.0)  # seen at 1000: forgotten after 900 s
    store.close()
    reopened = Store(tmp_path / "n.db")
    assert not reopened.use_nonce("ak", "n1", 1901.0, 900.0)
    reopened.close()


# --- /metrics ---------------------------------------------------------------------------------------

def metrics(app: Any, client_host: str, headers: dict[str, str] | None = None) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app, client=(client_host, 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return (await http.get("/metrics", headers=headers)).status_code
    return asyncio.run(go())


def test_metrics_are_open_to_loopback_only_without_a_token() -> None:
    app = app_with()
    assert metrics(app, "127.0.0.1") == 200 and metrics(app, "::1") == 200
    assert metrics(app, "10.1.2.3") == 401 and metrics(app, "unknown") == 401


def test_metrics_want_the_bearer_token_when_one_is_set() -> None:
    app = app_with(metrics_token="scrape-me")
    assert metrics(app, "10.1.2.3", {"Authorization": "Bearer scrape-me"}) == 200
    for headers in (None, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"},
                    {"Authorization": "Basic scrape-me"}):
        assert metrics(app, "10.1.2.3", headers) == 401
        assert metrics(app, "127.0.0.1", headers) == 401  # a token closes loopback too


def test_admin_refusals_are_counted_in_metrics() -> None:
    client = InProcess(app_with())
    client.post("/_emulator/clock", content=b'{"advance": NaN}')
    client.post("/_emulator/clock", json={"advance": 1}, auth=None)
    text = client.get("/metrics").text
    assert 'action="EmulatorAdvanceClock",code="400"' in text


def test_admin_auth_signs_only_admin_paths() -> None:
    request = httpx.Request("POST", "http://h/api/predict/g", content=b"{}", headers={"Authorization": "tok"})
    flow = admin_auth().sync_auth_flow(request)
    assert next(flow).headers["Authorization"] == "tok"
    admin = next(admin_auth().sync_auth_flow(httpx.Request("POST", "http://h/_emulator/clock", content=b"{}")))
    assert admin.headers["x-acs-action"] == "EmulatorAdvanceClock"
    assert admin.headers["Authorization"].startswith("ACS3-HMAC-SHA256 ")
