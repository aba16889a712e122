"""A failing member stops its group and its traffic is restored; import + adopt of an existing group."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from apply.invariants import violations  # tests/ is on sys.path (rootdir-relative packages)

from reconciler.cli import plan as plan_cli
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.emulator.lifecycle import FAIL_LABEL

from .conftest import EXAMPLES, Cli

FX = """\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata: {{name: fx, region: cn-shanghai}}
spec:
  services:
    - {{name: fx_a, replicas: {a}, resources: {{cpu: 1, memory: 1000}},
       model: {{path: "oss://b/a.pmml", processor: pmml}}}}
    - {{name: fx_b, replicas: 1, resources: {{cpu: 1, memory: 1000}},
       model: {{path: "oss://b/b.pmml", processor: pmml}}}}
    - {{name: fx_c, traffic: {c}, replicas: 1, resources: {{cpu: 1, memory: 1000}},
       model: {{path: "oss://b/c.pmml", processor: pmml}}}}
"""


async def label(cli: Cli, service: str, labels: dict[str, str]) -> None:
    async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))("cn-shanghai") as link:
        await link.client.update_service_label(service, labels)


def test_member_going_failed_stops_its_group_restores_traffic_and_others_finish(cli: Cli, tmp_path: Path) -> None:
    groups = tmp_path / "groups"
    groups.mkdir()
    (groups / "fx.yaml").write_text(FX.format(a=2, c="standalone"))
    assert cli("apply", groups, "--auto-approve").exit_code == 0
    asyncio.run(label(cli, "fx_a", {FAIL_LABEL: "OutOfMemory"}))  # its next scaling ends Failed
    (groups / "fx.yaml").write_text(FX.format(a=1, c="grouping"))  # fx_c joins, then fx_a shrinks
    (groups / "pmml.yaml").write_text((EXAMPLES / "pmml.yaml").read_text())
    result = cli("apply", groups, "--auto-approve")
    assert result.exit_code == 1
    assert "cn-shanghai/fx: failed" in result.output and "cn-shanghai/pmml: done" in result.output
    assert "fx_a" in result.output and "Failed" in result.output and "OutOfMemory" in result.output
    assert "restored: fx_c: traffic state standalone restored" in result.output
    assert "left (" in result.output
    assert "  done: 1. " in result.output  # the steps that were carried out, by name
    backend = cli.emulator().state.emulator.backend
    assert backend.describe_service("cn-shanghai", "fx_c").record.traffic_state.value == "standalone"
    assert backend.describe_service("cn-shanghai", "fx_b").record.traffic_state.value == "grouping"
    events, shares = cli.history()
    assert violations(events, shares) == []
    journal = sorted(Path(".eas-gitops/journal").glob("*.jsonl"))[-1].read_text().splitlines()
    entries = [json.loads(line) for line in journal]
    assert any(e["outcome"] == "failed" and e["service"] == "fx_a" for e in entries)
    assert any(e["action"] == "rollback" and e["service"] == "fx_c" for e in entries)


async def seed_unmanaged(cli: Cli) -> None:
    """A group made by hand (console / eascmd): no eas-gitops labels, customized 100 / 400."""
    async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))("cn-shanghai") as link:
        c = link.client
        for name, replicas in (("shop_blue", 2), ("shop_green", 1)):
            await c.create_service({"name": name, "metadata": {"group": "shop", "instance": replicas, "cpu": 2,
                                                               "memory": 4000, "rpc": {"keepalive": 5000}},
                                    "model_path": f"oss://b/{name}.pmml", "processor": "pmml"},
                                   labels={"team": "search"})
        await cli.timer.sleep(10)
        await c.release_service("shop_blue", traffic_state=TrafficState.GROUPING, weight=100)
        await c.release_service("shop_green", traffic_state=TrafficState.GROUPING, weight=400)
        await c.update_group("shop", traffic_mode=TrafficMode.CUSTOMIZED)


def test_import_then_adopt_changes_only_the_ownership_labels(cli: Cli, tmp_path: Path) -> None:
    asyncio.run(seed_unmanaged(cli))
    out = tmp_path / "groups" / "shop.yaml"
    imported = cli("import", "shop", "--region", "cn-shanghai", "-o", out)
    assert imported.exit_code == 0, imported.output
    text = out.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    assert "weight: 400" in text and "traffic_mode: customized" in text and "keepalive: 5000" in text
    assert "metadata.rpc.keepalive" not in imported.output  # only secret-looking keys are flagged
    assert cli("validate", out).exit_code == 0
    untouched = cli("plan", out, "--detailed-exitcode")
    assert untouched.exit_code == 0, untouched.output  # not managed: left alone without --adopt
    adopt = cli("plan", out, "--adopt", "--format", "json")
    plan = json.loads(adopt.stdout)  # stderr says which target
    fields = {(c["service"], c["field"]) for g in plan["groups"] for c in g["changes"]}
    assert fields == {(s, f) for s in ("shop_blue", "shop_green")
                      for f in ("labels.eas-gitops/managed-by", "labels.eas-gitops/spec-hash")}
    assert {s["action"] for g in plan["groups"] for s in g["steps"]} == {"update_labels"}
    writes = cli.writes()
    assert cli("apply", out, "--adopt", "--auto-approve").exit_code == 0
    assert cli.writes() == writes + 4
    assert cli("plan", out, "--detailed-exitcode").exit_code == 0


def test_import_names_config_values_that_look_like_secrets(cli: Cli) -> None:
    async def seed() -> None:
        async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))("cn-shanghai") as link:
            await link.client.create_service({"name": "tok_a", "metadata": {"group": "tok", "instance": 1, "cpu": 1,
                                                                            "memory": 1000},
                                              "model_path": "oss://b/a.pmml", "processor": "pmml",
                                              "api_token": "hunter2"})
    asyncio.run(seed())
    result = cli("import", "tok", "--region", "cn-shanghai")
    assert result.exit_code == 0, result.output
    assert "warning: spec.services[0].config.api_token looks like a secret" in result.output
    assert "${env:NAME}" in result.output
