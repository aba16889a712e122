"""Admin endpoints under `/_emulator/` (a path EAS does not use), for tests and tools.

Each is signed like a management call (ACS3, `x-acs-action` from admin_api.py) whenever the
emulator verifies signatures, and refused like one otherwise, before its body is read (intake.py).
Bodies are JSON objects validated by the pydantic models below: known keys only, strict types,
finite numbers within bounds, standard JSON (`NaN` and `Infinity` literals are refused).

    GET    /_emulator/history[?group=G]   {"Now", "Events": [...], "Shares": {group: [snapshot...]}}
           every accepted write ("write"), status change ("status"), implicit group change ("group")
           and admin change ("admin") with its emulated time; each group's share snapshot after every
           event of the group: {"event_seq", "time", "exists", "mode", "weights", "shares", "black_hole"}
    GET    /_emulator/shares[?group=G]    {"Now", "Shares": {group: [snapshot...]}} (the timeline alone)
    POST   /_emulator/clock               {"advance": seconds} -> {"Now"}: moves emulated time forward
    GET    /_emulator/faults              {"Faults": [...]} (with how often each fired)
    POST   /_emulator/faults              {"operation": "ReleaseService"|"*"|"Predict",
                                           "kind": "throttle"|"error500"|"error503"|"latency"|"drop",
                                           "rate": 1.0, "latency_ms": 0, "retry_after_ms": 100,
                                           "count": null, "seed": 0, "after": false}
                                          (after: the operation is applied, then its answer is
                                          replaced by the 5xx or the cut: an unknown outcome)
    DELETE /_emulator/faults              removes every fault
    POST   /_emulator/stock               {"instance_type": "ecs.gn7i-c8g1.2xlarge", "in_stock": false}
    POST   /_emulator/capacity            {"resource": "eas-r-xxx", "instances": 4} (null: unlimited)
    POST   /_emulator/load                synthetic traffic for CloudMonitor (cloudmonitor.py)
    GET|POST /_emulator/cloudmonitor      CloudMonitor's finest Period (cloudmonitor.py)
    GET    /metrics                       Prometheus text (prometheus_client): API calls, gateway requests, errors,
                                          latency (metrics.py lists the series). Never signed: a bearer
                                          token (`metrics_token`) when set, else loopback clients only.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator import errors
from reconciler.emulator.admin_api import admin_action
from reconciler.emulator.faults import Faults, parse_fault
from reconciler.emulator.groups import GroupOps
from reconciler.emulator.intake import Gate
from reconciler.emulator.metrics import CONTENT_TYPE, Metrics
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.tokens import token_matches

ErrorRenderer = Callable[[errors.WireError], Response]
AdminHandler = Callable[[Request, bytes], Awaitable[Response]]
AdminGuard = Callable[[AdminHandler], Callable[[Request], Awaitable[Response]]]
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")
Model = TypeVar("Model", bound=BaseModel)
MAX_NAME = 256  # instance types and resource names
MAX_INSTANCES = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class ClockBody(_Strict):
    advance: float = Field(default=0.0, ge=0.0)


class StockBody(_Strict):
    instance_type: str = Field(min_length=1, max_length=MAX_NAME)
    in_stock: bool


class CapacityBody(_Strict):
    resource: str = Field(min_length=1, max_length=MAX_NAME)
    instances: int | None = Field(ge=0, le=MAX_INSTANCES)


def _by_group(timeline: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for snapshot in timeline:
        out.setdefault(snapshot["group"], []).append(snapshot)
    return out


def json_object(raw: bytes) -> dict[str, Any]:
    """A standard JSON object (an empty body is `{}`); `WireError` InvalidParameter otherwise."""
    value = errors.strict_json(raw or b"{}", "admin request body")
    if not isinstance(value, dict):
        raise errors.invalid_parameter("The admin request body must be a JSON object.")
    return value


def validated(model: type[Model], raw: bytes) -> Model:
    """`raw` as a `model` (strict: an int is a number, a bool is not); `WireError` InvalidParameter otherwise."""
    try:
        return model.model_validate(json_object(raw))
    except ValidationError as exc:
        raise errors.invalid_parameter(f"Bad admin request: {errors.describe_validation(exc)}.") from None


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Admin:
    """The admin endpoints of one app; each returns JSON, refusals in the EAS error shape."""

    def __init__(self, backend: GroupOps, faults: Faults, metrics: Metrics, render_error: ErrorRenderer,
                 gate: Gate, settings: EmulatorSettings) -> None:
        self.backend = backend
        self.faults = faults
        self.metrics = metrics
        self.render_error = render_error
        self.gate = gate
        self.settings = settings

    def guarded(self, handler: AdminHandler) -> Callable[[Request], Awaitable[Response]]:
        """The endpoint behind the gate: signature (headers only), size limit, body hash, then `handler`."""
        async def endpoint(request: Request) -> Response:
            action = admin_action(request.method, request.url.path) or "Unknown"
            try:
                if action == "Unknown":  # another method on an admin path: as for an unknown management path
                    raise errors.api_not_found(request.method, request.url.path)
                body = await self.gate.admit(request, action)
                response = await handler(request, body)
            except errors.WireError as exc:
                self.metrics.api_call(action, exc.status)
                return self.render_error(exc)
            self.metrics.api_call(action, 200)
            return response
        return endpoint

    async def history(self, request: Request, body: bytes) -> Response:
        events, timeline, now = self.backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Events": events, "Shares": _by_group(timeline)})

    async def shares(self, request: Request, body: bytes) -> Response:
        _, timeline, now = self.backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Shares": _by_group(timeline)})

    async def clock(self, request: Request, body: bytes) -> Response:
        seconds = validated(ClockBody, body).advance
        if seconds > self.settings.max_clock_advance:
            raise errors.invalid_parameter(f"advance is at most {self.settings.max_clock_advance:g} seconds per call.")
        return JSONResponse({"Now": self.backend.advance_clock(seconds)})

    async def fault_list(self, request: Request, body: bytes) -> Response:
        if request.method == "POST":
            self.faults.add(parse_fault(json_object(body)))
        elif request.method == "DELETE":
            self.faults.clear()
        return JSONResponse({"Faults": self.faults.describe()})

    async def stock(self, request: Request, body: bytes) -> Response:
        valid = validated(StockBody, body)
        self.backend.set_stock(valid.instance_type, valid.in_stock)
        return JSONResponse({"InstanceType": valid.instance_type, "InStock": valid.in_stock})

    async def capacity(self, request: Request, body: bytes) -> Response:
        valid = validated(CapacityBody, body)
        self.backend.set_capacity(valid.resource, valid.instances)
        return JSONResponse({"Resource": valid.resource, "Instances": valid.instances})

    async def metrics_text(self, request: Request) -> Response:
        """Open to loopback clients without `metrics_token`; with it, to `Authorization: Bearer <token>` only."""
        token = self.settings.metrics_token
        scheme, _, sent = request.headers.get("authorization", "").partition(" ")
        allowed = scheme == "Bearer" and token_matches(sent, token) if token else _loopback(request)
        if not allowed:
            what = "Authorization: Bearer <metrics token>" if token else "a loopback client (or a metrics token)"
            return self.render_error(errors.WireError(401, "AuthorizationFailed", f"/metrics needs {what}."))
        return Response(self.metrics.render(), headers={"content-type": CONTENT_TYPE})

    def routes(self) -> list[Route]:
        """Every method reaches the guard, which answers the ones an admin path does not take (JSON 404)."""
        g, every = self.guarded, [*HTTP_METHODS]
        return [
            Route("/_emulator/history", g(self.history), methods=every),
            Route("/_emulator/shares", g(self.shares), methods=every),
            Route("/_emulator/clock", g(self.clock), methods=every),
            Route("/_emulator/faults", g(self.fault_list), methods=every),
            Route("/_emulator/stock", g(self.stock), methods=every),
            Route("/_emulator/capacity", g(self.capacity), methods=every),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]
