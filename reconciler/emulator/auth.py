"""ACS3-HMAC-SHA256 verification of management and admin calls (Alibaba Cloud's V3 signature), with
the shared canonicaliser of `reconciler.eas.signing`.

The check runs in two parts so that nothing of an unauthenticated request's body is read:
`verify_headers` checks everything the headers carry (the signature covers the claimed
`x-acs-content-sha256`), then the caller reads the body (within its size limit) and `check_body`
compares its hash with the claim.

Order of checks (first failure wins; the error codes Alibaba Cloud's gateway documents, all HTTP 400 unless noted):
1. Authorization present and of the ACS3 shape (IncompleteSignature); algorithm ACS3-HMAC-SHA256
   (InvalidSignatureMethod).
2. Required headers present and signed; every `x-acs-*` header present is signed; every signed
   name is present (IncompleteSignature).
3. Access key known (InvalidAccessKeyId.NotFound), STS token present, matching and unexpired
   (InvalidSecurityToken.Malformed / .Mismatch / .Expired), `x-acs-accesskey-id` equal to the
   Credential key (IncompleteSignature).
4. `x-acs-date` format (InvalidTimeStamp.Format) and skew within `max_skew` of `auth_clock`
   (InvalidTimeStamp.Expired).
5. Signature over the raw path, the `unquote_plus`-decoded query and the claimed content hash
   (SignatureDoesNotMatch; the Message carries the server's string-to-sign for debugging).
6. Nonce unused within the skew window (SignatureNonceUsed); then it is remembered in the store,
   so a replay after a restart is refused too.
7. `x-acs-version` is 2021-07-01 (InvalidVersion) and `x-acs-action` names the routed operation
   (InvalidApi.NotFound, 404).
8. After the body is read: `x-acs-content-sha256` equal to its hash (SignatureDoesNotMatch naming
   the header).
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from datetime import UTC, datetime

from reconciler.eas import signing
from reconciler.emulator import errors
from reconciler.emulator.errors import WireError
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store


def _fail(code: str, message: str, status: int = 400) -> WireError:
    return errors.auth_error(code, message, status)


class Verifier:
    """Checks one request at a time; nonces are remembered in `store` for the skew window."""

    def __init__(self, settings: EmulatorSettings, store: Store) -> None:
        self.settings = settings
        self.store = store

    def verify_headers(self, method: str, raw_path: str, raw_query: str, headers: Sequence[tuple[str, str]],
                       operation: str) -> str:
        """Raise `WireError` unless the headers carry a valid signature; return the claimed body hash."""
        values: dict[str, list[str]] = {}
        for name, value in headers:
            values.setdefault(name.lower(), []).append(value)
        parsed = self._parse(values)
        self._check_headers(values, parsed.signed_headers)
        secret = self._secret(parsed.access_key_id, values)
        self._check_date(values["x-acs-date"][0].strip())
        claimed = values["x-acs-content-sha256"][0].strip()
        block, signed = signing.canonical_headers(headers, parsed.signed_headers)
        canon = signing.canonical_request(method, raw_path, signing.canonical_query_from_raw(raw_query), block,
                                          signed, claimed)
        if not hmac.compare_digest(signing.signature(secret, canon), parsed.signature):
            sts = signing.string_to_sign(canon).replace("\n", "\\n")
            raise _fail("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. "
                                                 f"server string to sign is:{sts}")
        self._check_nonce(parsed.access_key_id, values["x-acs-signature-nonce"][0].strip())
        self._check_operation(values, operation)
        return claimed

    @staticmethod
    def check_body(claimed: str, body: bytes) -> None:
        """Raise `WireError` unless `body` hashes to the signed `x-acs-content-sha256`."""
        digest = signing.sha256_hex(body)
        if not hmac.compare_digest(claimed, digest):
            raise _fail("SignatureDoesNotMatch", f"x-acs-content-sha256 does not match the SHA-256 of the request "
                                                 f"body (the server computed {digest}).")

    def verify(self, method: str, raw_path: str, raw_query: str, headers: Sequence[tuple[str, str]],
               body: bytes, operation: str) -> None:
        """Both parts at once, for a body already in hand."""
        self.check_body(self.verify_headers(method, raw_path, raw_query, headers, operation), body)

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
        if not self.store.use_nonce(access_key_id, nonce, self.settings.auth_clock(), self.settings.max_skew):
            raise _fail("SignatureNonceUsed", "Specified signature nonce was used already.")

    @staticmethod
    def _check_operation(values: dict[str, list[str]], operation: str) -> None:
        version = values["x-acs-version"][0].strip()
        if version != signing.API_VERSION:
            raise _fail("InvalidVersion", f"Specified parameter Version {version} is not valid.")
        action = values["x-acs-action"][0].strip()
        if action != operation:
            raise _fail("InvalidApi.NotFound", f"x-acs-action {action} does not name the operation at this path "
                                               f"({operation}).", 404)
