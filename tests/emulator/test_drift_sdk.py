"""Drift on a served emulator: out-of-band changes made with the official SDK, the autoscaler at work.

The group is applied by eas-gitops through the served emulator (its clock is the CLI's virtual
timer, so apply's waits pass at once); then the official SDK changes things behind its back, the
autoscaler scales a member under load, and `drift` must say which is which, `--write` must change
only the drifted values of a file full of comments, and `plan --detailed-exitcode` must then exit 0.
"""

from __future__ import annotations

import asyncio
import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from alibabacloud_eas20210701 import models as m
from typer.testing import CliRunner, Result

from reconciler.apply.runtime import VirtualTimer, target_connector
from reconciler.cli import plan as plan_cli
from reconciler.cli.main import app as cli_app
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .helpers import REGION, admin_auth, sdk_client, serving

GROUP_FILE = """\
# yaml-language-server: $schema=../schemas/servicegroup.schema.json
# The shop group: a fixed primary and an autoscaled helper.
apiVersion: eas-gitops/v1      # always
kind: ServiceGroup             # always
metadata:
  name: shop                   # /api/predict/shop
  region: cn-shanghai

spec:
  traffic_mode: auto           # shares follow replicas
  drift:
    report: [traffic]          # the on-call may take a member out by hand
  services:
    # the primary: two replicas
    - name: shop_main          # primary
      replicas: 2              # fixed
      resources: {cpu: 1, memory: 1000}   # small
      model: {path: "oss://b/main.pmml", processor: pmml}
      labels:
        team: search           # who to call
      config:
        metadata:
          rpc:
            keepalive: 5000    # ms

    # the helper: scaled by load
    - name: shop_auto          # autoscaled
      autoscaling: {min: 1, max: 4, threshold: 5}   # qps per replica
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://b/auto.pmml", processor: pmml}
# end of file
"""


@dataclass
class World:
    url: str
    port: int
    timer: VirtualTimer
    runner: CliRunner

    def cli(self, *args: str | Path) -> Result:
        return self.runner.invoke(cli_app, [str(a) for a in args] + ["--target", self.url])

    def admin(self, path: str, body: dict[str, Any]) -> Any:
        response = httpx.post(f"{self.url}{path}", json=body, timeout=10, auth=admin_auth())
        response.raise_for_status()
        return response.json()


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    timer = VirtualTimer()
    served = create_app(EmulatorSettings(clock=timer, region=REGION, initial_traffic_state="grouping"))
    wiring = plan_cli.Wiring(connector=lambda where: target_connector(where.target, state=where.state, vpc=where.vpc,
                                                                      timer=timer), timer=timer)
    monkeypatch.setattr(plan_cli, "WIRING", wiring)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    with serving(served) as url:
        yield World(url, int(url.rpartition(":")[2]), timer, CliRunner())


def out_of_band(sdk: Any) -> None:
    """The console / an SDK script: a config key, a label value, a member out of traffic, a reserved label,
    and a member added to the group by hand."""
    sdk.update_service(REGION, "shop_main",
                       m.UpdateServiceRequest(body=json.dumps({"metadata": {"rpc": {"keepalive": 9000}}})))
    sdk.update_service_label(REGION, "shop_main", m.UpdateServiceLabelRequest(
        labels={"team": "ranking", "eas-gitops/lock": "someone"}))
    sdk.release_service(REGION, "shop_main", m.ReleaseServiceRequest(traffic_state="standalone"))
    config = {"name": "shop_hand", "processor": "pmml", "model_path": "oss://b/hand.pmml",
              "metadata": {"instance": 1, "cpu": 1, "memory": 1000, "group": "shop"}}
    sdk.create_service(m.CreateServiceRequest(body=json.dumps(config)))


def test_sdk_changes_are_classified_and_written_back_byte_for_byte(world: World, tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(GROUP_FILE)
    applied = world.cli("apply", path, "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert world.cli("drift", path).exit_code == 0

    # the autoscaler at work: load on the group, time passes, shop_auto gets more instances
    world.admin("/_emulator/load", {"group": "shop", "requests": 1200, "seconds": 60})
    asyncio.run(world.timer.sleep(120))
    auto = sdk_client(world.port).describe_service(REGION, "shop_auto").body
    assert auto.total_instance > 1  # the autoscaler moved it
    calm = json.loads(world.cli("drift", path, "--format", "json").stdout)
    assert [(i["service"], i["field"], i["class"]) for i in calm["items"]] == [("shop_auto", "replicas", "platform")]
    assert calm["drift"] is False and world.cli("drift", path).exit_code == 0

    out_of_band(sdk_client(world.port))
    result = world.cli("drift", path, "--format", "json")
    assert result.exit_code == 2, result.output
    found = {(i["service"], i["field"]): i for i in json.loads(result.stdout)["items"]}
    assert {k: v["class"] for k, v in found.items()} == {
        ("shop_auto", "replicas"): "platform",
        ("shop_main", "config.metadata.rpc.keepalive"): "by_hand",
        ("shop_main", "labels.team"): "by_hand",
        ("shop_main", "traffic"): "by_hand",
        ("shop_hand", "service"): "unmanaged",
    }  # the reserved label and the platform's config defaults are never drift
    assert found[("shop_main", "config.metadata.rpc.keepalive")]["next_apply"] == "keeps"
    assert found[("shop_main", "traffic")]["next_apply"] == "keeps"  # named under report

    wrote = world.cli("drift", path, "--write")
    assert wrote.exit_code == 2 and "wrote 3 value(s)" in wrote.output
    after = path.read_text()
    changes = [line for line in difflib.ndiff(GROUP_FILE.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert changes == [
        "-         team: search           # who to call", "+         team: ranking           # who to call",
        "-             keepalive: 5000    # ms", "+             keepalive: 9000    # ms",
        "+       traffic: standalone",
    ]
    planned = world.cli("plan", path, "--detailed-exitcode")
    assert planned.exit_code == 0, planned.output
    left = json.loads(world.cli("drift", path, "--format", "json").stdout)
    assert {i["class"] for i in left["items"]} == {"platform", "unmanaged"}  # nothing a file could say
