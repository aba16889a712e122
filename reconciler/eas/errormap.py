"""Map EAS error answers and httpx failures onto `reconciler.errors` (the one place this happens).

Classification of an answer with HTTP status >= 400, or any answer carrying `x-acs-retry-after`
(the official SDK treats that header as throttling whatever the status), checked in order:

1. throttling: a positive `x-acs-retry-after`, a `Throttling*` code, or HTTP 429 -> ThrottledError
2. authentication / permission: signature, access-key, timestamp, nonce, token codes, `Forbidden*`,
   HTTP 401/403 -> AuthError
3. `*.NotFound` (other than the access-key and API not-found codes of step 2 / below) or HTTP 404
   with a service/group code -> NotFoundError
4. `*AlreadyExists*`, `*Conflict*`, safety lock, `InvalidOperation.*` (state forbids it), HTTP 409 -> ConflictError
5. HTTP >= 500 -> ServerError
6. anything else -> ApiError

EAS documents no unit for `x-acs-retry-after`. The official SDK passes it to darabonba's retry
policy as the backoff delay, and darabonba sleeps that many milliseconds; this client does the same
(`RetrySettings.retry_after_unit` = 0.001 seconds per unit, a setting: 1.0 reads seconds). The wait
is capped at `max_retry_after`.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from reconciler.errors import (
    ApiError,
    AuthError,
    ConflictError,
    NotFoundError,
    ServerError,
    ThrottledError,
    TransportError,
)

RETRY_AFTER_HEADER = "x-acs-retry-after"
_AUTH_PREFIXES = ("SignatureDoesNotMatch", "IncompleteSignature", "InvalidAccessKeyId", "InvalidTimeStamp",
                  "SignatureNonceUsed", "InvalidSignatureMethod", "InvalidSecurityToken", "Forbidden",
                  "InvalidCredentials", "MissingAuthorization", "Unauthorized")
_CONFLICT_MARKERS = ("AlreadyExist", "Conflict", "Locked", "SafetyLock", "IncorrectStatus", "InvalidStatus",
                     "InvalidOperation")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """The positive number in `x-acs-retry-after`, or None."""
    raw = response.headers.get(RETRY_AFTER_HEADER)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if value > 0 else None


def is_error(response: httpx.Response) -> bool:
    return response.status_code >= 400 or retry_after_seconds(response) is not None


def _body(response: httpx.Response) -> dict[str, Any]:
    """The JSON object of an error answer, or {} (no body, not JSON, not an object)."""
    try:
        body = json.loads(response.content) if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_fields(body: dict[str, Any], response: httpx.Response) -> tuple[str, str, str]:
    """(Code, Message, RequestId) from a JSON error body; without one, a message that says what answered."""
    code = str(body.get("Code") or body.get("code") or f"HTTP{response.status_code}")
    message = str(body.get("Message") or body.get("message") or "") or _not_an_eas_answer(response)
    request_id = str(body.get("RequestId") or body.get("requestId") or response.headers.get("x-acs-request-id", ""))
    return code, message, request_id


def _not_an_eas_answer(response: httpx.Response) -> str:
    """An error answer without an EAS error body came from something else than EAS: say so, with the URL."""
    try:
        url = response.request.url
    except RuntimeError:  # a response built by hand (tests) has no request
        return response.reason_phrase or "no EAS error body"
    base = f"{url.scheme}://{url.netloc.decode()}"
    what = f"{response.request.method} {url.copy_with(query=None)} answered {response.status_code}"
    what += f" {response.reason_phrase}" if response.reason_phrase else ""
    if response.status_code in (404, 405):
        return f"{what} without an EAS error body: {base} does not look like an EAS endpoint (check --target)"
    return f"{what} without an EAS error body (is {base} an EAS endpoint, or a proxy in front of it?)"


def error_class(status: int, code: str, throttled: bool) -> type[ApiError]:
    """The ApiError subclass for an answer (rules in the module docstring)."""
    if throttled or code.startswith("Throttling") or status == 429:
        return ThrottledError
    if code.startswith(_AUTH_PREFIXES) or status in (401, 403):
        return AuthError
    if code.endswith(".NotFound") and not code.startswith("InvalidApi"):
        return NotFoundError
    if any(m in code for m in _CONFLICT_MARKERS) or status == 409:
        return ConflictError
    if status >= 500:
        return ServerError
    return ApiError


def api_error(response: httpx.Response, operation: str) -> ApiError:
    """The error an EAS error answer stands for."""
    body = _body(response)
    code, message, request_id = _error_fields(body, response)
    retry_after = retry_after_seconds(response)
    cls = error_class(response.status_code, code, retry_after is not None)
    error = (ThrottledError(response.status_code, code, message, request_id, operation, retry_after=retry_after)
             if cls is ThrottledError else cls(response.status_code, code, message, request_id, operation))
    error.host_id = str(body.get("HostId") or "")
    return error


def transport_error(exc: httpx.HTTPError, operation: str) -> TransportError:
    """A TransportError naming the operation, the URL's host and the kind of failure (never the headers)."""
    try:
        url = exc.request.url
        where = f"{url.scheme}://{url.netloc.decode()}"
    except RuntimeError:  # an httpx error raised without a request
        where = "the target"
    if isinstance(exc, httpx.ConnectError):
        return TransportError(f"{operation}: cannot connect to {where} ({exc or type(exc).__name__}): is it running "
                              "(a served emulator: `eas-gitops emulator serve`), and is --target right?")
    if isinstance(exc, httpx.TimeoutException):
        return TransportError(f"{operation}: {where} did not answer in time ({type(exc).__name__})")
    return TransportError(f"{operation}: no usable answer from {where} ({type(exc).__name__}: {exc})")


def unsendable(exc: httpx.InvalidURL, operation: str) -> TransportError:
    """A request httpx refuses to build (a URL part too long or malformed): nothing left, never retried."""
    return TransportError(f"{operation}: the request cannot be sent: {exc} (a name or label in it is too long "
                          "or malformed)")


def request_left(exc: httpx.HTTPError) -> bool:
    """False only when httpx failed before the request left (connect error/timeout): safe to retry anything."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
