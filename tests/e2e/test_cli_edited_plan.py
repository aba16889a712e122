"""A saved plan that was edited to hold numbers the desired state could not is refused before any write."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.errors import PlanError
from reconciler.plan.model import load_plan

from .conftest import EXAMPLES, Cli

Edit = Callable[[dict[str, Any]], None]


def _meta(key: str, value: object) -> Edit:
    def edit(step: dict[str, Any]) -> None:
        step["params"]["config"]["metadata"][key] = value
    return edit


def _replicas(step: dict[str, Any]) -> None:
    step["params"]["replicas"] = 10**9


EDITS: dict[str, tuple[Edit, str]] = {
    "cpu-infinity": (_meta("cpu", float("inf")), "metadata.cpu is inf"),
    "cpu-nan": (_meta("cpu", float("nan")), "metadata.cpu is nan"),
    "cpu-1e30": (_meta("cpu", 1e30), "metadata.cpu is 1e+30: outside 0..1024"),
    "instance-1e9": (_meta("instance", 10**9), "metadata.instance is 1e+09: outside 0..1000"),
    "memory-beyond-int64": (_meta("memory", 10**30), "beyond a 64-bit integer"),
    "deep-nan": (_meta("extra", {"nested": [float("nan")]}), "metadata.extra.nested[0] is nan"),
    "replicas-1e9": (_replicas, "less than or equal to 1000"),
}


@pytest.mark.parametrize("name", sorted(EDITS))
def test_edited_plan_with_absurd_numbers_is_refused_with_zero_writes(cli: Cli, tmp_path: Path, name: str) -> None:
    edit, expected = EDITS[name]
    saved = tmp_path / "plan.json"
    assert cli("plan", EXAMPLES / "pmml.yaml", "--out", saved).exit_code == 0
    raw = json.loads(saved.read_text())
    step = raw["groups"][0]["steps"][0]
    assert step["action"] == "create_service"
    edit(step)
    evil = tmp_path / "evil.json"
    evil.write_text(json.dumps(raw))  # json.dumps writes Infinity / NaN literals, as an editor could
    writes = cli.writes()
    result = cli("apply", "--plan", evil, "--auto-approve")
    assert result.exit_code == 1, result.output
    assert expected in result.output and "Traceback" not in result.output and "Value error" not in result.output
    assert cli.writes() == writes


def test_the_unedited_plan_still_loads(cli: Cli, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    assert cli("plan", EXAMPLES / "pmml.yaml", "--out", saved).exit_code == 0
    assert load_plan(saved.read_text()).groups
    raw = json.loads(saved.read_text())
    raw["groups"][0]["steps"][0]["params"]["config"]["metadata"]["cpu"] = 1025
    with pytest.raises(PlanError, match=r"outside 0\.\.1024"):
        load_plan(json.dumps(raw))
