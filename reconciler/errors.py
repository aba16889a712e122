"""The one error tree of eas-gitops.

Foreign exceptions (httpx, ruamel.yaml, pydantic, SQLite) are mapped to these once, at the
boundary where they occur; everything above that boundary sees only this tree. Only the CLI maps
errors to exit codes.

    EasGitopsError                      base; `exit_code` is what the CLI returns (default 1)
    ├── SpecError                       desired state is invalid; carries every Problem at once
    ├── ConfigError                     bad settings or CLI arguments (target, credentials, paths)
    │   └── CredentialsError            no usable credential for the chosen target
    ├── ApiError                        EAS answered with an error body (status, Code, Message, RequestId)
    │   ├── NotFoundError               *.NotFound
    │   ├── ConflictError               already exists / state does not allow the operation
    │   ├── AuthError                   signature, access key, timestamp, nonce, permission
    │   ├── ThrottledError              Throttling.* or x-acs-retry-after (retryable)
    │   └── ServerError                 5xx (retryable for idempotent calls)
    ├── TransportError                  no answer: timeout, refused or dropped connection (retryable)
    ├── PlanError                       a plan cannot be made or is unsafe (names rule, step, numbers)
    │   └── StalePlanError              a saved plan no longer matches live state
    └── ApplyError                      an apply step failed; carries what was done and what is left
        └── RolloutAbortedError         a rollout was aborted and rolled back (exit 3)
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong with the input, located at file:line:column (1-based; 0 = unknown)."""

    file: str
    line: int
    column: int
    message: str
    hint: str = field(default="", compare=False)

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}:{self.column or 1}"
        text = f"{where}: {self.message}"
        if self.hint:
            text += f" ({self.hint})"
        return text


class EasGitopsError(Exception):
    """Base of every error this package raises on purpose."""

    exit_code = 1


class SpecError(EasGitopsError):
    """The desired state is invalid. Carries all problems of the run, sorted by file and line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems)
        count = len(self.problems)
        super().__init__(f"{count} problem{'s' if count != 1 else ''} in the desired state")


class ConfigError(EasGitopsError):
    """Bad settings or arguments: an unknown target, a missing file, conflicting options."""


class CredentialsError(ConfigError):
    """No usable credential for the chosen target."""


class ApiError(EasGitopsError):
    """EAS (or the emulator) answered with an error body."""

    retryable = False
    host_id = ""  # the body's HostId (the endpoint's host, e.g. pai-eas.cn-shanghai.aliyuncs.com), when it had one

    def __init__(self, status: int, code: str, message: str, request_id: str = "", operation: str = "") -> None:
        self.status = status
        self.code = code
        self.message = message
        self.request_id = request_id
        self.operation = operation
        where = f"{operation}: " if operation else ""
        rid = f" [RequestId {request_id}]" if request_id else ""
        super().__init__(f"{where}{code} (HTTP {status}): {message}{rid}")


class NotFoundError(ApiError):
    """The named service or group does not exist."""


class ConflictError(ApiError):
    """Already exists, or the current state does not allow the operation (e.g. safety lock)."""


class AuthError(ApiError):
    """Signature, access key, timestamp, nonce or permission rejected."""


class ThrottledError(ApiError):
    """Flow control; `retry_after` seconds come from x-acs-retry-after when EAS sends it."""

    retryable = True

    def __init__(self, status: int, code: str, message: str, request_id: str = "", operation: str = "",
                 retry_after: float | None = None) -> None:
        super().__init__(status, code, message, request_id, operation)
        self.retry_after = retry_after


class ServerError(ApiError):
    """EAS failed (5xx)."""

    retryable = True


class TransportError(EasGitopsError):
    """No usable answer: timeout, connection refused or dropped."""

    retryable = True


class PlanError(EasGitopsError):
    """A plan cannot be made, or breaks a safety rule."""


class StalePlanError(PlanError):
    """A saved plan was computed from live state that has changed since."""


class LockError(EasGitopsError):
    """Another apply holds a group's lock and the wait for it ran out (or it was refused at once)."""


class LockLostError(LockError):
    """This apply no longer holds a group's lock (it expired and another apply took it): stop, write nothing."""


class ApplyError(EasGitopsError):
    """An apply step failed."""


class RolloutAbortedError(ApplyError):
    """A rollout was aborted on evidence and rolled back."""

    exit_code = 3
