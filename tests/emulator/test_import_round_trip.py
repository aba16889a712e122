"""`import` of live configs the short spellings cannot say (capacity, dedicated_resource, mixed spot), then plan."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from reconciler.apply.runtime import VirtualTimer
from reconciler.cli.main import app as cli_app
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

INSTANCES: dict[str, list[dict[str, Any]]] = {
    "mixed_a": [{"type": "dedicated_resource", "capacity": 2}, {"type": "ecs.c7.large", "capacity": "50%"},
                {"type": "ecs.g7.large", "spot_price_limit": 0.8}],
    "mixed_b": [{"type": "ecs.c7.large", "spot_price_limit": 1.5}, {"type": "ecs.c6.large"}],
}


def live_config(name: str, instances: list[dict[str, Any]]) -> dict[str, Any]:
    resource = {"resource": "eas-r-mixed1"} if instances[0]["type"] == "dedicated_resource" else {}
    return {"name": name, "metadata": {"instance": 3, "cpu": 2, "memory": 4000, "group": "mixed", **resource},
            "containers": [{"image": "registry/app:1", "command": "python serve.py", "port": 8000}],
            "autoscaler": {"min": 3, "max": 6, "strategies": {"qps": 40}} if name == "mixed_b" else None}


def test_import_then_plan_shows_no_change(cli: tuple[Path, VirtualTimer], tmp_path: Path) -> None:
    state, timer = cli
    emulator = create_app(EmulatorSettings(state_path=state, clock=timer)).state.emulator
    for name, instances in INSTANCES.items():
        config = {k: v for k, v in live_config(name, instances).items() if v is not None}
        emulator.backend.create_service({**config, "cloud": {"computing": {"instances": instances}}}, {})
    emulator.backend.release_service("cn-shanghai", "mixed_a", "grouping", None)
    timer.advance(30)
    emulator.store.close()
    runner = CliRunner()
    imported = runner.invoke(cli_app, ["import", "mixed", "-o", "mixed.yaml", "--state", str(state)])
    assert imported.exit_code == 0, imported.output
    services = YAML(typ="safe").load((tmp_path / "mixed.yaml").read_text())["spec"]["services"]
    by_name = {s["name"]: s for s in services}
    assert by_name["mixed_a"]["resources"]["instances"] == INSTANCES["mixed_a"]
    assert by_name["mixed_a"]["resources"]["resource_group"] == "eas-r-mixed1"
    assert by_name["mixed_b"]["resources"]["instances"] == INSTANCES["mixed_b"]  # mixed spot: entry by entry
    assert by_name["mixed_b"]["autoscaling"] == {"min": 3, "max": 6, "threshold": 40}  # metric qps: the default
    assert by_name["mixed_a"]["containers"][0]["command"] == "python serve.py"

    planned = runner.invoke(cli_app, ["plan", "mixed.yaml", "--adopt", "--format", "json", "--state", str(state)])
    assert planned.exit_code == 0, planned.output
    changes = [c for group in json.loads(planned.stdout)["groups"] for c in group["changes"]]
    assert changes and {c["field"] for c in changes} == {"labels.eas-gitops/managed-by", "labels.eas-gitops/spec-hash"}


@pytest.mark.parametrize("bad", [{"type": "ecs.c7.large", "size": 3}])
def test_an_entry_key_the_model_cannot_say_is_a_clear_error(cli: tuple[Path, VirtualTimer],
                                                           bad: dict[str, Any]) -> None:
    state, timer = cli
    emulator = create_app(EmulatorSettings(state_path=state, clock=timer)).state.emulator
    config = {k: v for k, v in live_config("odd", [bad]).items() if v is not None}
    emulator.backend.create_service({**config, "cloud": {"computing": {"instances": [bad]}}}, {})
    emulator.store.close()
    imported = CliRunner().invoke(cli_app, ["import", "mixed", "--state", str(state)])
    assert imported.exit_code == 1
    assert "cloud.computing.instances entry" in imported.output and "Traceback" not in imported.output
