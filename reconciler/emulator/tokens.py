"""Prediction tokens: the `AccessToken` of each service and group, and how the gateway checks them.

EAS gives every service and every group an access token (DescribeService, DescribeGroup,
DescribeGroupEndpoints); `/api/predict/<group>` takes the group's token, `/api/predict/<group>.<service>`
(and `/api/predict/<service>` for a service outside any group) the service's. The caller sends it as
the raw value of the `Authorization` header.

Choices where the docs are silent:
* A service config's own `token` (a non-empty string) is the service's token, as EAS documents for
  that key; otherwise the token is derived: HMAC-SHA256 under the state file's random key
  (`Store.token_key`) of the region and the service id (or the group's name and creation time),
  base64url without padding. So a token is stable across restarts, unguessable without the state
  file, and new when a service or group of the same name is created again.
* A group's token is always derived (a group has no config).
* The check compares in constant time; a missing or wrong token is 401 (see gateway.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from reconciler.emulator.models import GroupRecord, ServiceRecord


class Tokens:
    """Derives tokens from one key (hex text, from the store)."""

    def __init__(self, key: str) -> None:
        self._key = bytes.fromhex(key)

    def __repr__(self) -> str:
        return "Tokens(key=***)"

    def _derive(self, *parts: str) -> str:
        digest = hmac.new(self._key, "\n".join(parts).encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")

    def service(self, record: ServiceRecord) -> str:
        own = record.config.get("token")
        if isinstance(own, str) and own:
            return own
        return self._derive("service", record.region, record.service_id)

    def group(self, record: GroupRecord) -> str:
        return self._derive("group", record.region, record.name, repr(record.created_at))


def token_matches(sent: str | None, expected: str) -> bool:
    """True when the `Authorization` value `sent` is `expected` (constant time; empty never matches)."""
    if not sent or not expected:
        return False
    return hmac.compare_digest(sent.strip().encode(), expected.encode())
