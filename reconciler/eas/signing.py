"""ACS3-HMAC-SHA256 request signing (Alibaba Cloud's V3 signature), shared by client and emulator.

One canonicaliser serves both sides: the client's `httpx.Auth` signs with it and the emulator
verifies with it, and the test vectors in tests/data/eas-auth-vectors.json pin it to the official
SDK byte for byte. Pure functions only: no clock, no randomness, no I/O.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote_plus

ALGORITHM = "ACS3-HMAC-SHA256"
API_VERSION = "2021-07-01"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DATE_PATTERN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Headers that must be present and signed on every management call.
REQUIRED_SIGNED = ("host", "x-acs-action", "x-acs-version", "x-acs-date", "x-acs-signature-nonce",
                   "x-acs-content-sha256")
_AUTH_RE = re.compile(
    r"^(?P<alg>[A-Z0-9-]+) Credential=(?P<ak>[^,]+),SignedHeaders=(?P<signed>[^,]+),Signature=(?P<sig>[0-9a-fA-F]+)$"
)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode(value: str) -> str:
    """RFC 3986 encoding as the SDK does it: everything but unreserved characters and `~`."""
    return quote(value, safe="~")


def canonical_query(pairs: Iterable[tuple[str, str]]) -> str:
    """Sorted `key=value` pairs, values RFC 3986-encoded (keys are plain ASCII for EAS)."""
    return "&".join(f"{encode(k)}={encode(v)}" for k, v in sorted(pairs))


def canonical_query_from_raw(raw_query: str) -> str:
    """Canonical query from the query string as received (form-encoded: `+` is a space)."""
    pairs: list[tuple[str, str]] = []
    for part in raw_query.split("&"):
        if not part:
            continue
        key, _, value = part.partition("=")
        pairs.append((unquote_plus(key), unquote_plus(value)))
    return canonical_query(pairs)


def canonical_headers(headers: Iterable[tuple[str, str]], names: Iterable[str]) -> tuple[str, str]:
    """(canonical header block, signed-header list) for the given lowercase names.

    Repeated headers have their stripped values sorted and joined with `,`.
    """
    wanted = sorted({n.lower() for n in names})
    values: dict[str, list[str]] = {n: [] for n in wanted}
    for name, value in headers:
        low = name.lower()
        if low in values:
            values[low].append(value.strip())
    block = "".join(f"{n}:{','.join(sorted(values[n]))}\n" for n in wanted)
    return block, ";".join(wanted)


def canonical_request(method: str, raw_path: str, canon_query: str, header_block: str,
                      signed_headers: str, payload_hash: str) -> str:
    return "\n".join([method.upper(), raw_path or "/", canon_query, header_block, signed_headers, payload_hash])


def string_to_sign(canon_request: str) -> str:
    return f"{ALGORITHM}\n{sha256_hex(canon_request.encode())}"


def signature(secret: str, canon_request: str) -> str:
    return hmac.new(secret.encode(), string_to_sign(canon_request).encode(), hashlib.sha256).hexdigest()


def authorization(access_key_id: str, signed_headers: str, sig: str) -> str:
    return f"{ALGORITHM} Credential={access_key_id},SignedHeaders={signed_headers},Signature={sig}"


@dataclass(frozen=True)
class ParsedAuthorization:
    algorithm: str
    access_key_id: str
    signed_headers: tuple[str, ...]
    signature: str


def parse_authorization(value: str) -> ParsedAuthorization | None:
    """Parse an `Authorization` header; None when it does not have the ACS3 shape."""
    match = _AUTH_RE.match(value.strip())
    if match is None:
        return None
    signed = tuple(h.strip().lower() for h in match["signed"].split(";") if h.strip())
    return ParsedAuthorization(match["alg"], match["ak"], signed, match["sig"].lower())


def sign_request(method: str, raw_path: str, query: Mapping[str, str], headers: Mapping[str, str],
                 body: bytes, access_key_id: str, secret: str) -> str:
    """The Authorization value for a request whose headers are all signed (lowercase names)."""
    block, signed = canonical_headers(headers.items(), headers.keys())
    canon = canonical_request(method, raw_path, canonical_query(query.items()), block, signed, sha256_hex(body))
    return authorization(access_key_id, signed, signature(secret, canon))
