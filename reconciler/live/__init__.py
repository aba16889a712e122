"""Live state: what EAS reports, as frozen data (`reconciler.live.model`); the reader fills it in."""

from reconciler.live.model import (
    MANAGED_BY_LABEL,
    MANAGED_BY_VALUE,
    SPEC_HASH_LABEL,
    LiveGroup,
    LiveService,
    LiveState,
    ServiceStatus,
    fingerprint,
)

__all__ = [
    "MANAGED_BY_LABEL",
    "MANAGED_BY_VALUE",
    "SPEC_HASH_LABEL",
    "LiveGroup",
    "LiveService",
    "LiveState",
    "ServiceStatus",
    "fingerprint",
]
