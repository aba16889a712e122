"""Credentials and the ACS3-HMAC-SHA256 signer as an `httpx.Auth`.

The signer sets and signs exactly: `host`, `x-acs-action`, `x-acs-version`, `x-acs-date`,
`x-acs-signature-nonce`, `x-acs-content-sha256`, `content-type` (only when a body is sent), the STS
pair `x-acs-accesskey-id` / `x-acs-security-token` (only with a token), plus any header named in
`extra_signed` that is present on the request (to reproduce the SDK's full header set, vector A).
Headers httpx may rewrite (user-agent, accept-encoding, connection) are never signed by default.

Invariants:
- Every call of the auth flow takes a fresh date and nonce, so the retry loop above it (which
  sends a new request per attempt) re-signs every attempt.
- The secret and the token never appear in a repr, a log line or an exception message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import httpx

from reconciler.eas import signing

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
ACTION_HEADER = "x-acs-action"
_STS_HEADERS = ("x-acs-accesskey-id", "x-acs-security-token")


@dataclass(frozen=True)
class Credentials:
    """An access key pair, optionally with an STS security token. repr hides the secret and token."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)
    provider: str = "static"

    def __repr__(self) -> str:
        token = ", security_token=***" if self.security_token else ""
        return f"Credentials(access_key_id={self.access_key_id!r}, access_key_secret=***{token}, " \
               f"provider={self.provider!r})"

    __str__ = __repr__


class CredentialSource(Protocol):
    """Where the signer takes credentials from, once per request (providers may refresh)."""

    def get(self) -> Credentials: ...


@dataclass(frozen=True)
class StaticCredentials:
    """A fixed credential (the emulator's local pair, env variables read once)."""

    credentials: Credentials

    def get(self) -> Credentials:
        return self.credentials


def utc_now_acs() -> str:
    """`x-acs-date` value for now: UTC, second precision (the SDK's format)."""
    return datetime.now(UTC).strftime(signing.DATE_FORMAT)


def random_nonce() -> str:
    """32 hex characters, like the SDK's nonce."""
    return secrets.token_hex(16)


class AcsSigner(httpx.Auth):
    """Signs each request with ACS3-HMAC-SHA256. The operation name comes from `x-acs-action`.

    The client puts `x-acs-action` on the request; the signer adds everything else. `date` and
    `nonce` are injectable so tests can reproduce the reference vectors.
    """

    requires_request_body = True

    def __init__(self, source: CredentialSource, *, api_version: str = signing.API_VERSION,
                 date: Callable[[], str] = utc_now_acs, nonce: Callable[[], str] = random_nonce,
                 extra_signed: Iterable[str] = ()) -> None:
        self._source = source
        self._api_version = api_version
        self._date = date
        self._nonce = nonce
        self._extra_signed = tuple(h.lower() for h in extra_signed)

    def __repr__(self) -> str:
        return f"AcsSigner(api_version={self._api_version!r}, extra_signed={self._extra_signed!r})"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        self.sign(request)
        yield request

    def sign(self, request: httpx.Request) -> None:
        """Set the ACS headers and `Authorization` on `request` in place."""
        creds = self._source.get()
        body = request.content
        headers = request.headers
        headers["host"] = request.url.netloc.decode("ascii")
        headers["x-acs-version"] = self._api_version
        headers["x-acs-date"] = self._date()
        headers["x-acs-signature-nonce"] = self._nonce()
        headers["x-acs-content-sha256"] = signing.sha256_hex(body)
        names = ["host", "x-acs-version", "x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"]
        if ACTION_HEADER in headers:
            names.append(ACTION_HEADER)
        if body:
            headers.setdefault("content-type", JSON_CONTENT_TYPE)
            names.append("content-type")
        if creds.security_token:
            headers["x-acs-accesskey-id"] = creds.access_key_id
            headers["x-acs-security-token"] = creds.security_token
            names.extend(_STS_HEADERS)
        names.extend(h for h in self._extra_signed if h in headers)
        raw_path, _, raw_query = request.url.raw_path.decode("ascii").partition("?")
        block, signed = signing.canonical_headers(headers.multi_items(), names)
        canon = signing.canonical_request(request.method, raw_path, signing.canonical_query_from_raw(raw_query),
                                          block, signed, headers["x-acs-content-sha256"])
        sig = signing.signature(creds.access_key_secret, canon)
        headers["authorization"] = signing.authorization(creds.access_key_id, signed, sig)
