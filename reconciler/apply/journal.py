"""The apply journal: one JSON object per line, one file per apply, for audits and post-mortems.

Path: `<dir>/<UTC timestamp>.jsonl` (default dir `.eas-gitops/journal`). Each write, read-back
and rollback action is a line: {"time", "region", "group", "step", "action", "service",
"request_id", "params", "before", "after", "outcome", "message"}. `params` come from the plan, so
secrets stay `${env:NAME}` references; `before` / `after` are listing facts (status, instances,
traffic state, weight, versions, labels), never a service config. Lines are flushed as written,
so an interrupted apply leaves a complete journal of what it did.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from reconciler.eas.models import Service


def facts(svc: Service | None) -> dict[str, Any] | None:
    """What the journal keeps of a service: no config (it may hold resolved secrets)."""
    if svc is None:
        return None
    return {"status": svc.status, "reason": svc.reason, "running": svc.running_instance,
            "total": svc.total_instance, "traffic_state": svc.traffic_state, "weight": svc.weight,
            "current_version": svc.current_version, "latest_version": svc.latest_version, "labels": svc.labels}


def utc_stamp(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S.%fZ")


class Journal:
    """Append-only JSON lines; `Journal(None)` keeps entries in memory only (tests, dry runs)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: list[dict[str, Any]] = []
        self._file: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._file = path.open("a", encoding="utf-8")

    @classmethod
    def in_dir(cls, directory: Path) -> Journal:
        return cls(directory / f"{utc_stamp()}.jsonl")

    def write(self, **entry: Any) -> None:
        line = {"time": datetime.now(UTC).isoformat(timespec="milliseconds"), **entry}
        self.entries.append(line)
        if self._file is not None:
            self._file.write(json.dumps(line, sort_keys=True, ensure_ascii=False, default=str) + "\n")
            self._file.flush()

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
