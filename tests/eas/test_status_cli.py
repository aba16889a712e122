"""`eas-gitops status` through typer's CliRunner on the local target with a temporary --state file."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.desired.model import TrafficMode, TrafficState
from reconciler.emulator.admin_api import AdminAuth
from reconciler.target_names import LOCAL_BASE_URL
from reconciler.targets import close_local_app, local_app, local_credentials, open_client

runner = CliRunner()

ADMIN_AUTH = AdminAuth(local_credentials())  # admin calls are signed like management calls


def _config(name: str, group: str, replicas: int) -> dict[str, object]:
    return {"name": name, "processor": "pmml", "model_path": "oss://b/m.pmml",
            "metadata": {"group": group, "instance": replicas, "cpu": 1, "memory": 1000}}


async def _populate(state: Path) -> None:
    """pmml: prod 4 + grey 1 replicas, both grouping (auto: 80/20); canary: a 2 / b 1, customized 100/300."""
    emulator = local_app(state)
    transport = httpx.ASGITransport(app=emulator)
    async with open_client("local", state=state, transport=transport) as c, \
            httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL, auth=ADMIN_AUTH) as admin:
        for name, group, replicas in [("pmml_prod", "pmml", 4), ("pmml_grey", "pmml", 1),
                                      ("canary_a", "canary", 2), ("canary_b", "canary", 1)]:
            await c.create_service(_config(name, group, replicas))
        (await admin.post("/_emulator/clock", json={"advance": 60})).raise_for_status()
        for name, weight in [("pmml_prod", None), ("pmml_grey", None), ("canary_a", 100), ("canary_b", 300)]:
            await c.release_service(name, traffic_state=TrafficState.GROUPING, weight=weight)
        await c.update_group("canary", traffic_mode=TrafficMode.CUSTOMIZED)
    close_local_app(emulator)
    async with open_client("local", "cn-hangzhou", state=state) as c:  # same state file, another region
        await c.create_service(_config("hz_only", "hz", 1))


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("status") / "local.db"
    asyncio.run(_populate(path))
    return path


@pytest.fixture(autouse=True)
def _no_target_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAS_GITOPS_TARGET", raising=False)
    monkeypatch.delenv("EAS_GITOPS_REGION", raising=False)


def test_status_json_lists_shares_and_modes(state: Path) -> None:
    result = runner.invoke(app, ["status", "--state", str(state), "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    rows = {r["service"]: r for r in data["rows"]}
    assert {k: (v["share_percent"], v["weight"], v["running"], v["total"]) for k, v in rows.items()} == {
        "pmml_prod": (80.0, 80, 4, 4), "pmml_grey": (20.0, 20, 1, 1),
        "canary_a": (25.0, 100, 2, 2), "canary_b": (75.0, 300, 1, 1)}
    assert {g["name"]: g["traffic_mode"] for g in data["groups"]} == {"pmml": "auto", "canary": "customized"}
    assert rows["pmml_prod"]["status"] == "Running" and rows["pmml_prod"]["traffic_state"] == "grouping"


def test_status_table_for_one_group(state: Path) -> None:
    result = runner.invoke(app, ["status", "--state", str(state), "--group", "pmml"])
    assert result.exit_code == 0, result.output
    cells = [[c.strip() for c in line.strip("│ ").split("│")] for line in result.stdout.splitlines() if "pmml_" in line]
    rows = {row[0]: row[1:] for row in cells}
    assert set(rows) == {"pmml_prod", "pmml_grey"}
    # COMMIT is "-": these services were created without eas-gitops (no eas-gitops/commit label)
    assert rows["pmml_prod"] == ["pmml", "auto", "Running", "4/4", "1", "1000M", "80", "grouping", "80%", "-"]
    assert rows["pmml_grey"] == ["pmml", "auto", "Running", "1/1", "1", "1000M", "20", "grouping", "20%", "-"]
    assert "canary" not in result.stdout


def test_status_shows_only_the_chosen_region(state: Path) -> None:
    result = runner.invoke(app, ["status", "--state", str(state), "--region", "cn-hangzhou", "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [r["service"] for r in json.loads(result.stdout)["rows"]] == ["hz_only"]


def test_status_of_a_missing_group_is_exit_1(state: Path) -> None:
    result = runner.invoke(app, ["status", "--state", str(state), "--group", "nope"])
    assert result.exit_code == 1
    assert "InvalidGroup.NotFound" in result.stderr and "Traceback" not in result.output


def test_remote_url_without_credentials_is_one_line_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    result = runner.invoke(app, ["status", "--target", "https://eas.example.com"])
    assert result.exit_code == 1
    said, *errors = result.stderr.strip().splitlines()
    assert said == "target: https://eas.example.com (region cn-shanghai)"
    assert len(errors) == 1 and errors[0].startswith("error: No credentials for https://eas.example.com")


def test_target_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAS_GITOPS_TARGET", "ftp://nowhere")
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 1 and "unknown target 'ftp://nowhere'" in result.stderr
