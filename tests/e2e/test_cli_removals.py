"""Removals through the CLI: drop a label and a config key from a file, plan shows them, apply removes them."""

from __future__ import annotations

from pathlib import Path

from .conftest import Cli

FILE = """\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata: {{name: shop, region: cn-shanghai}}
spec:
  services:
    - name: shop_a
      replicas: 1
      labels: {{team: ml{owner}}}
      resources: {{cpu: 1, memory: 1000}}
      model: {{path: "oss://b/shop.pmml", processor: pmml}}
{config}"""
CONFIG = "      config: {metadata: {rpc: {keepalive: 5000}}}\n"


def test_removed_label_and_config_key_through_plan_and_apply(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "shop.yaml"
    path.write_text(FILE.format(owner=", owner: alice", config=CONFIG))
    assert cli("apply", path, "--auto-approve").exit_code == 0
    path.write_text(FILE.format(owner="", config=""))

    plan = cli("plan", path)
    assert plan.exit_code == 0, plan.output
    assert "- shop_a labels.owner" in plan.output
    assert "- shop_a config.metadata.rpc.keepalive" in plan.output
    applied = cli("apply", path, "--auto-approve")
    assert applied.exit_code == 0, applied.output

    before = cli.writes("cn-shanghai")
    again = cli("plan", path, "--detailed-exitcode")
    assert again.exit_code == 0, again.output  # nothing left to do
    assert cli("apply", path, "--auto-approve").exit_code == 0
    assert cli.writes("cn-shanghai") == before  # zero writes
    events = cli.history("cn-shanghai")[0]
    actions = [e["action"] for e in events if e["kind"] == "write" and e["service"] == "shop_a"]
    assert "DeleteServiceLabel" in actions and actions.count("UpdateService") == 1
