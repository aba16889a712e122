"""CLI end-to-end fixtures: the real commands on the local target, the emulator's clock virtual.

`cli` runs `eas-gitops` through typer's CliRunner with `reconciler.cli.plan.WIRING` pointed at the
real `target_connector` (per-region emulator apps over the test's --state file) whose emulator
settings use a `VirtualTimer`, which is also apply's sleep: nothing really sleeps.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from reconciler.apply.runtime import VirtualTimer, target_connector
from reconciler.cli import plan as plan_cli
from reconciler.cli.main import app
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "groups"
REGIONS = ("cn-shanghai", "cn-beijing", "cn-hangzhou")


@dataclass
class Cli:
    state: Path
    initial: str
    timer: VirtualTimer
    runner: CliRunner

    def settings(self, region: str) -> EmulatorSettings:
        return EmulatorSettings(state_path=self.state, region=region, clock=self.timer,
                                initial_traffic_state=self.initial)  # type: ignore[arg-type]

    def __call__(self, *args: str | Path, env: dict[str, str] | None = None, input: str | None = None) -> Result:
        argv = [str(a) for a in args]
        if argv[0] in ("plan", "apply", "import"):
            argv += ["--state", str(self.state)]
        return self.runner.invoke(app, argv, env=env, input=input)

    def emulator(self, region: str = "cn-shanghai") -> Any:
        """A fresh app over the same state file (history, gateway); faults live per app, not in the file."""
        return create_app(self.settings(region))

    def history(self, region: str = "cn-shanghai") -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        events, timeline, _ = self.emulator(region).state.emulator.backend.history(None)
        shares: dict[str, list[dict[str, Any]]] = {}
        for snap in timeline:
            shares.setdefault(snap["group"], []).append(snap)
        return events, shares

    def writes(self, *regions: str) -> int:
        """Accepted writes in `regions` (default: every region the examples use), apply's lock bookkeeping
        left out (`lock_writes` counts that)."""
        return sum(1 for r in regions or REGIONS for e in self.history(r)[0]
                   if e["kind"] == "write" and not is_lock_write(e))

    def lock_writes(self, *regions: str) -> int:
        return sum(1 for r in regions or REGIONS for e in self.history(r)[0]
                   if e["kind"] == "write" and is_lock_write(e))


def is_lock_write(event: dict[str, Any]) -> bool:
    """A write of apply's lock: group labels that are only lock keys, or the delete of the empty group a lock made."""
    labels = event["detail"].get("Labels")
    if event["action"] in ("CreateGroup", "UpdateGroup") and labels is not None:
        return all(k.startswith("eas-gitops/lock") for k in labels)
    return event["action"] == "DeleteGroup"


@pytest.fixture(params=["standalone", "grouping"])
def cli(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    c = Cli(tmp_path / "state" / "local.db", request.param, VirtualTimer(), CliRunner())
    wiring = plan_cli.Wiring(
        connector=lambda where: target_connector(where.target, state=where.state, vpc=where.vpc,
                                                 emulator=c.settings, timer=c.timer),
        timer=c.timer)
    monkeypatch.setattr(plan_cli, "WIRING", wiring)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    yield c
