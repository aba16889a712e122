"""ACS3-HMAC-SHA256 verification of management calls (reference/eas-auth.md §5.1), with the shared
canonicaliser of `reconciler.eas.signing`.

Order of checks (first failure wins; codes of §5.2, all HTTP 400 unless noted):
1. Authorization present and of the ACS3 shape (IncompleteSignature); algorithm ACS3-HMAC-SHA256
   (InvalidSignatureMethod).
2. Required headers present and signed; every `x-acs-*` header present is signed; every signed
   name is present (IncompleteSignature).
3. Access key known (InvalidAccessKeyId.NotFound), STS token present, matching and unexpired
   (InvalidSecurityToken.Malformed / .Mismatch / .Expired), `x-acs-accesskey-id` equal to the
   Credential key (IncompleteSignature).
4. `x-acs-date` format (InvalidTimeStamp.Format) and skew within `max_skew` of `auth_clock`
   (InvalidTimeStamp.Expired).
5. `x-acs-content-sha256` equal to the body's hash (SignatureDoesNotMatch naming the header).
6. Signature over the raw path and the `unquote_plus`-decoded query (SignatureDoesNotMatch; the
   Message carries the server's string-to-sign for debugging).
7. Nonce unused within the skew window (SignatureNonceUsed); then it is remembered.
8. `x-acs-version` is 2021-07-01 (InvalidVersion) and `x-acs-action` names the routed operation
   (InvalidApi.NotFound, 404).
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.eas import signing
from reconciler.emulator import errors
from reconciler.emulator.errors import WireError
from reconciler.emulator.settings import EmulatorSettings


def _fail(code: str, message: str, status: int = 400) -> WireError:
    return errors.auth_error(code, message, status)


class Verifier:
    """Checks one request at a time; remembers nonces (per process) for the skew window."""

    def __init__(self, settings: EmulatorSettings) -> None:
        self.settings = settings
        self._nonces: OrderedDict[tuple[str, str], float] = OrderedDict()

    def verify(self, method: str, raw_path: str, raw_query: str, headers: Sequence[tuple[str, str]],
               body: bytes, operation: str) -> str:
        """Raise `WireError` unless the request is properly signed; return the access key id."""
        values: dict[str, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)
        parsed = self._parse(values)
        self._check_headers(values, parsed.signed_headers)
        secret = self._secret(parsed.access_key_id, values)
        self._check_date(values["x-acs-date"][0].strip())
        digest = signing.sha256_hex(body)
        if values["x-acs-content-sha256"][0].strip() != digest:
            raise _fail("SignatureDoesNotMatch", f"x-acs-content-sha256 does not match the SHA-256 of the request "
                                                 f"body (the server computed {digest}).")
        block, signed = signing.canonical_headers(headers, parsed.signed_headers)
        canon = signing.canonical_request(method, raw_path, signing.canonical_query_from_raw(raw_query), block,
                                          signed, digest)
        if not hmac.compare_digest(signing.signature(secret, canon), parsed.signature):
            sts = signing.string_to_sign(canon).replace("\n", "\\n")
            raise _fail("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                                                 f"server string to sign is:{sts}")
        self._check_nonce(parsed.access_key_id, values["x-acs-signature-nonce"][0].strip())
        self._check_operation(values, operation)
        return parsed.access_key_id

    @staticmethod
    def _parse(values: dict[str, list[str]]) -> signing.ParsedAuthorization:
        raw = values.get("authorization", [""])[0]
        if not raw:
            raise _fail("IncompleteSignature", "The request signature does not conform to Aliyun standards: "
                                               "the Authorization header is missing.")
        parsed = signing.parse_authorization(raw)
        if parsed is None:
            raise _fail("IncompleteSignature", "The request signature does not conform to Aliyun standards: "
                                               "expected 'ALG Credential=..,SignedHeaders=..,Signature=..'.")
        if parsed.algorithm != signing.ALGORITHM:
            raise _fail("InvalidSignatureMethod", f"The signature method {parsed.algorithm} is not supported.")
        return parsed

    @staticmethod
    def _check_headers(values: dict[str, list[str]], signed: tuple[str, ...]) -> None:
        for name in signing.REQUIRED_SIGNED:
            if name not in values or name not in signed:
                raise _fail("IncompleteSignature", f"The request signature does not conform to Aliyun standards: "
                                                   f"header {name} must be present and signed.")
        for name in values:
            if name.startswith("x-acs-") and name not in signed:
                raise _fail("IncompleteSignature", f"The request signature does not conform to Aliyun standards: "
                                                   f"header {name} is present but not signed.")
        for name in signed:
            if name not in values:
                raise _fail("IncompleteSignature", f"The request signature does not conform to Aliyun standards: "
                                                   f"signed header {name} is missing from the request.")

    def _secret(self, access_key_id: str, values: dict[str, list[str]]) -> str:
        sent_id = values.get("x-acs-accesskey-id", [access_key_id])[0].strip()
        if sent_id != access_key_id:
            raise _fail("IncompleteSignature", "x-acs-accesskey-id differs from the Credential access key.")
        token = values.get("x-acs-security-token", [""])[0].strip()
        if access_key_id in self.settings.credentials:
            if token:
                raise _fail("InvalidSecurityToken.Mismatch", "A security token was sent with a permanent access key.")
            return self.settings.credentials[access_key_id]
        sts = self.settings.sts_credentials.get(access_key_id)
        if sts is None:
            raise _fail("InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        if not token:
            raise _fail("InvalidSecurityToken.Malformed", "An STS access key needs x-acs-security-token.")
        if not hmac.compare_digest(token, sts.token):
            raise _fail("InvalidSecurityToken.Mismatch", "The security token does not belong to this access key.")
        if self.settings.auth_clock() >= sts.expiry:
            raise _fail("InvalidSecurityToken.Expired", "The security token has expired.")
        return sts.secret

    def _check_date(self, value: str) -> None:
        if not signing.DATE_PATTERN.match(value):
            raise _fail("InvalidTimeStamp.Format", f"Specified time stamp {value!r} is not in the format "
                                                   "YYYY-MM-DDThh:mm:ssZ (UTC).")
        sent = datetime.strptime(value, signing.DATE_FORMAT).replace(tzinfo=UTC).timestamp()
        if abs(sent - self.settings.auth_clock()) > self.settings.max_skew:
            raise _fail("InvalidTimeStamp.Expired", f"Specified time stamp {value} differs from the server time "
                                                    "by more than 15 minutes.")

    def _check_nonce(self, access_key_id: str, nonce: str) -> None:
        now = self.settings.auth_clock()
        while self._nonces:
            oldest_key, seen = next(iter(self._nonces.items()))
            if now - seen <= self.settings.max_skew:
                break
            del self._nonces[oldest_key]
        key = (access_key_id, nonce)
        if key in self._nonces:
            raise _fail("SignatureNonceUsed", "Specified signature nonce was used already.")
        self._nonces[key] = now

    @staticmethod
    def _check_operation(values: dict[str, list[str]], operation: str) -> None:
        version = values["x-acs-version"][0].strip()
        if version != signing.API_VERSION:
            raise _fail("InvalidVersion", f"Specified parameter Version {version} is not valid.")
        action = values["x-acs-action"][0].strip()
        if action != operation:
            raise _fail("InvalidApi.NotFound", f"x-acs-action {action} does not name the operation at this path "
                                               f"({operation}).", 404)
