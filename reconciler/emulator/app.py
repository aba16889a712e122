"""The emulator as one ASGI app: management API, prediction gateway, admin endpoints, metrics.

Usable in-process (`httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)))`)
and served (`uvicorn`, see `eas-gitops emulator serve`). Every management answer is JSON with a
RequestId, errors included, in the Alibaba OpenAPI error shape; an unknown path or method is
`InvalidApi.NotFound` (404), an unexpected failure `InternalError` (500), never an HTML page.
Management and admin requests pass the gate (intake.py: signature from the headers, then the body
within `max_body_bytes`, then its hash); prediction requests need the endpoint's token (gateway.py).
"""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import parse_qsl

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from reconciler.emulator import errors, responses, routes
from reconciler.emulator.admin import HTTP_METHODS, Admin
from reconciler.emulator.auth import Verifier
from reconciler.emulator.backend import Backend
from reconciler.emulator.cloudmonitor import CloudMonitor
from reconciler.emulator.faults import Faults, Outcome
from reconciler.emulator.gateway import Gateway
from reconciler.emulator.intake import Gate, raw_target
from reconciler.emulator.metrics import Metrics
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store


class DroppedResponse(Response):
    """Starts a response and cuts it: the client sees a broken connection (the `drop` fault)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        raise httpx.RemoteProtocolError("emulator fault: connection dropped")


class Emulator:
    """The parts of one app instance (tests reach `backend` and `faults` through `app.state.emulator`)."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self.store = Store(settings.state_path, settings.region)
        self.backend = Backend(settings, self.store)
        self.verifier = Verifier(settings, self.store)
        self.gate = Gate(settings, self.verifier)
        self.faults = Faults()
        self.metrics = Metrics()
        self.gateway = Gateway(self.backend, self.metrics, settings.seed, settings.check_tokens)
        self.cloudmonitor = CloudMonitor(settings, self.gateway, self.faults, self.metrics, self.store)

    def error(self, exc: errors.WireError) -> Response:
        request_id = str(uuid.uuid4()).upper()
        body = {"RequestId": request_id, "HostId": self.settings.host_id, "Code": exc.code, "Message": exc.message,
                "Recommend": f"https://api.alibabacloud.com/troubleshoot?q={exc.code}&product=eas"
                             f"&requestId={request_id}"}
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    async def management(self, request: Request) -> Response:
        raw_path, raw_query = raw_target(request)
        match = routes.match(request.method, raw_path)
        operation = match.operation if match else "Unknown"
        try:
            if match is None:
                raise errors.api_not_found(request.method, raw_path)
            body = await self.gate.admit(request, operation)
            outcome = self.faults.decide(operation)
            if outcome.delay_ms:
                await asyncio.sleep(outcome.delay_ms / 1000.0)
            if outcome.fails and not outcome.after:
                return self._faulted(operation, outcome)
            call = responses.Call(match.params, dict(parse_qsl(raw_query, keep_blank_values=True)), body,
                                  request.headers.get("host", "127.0.0.1"))
            result = responses.handle(self.backend, operation, call)
            if outcome.fails:  # applied, but the client never learns it
                return self._faulted(operation, outcome)
            self.metrics.api_call(operation, 200)
            return JSONResponse({"RequestId": str(uuid.uuid4()).upper(), **result})
        except errors.WireError as exc:
            self.metrics.api_call(operation, exc.status)
            return self.error(exc)
        except Exception as exc:  # a bug or a locked database: still an EAS-shaped JSON answer
            self.metrics.api_call(operation, 500)
            return self.error(errors.WireError(500, "InternalError", f"{type(exc).__name__}: {exc}"))

    def _faulted(self, operation: str, outcome: Outcome) -> Response:
        """The injected failure as the answer: a cut connection, or the error (raised to the error path)."""
        if outcome.error is not None:
            raise outcome.error
        self.metrics.api_call(operation, 0)
        return DroppedResponse()

    async def predict(self, request: Request) -> Response:
        outcome = self.faults.decide("Predict")
        if outcome.delay_ms:
            await asyncio.sleep(outcome.delay_ms / 1000.0)
        path = request.path_params["name"]
        if outcome.drop:
            self.gateway.faulted(path, 0)
            return DroppedResponse()
        if outcome.error is not None:
            self.gateway.faulted(path, outcome.error.status)
            return self.error(outcome.error)
        try:
            answer = await self.gateway.handle(path, request.headers.get("authorization"))
        except errors.WireError as exc:
            return self.error(exc)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)


def create_app(settings: EmulatorSettings) -> Starlette:
    """A new emulator over `settings.state_path` (or a private in-memory store)."""
    emulator = Emulator(settings)
    admin = Admin(emulator.backend, emulator.faults, emulator.metrics, emulator.error, emulator.gate, settings)
    app = Starlette(routes=[
        *admin.routes(),
        Route("/api/predict/{name:path}", emulator.predict, methods=list(HTTP_METHODS)),
        *emulator.cloudmonitor.routes(emulator.error, emulator.management, admin.guarded),
        Route("/{path:path}", emulator.management, methods=list(HTTP_METHODS)),
    ])
    app.state.emulator = emulator
    return app
