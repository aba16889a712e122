"""`drift` end to end on the local target: classes, formats, `--write` then a clean plan, `apply --write-back`."""

from __future__ import annotations

import asyncio
import difflib
import json
import re
from pathlib import Path
from typing import Any

from reconciler.cli import plan as plan_cli
from reconciler.desired.model import TrafficState
from reconciler.emulator.lifecycle import FAIL_LABEL

from .conftest import EXAMPLES, Cli
from .test_cli_failure_import import FX

REGION = "cn-shanghai"


async def by_hand(cli: Cli) -> None:
    """What someone does in the console: a config key, a label, the canary out of traffic."""
    async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))(REGION) as link:
        c = link.client
        await c.update_service("pmml_grey", {"metadata": {"rpc": {"keepalive": 9000}}})
        await c.release_service("pmml_grey", traffic_state=TrafficState.STANDALONE)
        await cli.timer.sleep(30)


def drift(cli: Cli, *args: str | Path) -> Any:
    return cli("drift", *args, "--state", cli.state)


def applied(cli: Cli, tmp_path: Path, policy: str = "") -> Path:
    text = (EXAMPLES / "pmml.yaml").read_text()
    if policy:
        text = text.replace("  traffic_mode: auto", f"{policy}\n  traffic_mode: auto", 1)
    path = tmp_path / "pmml.yaml"
    path.write_text(text)
    assert cli("apply", path, "--auto-approve").exit_code == 0
    return path


def test_no_drift_after_apply_exits_0(cli: Cli, tmp_path: Path) -> None:
    path = applied(cli, tmp_path)
    result = drift(cli, path)
    assert result.exit_code == 0, result.output
    assert "No drift." in result.output


def test_by_hand_changes_are_reported_in_every_format(cli: Cli, tmp_path: Path) -> None:
    path = applied(cli, tmp_path)
    asyncio.run(by_hand(cli))
    text = drift(cli, path)
    assert text.exit_code == 2, text.output
    assert "~ pmml_grey config.metadata.rpc.keepalive: file 5000, live 9000 (changed by hand" in text.output
    assert "~ pmml_grey traffic: file \"grouping\", live \"standalone\" (changed by hand" in text.output

    doc = json.loads(drift(cli, path, "--format", "json").stdout)
    assert doc["drift"] is True and doc["summary"]["by_hand"] == 2
    fields = {i["field"]: i for i in doc["items"]}
    assert fields["config.metadata.rpc.keepalive"]["next_apply"] == "keeps"  # the spec hash says: by hand
    assert fields["traffic"]["next_apply"] == "reverts"  # no record of traffic: the file wins by default
    lines = path.read_text().splitlines()
    assert "keepalive" in lines[fields["config.metadata.rpc.keepalive"]["line"] - 1]
    assert "traffic: grouping" in lines[fields["traffic"]["line"] - 1]

    github = drift(cli, path, "--format", "github")
    assert github.exit_code == 2
    annotations = [line for line in github.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) == 2
    assert all(re.match(r"^::warning file=[^,]+,line=\d+,col=\d+,title=drift::", a) for a in annotations)

    markdown = drift(cli, path, "--format", "markdown").stdout
    assert "| cn-shanghai/pmml | pmml_grey | `config.metadata.rpc.keepalive` | `5000` | `9000` |" in markdown


def test_write_changes_only_the_drifted_values_then_plan_is_clean(cli: Cli, tmp_path: Path) -> None:
    path = applied(cli, tmp_path, policy="  drift:\n    report: [traffic]     # the canary is moved by hand")
    before = path.read_text()
    asyncio.run(by_hand(cli))
    plan = cli("plan", path)
    assert "drift: pmml_grey traffic was changed outside eas-gitops" in plan.output  # kept live: named
    wrote = drift(cli, path, "--write")
    assert wrote.exit_code == 2 and "wrote 2 value(s)" in wrote.output
    after = path.read_text()
    diff = [line for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[:1] in "+-"]
    assert diff == ["-       traffic: grouping", "+       traffic: standalone",
                    "-           rpc: {keepalive: 5000}", "+           rpc: {keepalive: 9000}"]
    assert cli("plan", path, "--detailed-exitcode").exit_code == 0
    assert drift(cli, path).exit_code == 0


