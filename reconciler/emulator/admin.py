"""Admin endpoints under `/_emulator/` (a path EAS does not use): unsigned, for tests and tools on loopback.

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
    GET    /metrics                       Prometheus text (prometheus_client): API calls, gateway requests, errors,
                                          latency (metrics.py lists the series)
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.emulator import errors
from reconciler.emulator.faults import Faults, parse_fault
from reconciler.emulator.groups import GroupOps
from reconciler.emulator.metrics import CONTENT_TYPE, Metrics

ErrorRenderer = Callable[[errors.WireError], Response]


def _by_group(timeline: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for snapshot in timeline:
        out.setdefault(snapshot["group"], []).append(snapshot)
    return out


async def _json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        value = json.loads(raw or b"{}")
    except ValueError:
        raise errors.invalid_parameter("The admin request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise errors.invalid_parameter("The admin request body must be a JSON object.")
    return value


class Admin:
    """The admin endpoints of one app; each returns JSON, refusals in the EAS error shape."""

    def __init__(self, backend: GroupOps, faults: Faults, metrics: Metrics, render_error: ErrorRenderer) -> None:
        self.backend = backend
        self.faults = faults
        self.metrics = metrics
        self.render_error = render_error

    def _guarded(self, handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.WireError as exc:
                return self.render_error(exc)
        return endpoint

    async def history(self, request: Request) -> Response:
        events, timeline, now = self.backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Events": events, "Shares": _by_group(timeline)})

    async def shares(self, request: Request) -> Response:
        _, timeline, now = self.backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Shares": _by_group(timeline)})

    async def clock(self, request: Request) -> Response:
        body = await _json(request)
        try:
            seconds = float(body.get("advance", 0))
        except (TypeError, ValueError):
            raise errors.invalid_parameter("advance must be a number of seconds.") from None
        return JSONResponse({"Now": self.backend.advance_clock(seconds)})

    async def fault_list(self, request: Request) -> Response:
        if request.method == "POST":
            self.faults.add(parse_fault(await _json(request)))
        elif request.method == "DELETE":
            self.faults.clear()
        return JSONResponse({"Faults": self.faults.describe()})

    async def stock(self, request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body.get("instance_type"), str) or not isinstance(body.get("in_stock"), bool):
            raise errors.invalid_parameter('Send {"instance_type": "<type>", "in_stock": true|false}.')
        self.backend.set_stock(body["instance_type"], body["in_stock"])
        return JSONResponse({"InstanceType": body["instance_type"], "InStock": body["in_stock"]})

    async def capacity(self, request: Request) -> Response:
        body = await _json(request)
        instances = body.get("instances")
        if not isinstance(body.get("resource"), str) or not (instances is None or isinstance(instances, int)):
            raise errors.invalid_parameter('Send {"resource": "eas-r-...", "instances": <int> | null}.')
        self.backend.set_capacity(body["resource"], instances)
        return JSONResponse({"Resource": body["resource"], "Instances": instances})

    async def metrics_text(self, request: Request) -> Response:
        return Response(self.metrics.render(), headers={"content-type": CONTENT_TYPE})

    def routes(self) -> list[Route]:
        g = self._guarded
        return [
            Route("/_emulator/history", g(self.history), methods=["GET"]),
            Route("/_emulator/shares", g(self.shares), methods=["GET"]),
            Route("/_emulator/clock", g(self.clock), methods=["POST"]),
            Route("/_emulator/faults", g(self.fault_list), methods=["GET", "POST", "DELETE"]),
            Route("/_emulator/stock", g(self.stock), methods=["POST"]),
            Route("/_emulator/capacity", g(self.capacity), methods=["POST"]),
            Route("/metrics", self.metrics_text, methods=["GET"]),
        ]
