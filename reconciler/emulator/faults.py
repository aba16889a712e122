"""Injected faults: make chosen operations fail, slow down or drop, at a rate, reproducibly.

A fault names an operation (a management action such as `ReleaseService`, `*` for every management
action, or `Predict` for the gateway), a kind, a rate in [0, 1] and optionally how many times it
may fire. Each fault draws from its own `random.Random(seed)`, so a run is reproducible.
Kinds: `throttle` (429 `Throttling.User` with `x-acs-retry-after` in milliseconds), `error500`,
`error503`, `latency` (added delay, then the normal answer) and `drop` (the response is started and
the connection is cut: a client sees a protocol or read error). Faults live in the process that
serves the app (they are not stored in SQLite).

A fault's body is validated strictly (FaultSpec): rate in [0, 1], latency_ms and retry_after_ms at
most ten minutes, count >= 0, no unknown keys, no NaN or infinity.

By default a fault strikes before the operation runs, so nothing is applied. With `"after": true`
(error500, error503 and drop only) the operation runs and its effect is stored, then the answer is
replaced by the error or the cut: the client cannot know that its write landed. That is the case a
retry-safe client must get right (a repeated CreateService answers "already exists").
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from reconciler.emulator import errors


class FaultKind(StrEnum):
    THROTTLE = "throttle"
    ERROR500 = "error500"
    ERROR503 = "error503"
    LATENCY = "latency"
    DROP = "drop"


@dataclass
class Fault:
    operation: str
    kind: FaultKind
    rate: float = 1.0
    latency_ms: float = 0.0
    retry_after_ms: int = 100
    remaining: int | None = None  # None: unlimited
    seed: int = 0
    after: bool = False  # strike after the operation has been applied (unknown outcome for the client)
    fired: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def applies(self, operation: str) -> bool:
        if self.operation == "*":
            return operation != "Predict"
        return self.operation == operation

    def fire(self) -> bool:
        if self.remaining is not None and self.remaining <= 0:
            return False
        if self.rng.random() >= self.rate:
            return False
        self.fired += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def describe(self) -> dict[str, Any]:
        return {"operation": self.operation, "kind": self.kind.value, "rate": self.rate, "latency_ms": self.latency_ms,
                "retry_after_ms": self.retry_after_ms, "remaining": self.remaining, "seed": self.seed,
                "after": self.after, "fired": self.fired}


_AFTER_KINDS = (FaultKind.ERROR500, FaultKind.ERROR503, FaultKind.DROP)
MAX_LATENCY_MS = 600_000.0  # ten minutes: longer than any client timeout
MAX_COUNT = 1_000_000_000


class FaultSpec(BaseModel):
    """The body of `POST /_emulator/faults`: known keys only, strict types, finite bounded numbers."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    operation: str = Field(min_length=1, max_length=100)
    kind: FaultKind
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    latency_ms: float = Field(default=0.0, ge=0.0, le=MAX_LATENCY_MS)
    retry_after_ms: int = Field(default=100, ge=0, le=int(MAX_LATENCY_MS))
    count: int | None = Field(default=None, ge=0, le=MAX_COUNT)
    seed: int = Field(default=0, ge=0, le=2**63 - 1)
    after: bool = False

    @field_validator("kind", mode="before")
    @classmethod
    def _kind_from_text(cls, value: Any) -> Any:
        return FaultKind(value) if isinstance(value, str) and value in FaultKind._value2member_map_ else value


def parse_fault(spec: dict[str, Any]) -> Fault:
    """A fault from an admin body; `WireError` InvalidParameter naming what is wrong."""
    try:
        valid = FaultSpec.model_validate(spec)
    except ValidationError as exc:
        raise errors.invalid_parameter(f"Bad fault: {errors.describe_validation(exc)}. Needs operation, kind "
                                       f"({', '.join(k.value for k in FaultKind)}) and optional rate, "
                                       "latency_ms, retry_after_ms, count, seed, after.") from None
    if valid.after and valid.kind not in _AFTER_KINDS:
        raise errors.invalid_parameter(f"after is true only with kind {', '.join(k.value for k in _AFTER_KINDS)} "
                                       f"(got {valid.kind.value}).")
    return Fault(operation=valid.operation, kind=valid.kind, rate=valid.rate, latency_ms=valid.latency_ms,
                 retry_after_ms=valid.retry_after_ms, remaining=valid.count, seed=valid.seed, after=valid.after)


@dataclass(frozen=True)
class Outcome:
    """What the faults decided for one request: added delay, then perhaps an error or a drop."""

    delay_ms: float = 0.0
    error: errors.WireError | None = None
    drop: bool = False
    after: bool = False  # the error or drop replaces the answer of an applied operation

    @property
    def fails(self) -> bool:
        return self.drop or self.error is not None


class Faults:
    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def describe(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.describe() for f in self._faults]

    def decide(self, operation: str) -> Outcome:
        """Roll every fault that applies to `operation`; the first error or drop wins, delays add up."""
        delay, error, drop, after = 0.0, None, False, False
        with self._lock:
            for fault in self._faults:
                if not fault.applies(operation) or (fault.kind is not FaultKind.LATENCY and (error or drop)):
                    continue
                if not fault.fire():
                    continue
                after = after or fault.after
                if fault.kind is FaultKind.LATENCY:
                    delay += fault.latency_ms
                elif fault.kind is FaultKind.DROP:
                    drop = True
                elif fault.kind is FaultKind.THROTTLE:
                    error = errors.throttled(fault.retry_after_ms)
                else:
                    error = errors.server_error(503 if fault.kind is FaultKind.ERROR503 else 500)
        return Outcome(delay, error, drop, after)