def test_revert_is_planned_and_not_written(cli: Cli, tmp_path: Path) -> None:
    path = applied(cli, tmp_path, policy="  drift: {default: revert}")
    asyncio.run(by_hand(cli))
    before = path.read_text()
    assert drift(cli, path, "--write").exit_code == 2
    assert path.read_text() == before  # revert: the next apply sets the file's values
    plan = json.loads(cli("plan", path, "--format", "json").stdout)
    assert {c["field"] for g in plan["groups"] for c in g["changes"]} == {"config.metadata.rpc.keepalive",
                                                                          "traffic_state"}


def test_unmanaged_member_and_missing_member(cli: Cli, tmp_path: Path) -> None:
    path = applied(cli, tmp_path)

    async def go() -> None:
        async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))(REGION) as link:
            await link.client.create_service({"name": "pmml_hand", "metadata": {"group": "pmml", "instance": 1,
                                                                                 "cpu": 1, "memory": 1000},
                                              "model_path": "oss://b/h.pmml", "processor": "pmml"})
            await link.client.delete_service("pmml_grey")
            await cli.timer.sleep(60)
    asyncio.run(go())
    doc = json.loads(drift(cli, path, "--format", "json").stdout)
    classes = {(i["service"], i["class"]) for i in doc["items"]}
    assert classes == {("pmml_hand", "unmanaged"), ("pmml_grey", "missing")}
    assert doc["summary"]["unmanaged"] == 1 and doc["summary"]["missing"] == 1


def failing_fx(cli: Cli, tmp_path: Path) -> Path:
    """fx applied; then its file asks fx_c to join and fx_a to shrink, and fx_a's next scaling fails."""
    groups = tmp_path / "groups"
    groups.mkdir()
    fx = groups / "fx.yaml"
    fx.write_text(FX.format(a=2, c="standalone"))
    assert cli("apply", groups, "--auto-approve").exit_code == 0

    async def fail_next_scaling() -> None:
        async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))(REGION) as link:
            await link.client.update_service_label("fx_a", {FAIL_LABEL: "OutOfMemory"})
    asyncio.run(fail_next_scaling())
    fx.write_text(FX.format(a=1, c="grouping"))  # fx_c joins first, then fx_a shrinks and fails
    return fx


def test_apply_write_back_records_what_a_failed_apply_left(cli: Cli, tmp_path: Path) -> None:
    fx = failing_fx(cli, tmp_path)
    result = cli("apply", fx.parent, "--auto-approve", "--write-back")
    assert result.exit_code == 1
    assert "restored: fx_c: traffic state standalone restored" in result.output
    assert f"write-back: wrote 1 live value(s) to {fx}" in result.output
    assert "fx_c, traffic: standalone" in fx.read_text()  # the file says what is live again
    after = drift(cli, fx.parent)
    assert after.exit_code == 0 and "No drift." in after.output


def test_without_write_back_the_file_keeps_its_wish(cli: Cli, tmp_path: Path) -> None:
    fx = failing_fx(cli, tmp_path)
    assert cli("apply", fx.parent, "--auto-approve").exit_code == 1
    assert "fx_c, traffic: grouping" in fx.read_text()
    doc = json.loads(drift(cli, fx.parent, "--format", "json").stdout)
    assert [(i["service"], i["field"]) for i in doc["items"]] == [("fx_c", "traffic")]


def test_write_leaves_a_file_edit_made_after_a_written_console_change(cli: Cli, tmp_path: Path) -> None:
    """After `--write` the spec-hash label is stale, so a later file edit looks like "both moved": not known.

    `--write` must not record the live value over that edit (the file may be ahead); it is still reported."""
    path = applied(cli, tmp_path)

    async def keepalive() -> None:
        async with plan_cli.WIRING.connector(plan_cli.Where(state=cli.state))(REGION) as link:
            await link.client.update_service("pmml_grey", {"metadata": {"rpc": {"keepalive": 9000}}})
            await cli.timer.sleep(30)

    asyncio.run(keepalive())
    assert "wrote 1 value(s)" in drift(cli, path, "--write").output
    edited = path.read_text().replace("lr_v3.pmml", "lr_v4.pmml")
    assert edited != path.read_text()
    path.write_text(edited)
    reported = drift(cli, path)
    assert reported.exit_code == 2 and "config.model_path" in reported.output, reported.output
    assert drift(cli, path, "--write").exit_code == 2
    assert path.read_text() == edited  # the edit is kept for the next apply
