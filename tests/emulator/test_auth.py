"""Signature verification: each rejection with its documented code, in-process."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from reconciler.eas import signing
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings, StsCredential

from .helpers import FakeClock, InProcess, signed_headers

HOST = "testserver"
WALL = 1_763_700_000.0  # the verifier's wall clock in these tests
STS = StsCredential(secret="sts-secret", token="sts-token", expiry=WALL + 3600)


def _date(offset: float = 0) -> str:
    return (datetime.fromtimestamp(WALL, UTC) + timedelta(seconds=offset)).strftime(signing.DATE_FORMAT)


@pytest.fixture
def client() -> InProcess:
    settings = EmulatorSettings(clock=FakeClock(), auth_clock=lambda: WALL, sts_credentials={"STS.k": STS})
    return InProcess(create_app(settings))


def send(client: InProcess, method: str = "GET", path: str = "/api/v2/services", action: str = "ListServices",
         query: dict[str, str] | None = None, body: Any = None, tamper: dict[str, str] | None = None,
         drop: tuple[str, ...] = (), **sign: Any) -> httpx.Response:
    data = b"" if body is None else json.dumps(body).encode()
    sign.setdefault("date", _date())
    headers = signed_headers(method, path, query or {}, data, HOST, action, **sign)
    headers.update(tamper or {})
    for name in drop:
        headers.pop(name)
    return client.request(method, path, params=query, content=data, headers=headers)


def code(response: httpx.Response) -> tuple[int, str]:
    body = response.json()
    assert body["RequestId"] and body["HostId"]
    return response.status_code, body["Code"]


def test_properly_signed_call_passes_with_query_and_odd_path(client: InProcess) -> None:
    assert send(client, query={"Filter": "a b*c~d/é+", "PageSize": "10"}).status_code == 200
    odd = send(client, path="/api/v2/services/cn-shanghai/my%20svc%2Fx~y", action="DescribeService")
    assert code(odd) == (404, "InvalidService.NotFound")  # signature accepted on the raw path


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"date": _date(-16 * 60)}, (400, "InvalidTimeStamp.Expired")),
    ({"date": _date(+16 * 60)}, (400, "InvalidTimeStamp.Expired")),
    ({"date": "2025-01-15 08:30:00"}, (400, "InvalidTimeStamp.Format")),
    ({"key_id": "LTAI5tNobody"}, (400, "InvalidAccessKeyId.NotFound")),
    ({"secret": "wrong"}, (400, "SignatureDoesNotMatch")),
    ({"tamper": {"x-acs-content-sha256": signing.sha256_hex(b"other")}}, (400, "SignatureDoesNotMatch")),
    ({"tamper": {"authorization": "Bearer abc"}}, (400, "IncompleteSignature")),
    ({"drop": ("authorization",)}, (400, "IncompleteSignature")),
    ({"tamper": {"x-acs-version": "2017-01-01"}}, (400, "SignatureDoesNotMatch")),
    ({"extra": {"x-acs-version": "2017-01-01"}}, (400, "InvalidVersion")),
    ({"action": "DeleteService"}, (404, "InvalidApi.NotFound")),
])
def test_rejections(client: InProcess, kwargs: dict[str, Any], expected: tuple[int, str]) -> None:
    assert code(send(client, **kwargs)) == expected


def test_skew_within_window_is_accepted(client: InProcess) -> None:
    assert send(client, date=_date(-14 * 60)).status_code == 200


def test_content_hash_mismatch_names_the_header(client: InProcess) -> None:
    headers = signed_headers("PUT", "/api/v2/services/cn-shanghai/x/release", {}, b'{"Weight":1}', HOST,
                             "ReleaseService", date=_date())
    response = client.put("/api/v2/services/cn-shanghai/x/release", content=b'{"Weight":2}', headers=headers)
    assert code(response) == (400, "SignatureDoesNotMatch")
    assert "x-acs-content-sha256" in response.json()["Message"]


def test_signature_mismatch_shows_the_server_string_to_sign(client: InProcess) -> None:
    message = send(client, secret="wrong").json()["Message"]
    assert "ACS3-HMAC-SHA256\\n" in message


def test_reused_nonce_is_refused(client: InProcess) -> None:
    nonce = uuid.uuid4().hex
    assert send(client, nonce=nonce).status_code == 200
    assert code(send(client, nonce=nonce)) == (400, "SignatureNonceUsed")


def test_unsigned_acs_header_is_refused(client: InProcess) -> None:
    headers = signed_headers("GET", "/api/v2/services", {}, b"", HOST, "ListServices", date=_date())
    headers["x-acs-retry-attempts"] = "1"  # present but not in SignedHeaders
    assert code(client.get("/api/v2/services", headers=headers)) == (400, "IncompleteSignature")


def test_missing_required_signed_header_is_refused(client: InProcess) -> None:
    data = b""
    headers = {"host": HOST, "x-acs-action": "ListServices", "x-acs-version": signing.API_VERSION,
               "x-acs-date": _date(), "x-acs-content-sha256": signing.sha256_hex(data)}  # no nonce
    headers["authorization"] = signing.sign_request("GET", "/api/v2/services", {}, headers, data,
                                                    "LTAI5tEasGitopsLocal", "eas-gitops-local-emulator-secret")
    response = client.get("/api/v2/services", headers=headers)
    assert code(response) == (400, "IncompleteSignature")
    assert "x-acs-signature-nonce" in response.json()["Message"]


@pytest.mark.parametrize(("token", "wall", "expected"), [
    ("sts-token", WALL, 200),
    ("other-token", WALL, "InvalidSecurityToken.Mismatch"),
    (None, WALL, "InvalidSecurityToken.Malformed"),
    ("sts-token", WALL + 7200, "InvalidSecurityToken.Expired"),
])
def test_sts_tokens(token: str | None, wall: float, expected: int | str) -> None:
    settings = EmulatorSettings(clock=FakeClock(), auth_clock=lambda: wall, sts_credentials={"STS.k": STS})
    extra = {"x-acs-accesskey-id": "STS.k", **({"x-acs-security-token": token} if token else {})}
    response = send(InProcess(create_app(settings)), key_id="STS.k", secret="sts-secret", extra=extra,
                    date=datetime.fromtimestamp(wall, UTC).strftime(signing.DATE_FORMAT))
    assert (response.status_code if expected == 200 else response.json()["Code"]) == expected


def test_unknown_path_and_method_answer_json_404(client: InProcess) -> None:
    for method, path in [("GET", "/nope"), ("PATCH", "/api/v2/services"), ("GET", "/api/v2/services/a/b/c/d")]:
        response = client.request(method, path)
        assert response.headers["content-type"].startswith("application/json")
        assert code(response) == (404, "InvalidApi.NotFound")


def test_unsigned_emulator_accepts_everything_when_verification_is_off() -> None:
    unsigned = InProcess(create_app(EmulatorSettings(verify_signatures=False)))
    assert unsigned.get("/api/v2/services").json()["TotalCount"] == 0


def test_unsupported_algorithm_is_invalid_signature_method(client: InProcess) -> None:
    headers = signed_headers("GET", "/api/v2/services", {}, b"", HOST, "ListServices", date=_date())
    headers["authorization"] = headers["authorization"].replace("ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", 1)
    assert code(client.get("/api/v2/services", headers=headers)) == (400, "InvalidSignatureMethod")


def test_accesskey_id_header_must_name_the_credential_key(client: InProcess) -> None:
    response = send(client, extra={"x-acs-accesskey-id": "LTAI5tSomeoneElse"})
    assert code(response) == (400, "IncompleteSignature")
    assert "x-acs-accesskey-id" in response.json()["Message"]


def test_a_refused_signature_does_not_burn_the_nonce(client: InProcess) -> None:
    nonce = uuid.uuid4().hex
    assert code(send(client, nonce=nonce, secret="wrong")) == (400, "SignatureDoesNotMatch")
    assert send(client, nonce=nonce).status_code == 200
