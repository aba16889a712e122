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
                                           "count": null, "seed": 0}
    DELETE /_emulator/faults              removes every fault
    POST   /_emulator/stock               {"instance_type": "ecs.gn7i-c8g1.2xlarge", "in_stock": false}
    POST   /_emulator/capacity            {"resource": "eas-r-xxx", "instances": 4} (null: unlimited)
    GET    /metrics                       Prometheus text: API calls, gateway requests, errors, latency
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from reconciler.emulator import errors
from reconciler.emulator.faults import Faults, parse_fault
from reconciler.emulator.groups import GroupOps
from reconciler.emulator.metrics import Metrics

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


def admin_routes(backend: GroupOps, faults: Faults, metrics: Metrics, render_error: ErrorRenderer) -> list[Route]:
    def guarded(handler: Callable[[Request], Awaitable[Response]]) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except errors.WireError as exc:
                return render_error(exc)
        return endpoint

    async def history(request: Request) -> Response:
        events, timeline, now = backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Events": events, "Shares": _by_group(timeline)})

    async def shares(request: Request) -> Response:
        _, timeline, now = backend.history(request.query_params.get("group") or None)
        return JSONResponse({"Now": now, "Shares": _by_group(timeline)})

    async def clock(request: Request) -> Response:
        body = await _json(request)
        try:
            seconds = float(body.get("advance", 0))
        except (TypeError, ValueError):
            raise errors.invalid_parameter("advance must be a number of seconds.") from None
        return JSONResponse({"Now": backend.advance_clock(seconds)})

    async def fault_list(request: Request) -> Response:
        if request.method == "POST":
            faults.add(parse_fault(await _json(request)))
        elif request.method == "DELETE":
            faults.clear()
        return JSONResponse({"Faults": faults.describe()})

    async def stock(request: Request) -> Response:
        body = await _json(request)
        if not isinstance(body.get("instance_type"), str) or not isinstance(body.get("in_stock"), bool):
            raise errors.invalid_parameter('Send {"instance_type": "<type>", "in_stock": true|false}.')
        backend.set_stock(body["instance_type"], body["in_stock"])
        return JSONResponse({"InstanceType": body["instance_type"], "InStock": body["in_stock"]})

    async def capacity(request: Request) -> Response:
        body = await _json(request)
        instances = body.get("instances")
        if not isinstance(body.get("resource"), str) or not (instances is None or isinstance(instances, int)):
            raise errors.invalid_parameter('Send {"resource": "eas-r-...", "instances": <int> | null}.')
        backend.set_capacity(body["resource"], instances)
        return JSONResponse({"Resource": body["resource"], "Instances": instances})

    async def metrics_text(request: Request) -> Response:
        return PlainTextResponse(metrics.render(), media_type="text/plain; version=0.0.4")

    return [
        Route("/_emulator/history", guarded(history), methods=["GET"]),
        Route("/_emulator/shares", guarded(shares), methods=["GET"]),
        Route("/_emulator/clock", guarded(clock), methods=["POST"]),
        Route("/_emulator/faults", guarded(fault_list), methods=["GET", "POST", "DELETE"]),
        Route("/_emulator/stock", guarded(stock), methods=["POST"]),
        Route("/_emulator/capacity", guarded(capacity), methods=["POST"]),
        Route("/metrics", metrics_text, methods=["GET"]),
    ]
