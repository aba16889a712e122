"""What every management and admin request passes before its handler runs: the gate.

1. The signature, from the headers alone (auth.py), when `verify_signatures` is on: an unsigned
   or badly signed request is refused before a byte of its body is read.
2. The size: a `Content-Length` above `max_body_bytes` is refused at once; a body without one
   (chunked) is read only up to the limit, then refused. Both are 413 `RequestEntityTooLarge`.
3. The body's hash against the signed `x-acs-content-sha256`.

The prediction gateway does not pass here: it checks tokens (tokens.py) and never reads bodies.
"""

from __future__ import annotations

from starlette.requests import Request

from reconciler.emulator import errors
from reconciler.emulator.auth import Verifier
from reconciler.emulator.settings import EmulatorSettings


def too_large(limit: int) -> errors.WireError:
    return errors.WireError(413, "RequestEntityTooLarge",
                            f"The request body is larger than {limit} bytes, the most this endpoint accepts.")


async def read_limited(request: Request, limit: int) -> bytes:
    """The body, or `WireError` 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise errors.invalid_parameter("Content-Length must be a number of bytes.")
        if int(declared) > limit:
            raise too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def raw_target(request: Request) -> tuple[str, str]:
    """(raw path, raw query) as received: what the signature covers."""
    raw_path = bytes(request.scope.get("raw_path") or request.url.path.encode()).decode("latin-1")
    return raw_path, bytes(request.scope.get("query_string", b"")).decode("latin-1")


class Gate:
    """Signature, size limit and body hash of one app's management and admin requests."""

    def __init__(self, settings: EmulatorSettings, verifier: Verifier) -> None:
        self.settings = settings
        self.verifier = verifier

    async def admit(self, request: Request, operation: str) -> bytes:
        """The request's body once the request is authenticated; `WireError` otherwise."""
        raw_path, raw_query = raw_target(request)
        claimed = None
        if self.settings.verify_signatures:
            claimed = self.verifier.verify_headers(request.method, raw_path, raw_query, request.headers.items(),
                                                   operation)
        body = await read_limited(request, self.settings.max_body_bytes)
        if claimed is not None:
            self.verifier.check_body(claimed, body)
        return body
