"""The admin endpoints' contract, shared by the emulator and its clients: one action per route, and
a signer for them.

An admin call is signed exactly like a management call (ACS3-HMAC-SHA256),
with `x-acs-action` naming the admin operation below and `x-acs-version` 2021-07-01. Clients
(the CLI's `emulator history|traffic`, tests, benchmarks) use `AdminAuth`, which signs calls to
`/_emulator/*` and leaves every other request alone (prediction requests carry their own token).
"""

from __future__ import annotations

from collections.abc import Generator

import httpx

from reconciler.eas.auth import ACTION_HEADER, AcsSigner, Credentials, CredentialSource, StaticCredentials

ADMIN_PREFIX = "/_emulator/"
# (method, path) -> x-acs-action
ADMIN_ACTIONS: dict[tuple[str, str], str] = {
    ("GET", "/_emulator/history"): "EmulatorDescribeHistory",
    ("GET", "/_emulator/shares"): "EmulatorDescribeShares",
    ("POST", "/_emulator/clock"): "EmulatorAdvanceClock",
    ("GET", "/_emulator/faults"): "EmulatorListFaults",
    ("POST", "/_emulator/faults"): "EmulatorAddFault",
    ("DELETE", "/_emulator/faults"): "EmulatorClearFaults",
    ("POST", "/_emulator/stock"): "EmulatorSetStock",
    ("POST", "/_emulator/capacity"): "EmulatorSetCapacity",
    ("POST", "/_emulator/load"): "EmulatorAddLoad",
    ("GET", "/_emulator/cloudmonitor"): "EmulatorDescribeCloudMonitor",
    ("POST", "/_emulator/cloudmonitor"): "EmulatorSetCloudMonitor",
}


def admin_action(method: str, path: str) -> str | None:
    """The action of an admin route, None for any other request."""
    return ADMIN_ACTIONS.get((method.upper(), path))


class AdminAuth(httpx.Auth):
    """Signs admin calls with ACS3 (the project's signer); passes every other request through unchanged."""

    requires_request_body = True

    def __init__(self, source: CredentialSource | Credentials) -> None:
        self._signer = AcsSigner(StaticCredentials(source) if isinstance(source, Credentials) else source)

    def __repr__(self) -> str:
        return "AdminAuth()"

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        action = admin_action(request.method, request.url.path)
        if action is not None:
            request.headers[ACTION_HEADER] = action
            self._signer.sign(request)
        yield request
