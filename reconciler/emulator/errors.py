"""Wire errors of the emulator: one exception carrying the EAS `Code`, HTTP status and `Message`.

The backend raises these (named after their wire codes); the HTTP layer turns them into the
Alibaba OpenAPI error body `{RequestId, HostId, Code, Message, Recommend}`. Codes the EAS docs do
not name are listed, with their statuses, in `reconciler.emulator.settings`.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # only named in an annotation: `emulator.settings` (imported by `emulator serve --help`) stays light
    from pydantic import ValidationError


class WireError(Exception):
    """An error answer: `code` (e.g. InvalidService.NotFound), HTTP `status`, human `message`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def invalid_parameter(message: str) -> WireError:
    return WireError(400, "InvalidParameter", message)


def missing(name: str) -> WireError:
    return WireError(400, f"Missing{name}", f"The input parameter {name} that is mandatory for processing "
                                            "this request is not supplied.")


def service_not_found(name: str) -> WireError:
    return WireError(404, "InvalidService.NotFound", f"The specified service [{name}] does not exist.")


def group_not_found(name: str) -> WireError:
    return WireError(404, "InvalidGroup.NotFound", f"The specified service group [{name}] does not exist.")


def service_exists(name: str) -> WireError:
    return WireError(409, "InvalidService.AlreadyExists", f"The service [{name}] already exists.")


def group_exists(name: str) -> WireError:
    return WireError(409, "InvalidGroup.AlreadyExists", f"The service group [{name}] already exists.")


def autoscaler_exists(name: str) -> WireError:
    return WireError(409, "InvalidAutoscaler.AlreadyExists",
                     f"Service [{name}] already has an autoscaler: use UpdateServiceAutoScaler.")


def autoscaler_not_found(name: str) -> WireError:
    return WireError(404, "InvalidAutoscaler.NotFound", f"Service [{name}] has no autoscaler.")


def safety_lock(name: str, lock: str, action: str) -> WireError:
    return WireError(409, "InvalidOperation.SafetyLock",
                     f"{action} is refused: service [{name}] has safety lock [{lock}].")


def bad_status(name: str, status: str, action: str) -> WireError:
    return WireError(409, "InvalidOperation.ServiceStatus",
                     f"{action} is not allowed while service [{name}] is [{status}].")


def group_not_empty(name: str, members: int) -> WireError:
    return WireError(409, "InvalidOperation.GroupNotEmpty",
                     f"Service group [{name}] still has {members} member(s); set CascadeDelete=true to delete them.")


def api_not_found(method: str, path: str) -> WireError:
    return WireError(404, "InvalidApi.NotFound", f"Specified api is not found, please check your url and method: "
                                                 f"{method} {path}")


def throttled(retry_after_ms: int) -> WireError:
    return WireError(429, "Throttling.User", "Request was denied due to user flow control.",
                     {"x-acs-retry-after": str(retry_after_ms)})


def server_error(status: int) -> WireError:
    if status == 503:
        return WireError(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
    return WireError(status, "InternalError", "The request processing has failed due to some unknown error.")


def auth_error(code: str, message: str, status: int = 400) -> WireError:
    return WireError(status, code, message)


def describe_validation(exc: ValidationError) -> str:
    """A pydantic error in one line, e.g. `advance: Input should be a finite number` (never the input)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors())


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def strict_json(raw: bytes | str, what: str) -> Any:
    """Standard JSON (no NaN / Infinity literals, bounded nesting); InvalidParameter naming `what` otherwise."""
    try:
        return json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise invalid_parameter(f"The {what} is not valid JSON (NaN and Infinity are not JSON).") from None
