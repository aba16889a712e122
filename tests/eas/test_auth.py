"""The httpx.Auth signer reproduces the SDK vectors byte for byte and never shows secrets."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import cast

import httpx
import pytest

from reconciler.eas.auth import AcsSigner, Credentials, StaticCredentials

DATA = json.loads((Path(__file__).parents[1] / "data" / "eas-auth-vectors.json").read_text())
INPUTS = DATA["inputs"]
SDK_EXTRA = ("accept", "user-agent", "x-acs-credentials-provider")


def _signer(creds: Credentials, extra: tuple[str, ...] = ()) -> AcsSigner:
    return AcsSigner(StaticCredentials(creds), date=lambda: INPUTS["x-acs-date"],
                     nonce=lambda: INPUTS["x-acs-signature-nonce"], extra_signed=extra)


def _request(vec: dict[str, object], extra_headers: dict[str, str]) -> httpx.Request:
    url = f"https://{INPUTS['host']}{vec['path']}"
    body = str(vec["body"]).encode()
    headers = {"x-acs-action": str(vec["headers_sent"]["x-acs-action"]), **extra_headers}  # type: ignore[index]
    query = cast(dict[str, str], vec["query"])
    return httpx.Request(str(vec["method"]), url, params=query or None, content=body or None,
                         headers=headers)


def _sign(vec_name: str, creds: Credentials, extra: tuple[str, ...] = ()) -> httpx.Request:
    vec = DATA["vectors"][vec_name]
    sent = vec["headers_sent"]
    extra_headers = {h: sent[h] for h in extra}
    request = _request(vec, extra_headers)
    flow = _signer(creds, extra).auth_flow(request)
    return next(flow)


AK = Credentials(INPUTS["access_key_id"], INPUTS["access_key_secret"])


def test_b_minimal_byte_for_byte() -> None:
    signed = _sign("B_minimal", AK)
    vec = DATA["vectors"]["B_minimal"]
    assert signed.headers["authorization"] == vec["authorization"]
    for name, value in vec["headers_sent"].items():
        assert signed.headers[name] == value


def test_a_sdk_exact_with_extra_signed_headers() -> None:
    signed = _sign("A_sdk_exact", AK, SDK_EXTRA)
    assert signed.headers["authorization"] == DATA["vectors"]["A_sdk_exact"]["authorization"]


def test_c_sts_minimal_sets_and_signs_the_sts_pair() -> None:
    signed = _sign("C_sts_minimal", Credentials("STS.testId", "testStsSecret", "testSecurityToken"))
    vec = DATA["vectors"]["C_sts_minimal"]
    assert signed.headers["x-acs-security-token"] == "testSecurityToken"
    assert signed.headers["x-acs-accesskey-id"] == "STS.testId"
    assert signed.headers["authorization"] == vec["authorization"]


def test_d_get_with_query_no_content_type() -> None:
    signed = _sign("D_get_query", AK)
    assert "content-type" not in signed.headers
    assert signed.headers["authorization"] == DATA["vectors"]["D_get_query"]["authorization"]


def test_every_signing_takes_a_fresh_date_and_nonce() -> None:
    counter = itertools.count()
    signer = AcsSigner(StaticCredentials(AK), nonce=lambda: f"n{next(counter)}")
    a = next(signer.auth_flow(httpx.Request("GET", "https://h/x", headers={"x-acs-action": "DescribeGroup"})))
    b = next(signer.auth_flow(httpx.Request("GET", "https://h/x", headers={"x-acs-action": "DescribeGroup"})))
    assert a.headers["x-acs-signature-nonce"] != b.headers["x-acs-signature-nonce"]
    assert a.headers["authorization"] != b.headers["authorization"]


def test_unlisted_headers_are_not_signed() -> None:
    signed = _sign("B_minimal", AK)
    signed_names = signed.headers["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    assert "user-agent" not in signed_names and "accept" not in signed_names


@pytest.mark.parametrize("creds", [Credentials("AKID", "s3cr3t-value"),
                                   Credentials("STS.x", "s3cr3t-value", "t0ken-value")])
def test_repr_hides_secret_and_token(creds: Credentials) -> None:
    for text in (repr(creds), str(creds), repr(StaticCredentials(creds))):
        assert "s3cr3t-value" not in text and "t0ken-value" not in text
    assert "AKID" in repr(creds) or "STS.x" in repr(creds)
