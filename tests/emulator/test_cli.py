"""`eas-gitops emulator serve | history | traffic` through typer's runner."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.emulator.backend import Backend
from reconciler.emulator.listing import ServiceQuery
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_SECRET, EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import REGION, InProcess, Served, signed_headers

runner = CliRunner()


def seed(path: Path) -> None:
    """A group of 4 + 1 replicas, both grouping, already running (created 10 minutes ago)."""
    b = Backend(EmulatorSettings(state_path=path), Store(path))
    for name, replicas in (("pmml_prod", 4), ("pmml_grey", 1)):
        b.create_service({"name": name, "metadata": {"instance": replicas, "group": "pmml"}}, {})
    b.advance_clock(600)
    for name in ("pmml_prod", "pmml_grey"):
        b.release_service(REGION, name, "grouping", None)
    b.store.close()


def test_history_text_and_json_from_the_local_file(tmp_path: Path) -> None:
    state = tmp_path / "local.db"
    seed(state)
    text = runner.invoke(app, ["emulator", "history", "--state", str(state), "--group", "pmml"])
    assert text.exit_code == 0, text.output
    assert "CreateService" in text.output and "ReleaseService" in text.output
    assert "pmml_grey=20.0% pmml_prod=80.0%" in text.output.splitlines()[-1]
    raw = runner.invoke(app, ["emulator", "history", "--state", str(state), "--format", "json"])
    data = json.loads(raw.output)
    assert data["Shares"]["pmml"][-1]["shares"] == {"pmml_grey": 0.2, "pmml_prod": 0.8}


def test_traffic_observed_beside_expected(tmp_path: Path) -> None:
    state = tmp_path / "local.db"
    seed(state)
    result = runner.invoke(app, ["emulator", "traffic", "pmml", "-n", "100", "--state", str(state)])
    assert result.exit_code == 0, result.output
    rows = {line.split()[0]: line.split()[1:] for line in result.output.splitlines()[1:]}
    assert rows == {"pmml_grey": ["20", "20.0%", "20.0%"], "pmml_prod": ["80", "80.0%", "80.0%"]}


def test_traffic_reports_a_black_hole(tmp_path: Path) -> None:
    result = runner.invoke(app, ["emulator", "traffic", "nothing", "-n", "3", "--state", str(tmp_path / "x.db")])
    assert result.exit_code == 0
    assert "(HTTP 404)" in result.output


def test_history_against_a_served_emulator(served: Served, sdk: Any) -> None:
    from alibabacloud_eas20210701 import models as m

    sdk.create_service(m.CreateServiceRequest(body=json.dumps({"name": "cli_a", "metadata": {"group": "cli"}})))
    result = runner.invoke(app, ["emulator", "history", "--target", served.base_url, "--group", "cli"])
    assert result.exit_code == 0, result.output
    assert "cli_a" in result.output and "GroupCreated" in result.output


def test_bad_and_unreachable_targets(tmp_path: Path) -> None:
    bad = runner.invoke(app, ["emulator", "history", "--target", "ftp://x"])
    assert bad.exit_code == 1 and "unknown target 'ftp://x'" in bad.output
    down = runner.invoke(app, ["emulator", "history", "--target", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "cannot reach" in down.output


def test_serve_prints_endpoint_and_key_id_never_the_secret(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app, **kw))
    monkeypatch.setenv("EAS_EMULATOR_ACCESS_KEY_ID", "LTAI5tCustomKey")
    monkeypatch.setenv("EAS_EMULATOR_ACCESS_KEY_SECRET", "custom-secret-value")
    result = runner.invoke(app, ["emulator", "serve", "--port", "18080", "--state", str(tmp_path / "s.db")])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:18080" in result.output and "LTAI5tCustomKey" in result.output
    assert "custom-secret-value" not in result.output and LOCAL_ACCESS_KEY_SECRET not in result.output
    assert (started["host"], started["port"]) == ("127.0.0.1", 18080)
    assert started["app"].state.emulator.settings.credentials == {"LTAI5tCustomKey": "custom-secret-value"}


def test_serve_wants_both_halves_of_a_custom_key(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import uvicorn

    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: pytest.fail("must not start"))
    monkeypatch.delenv("EAS_EMULATOR_ACCESS_KEY_SECRET", raising=False)
    result = runner.invoke(app, ["emulator", "serve", "--access-key-id", "LTAI5tOnlyId", "--state",
                                 str(tmp_path / "s.db")])
    assert result.exit_code == 1 and "--secret-file" in result.output


def test_serve_region_answers_for_that_region_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """`serve --region` is one regional endpoint: the other region's services in the same file stay invisible."""
    import uvicorn

    state = tmp_path / "shared.db"
    seed(state)  # pmml_prod and pmml_grey in group pmml, region cn-shanghai
    started: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: started.update(app=app))
    result = runner.invoke(app, ["emulator", "serve", "--region", "cn-beijing", "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("EAS emulator for cn-beijing on http://127.0.0.1:8080")
    client = InProcess(started["app"])

    def call(method: str, path: str, action: str, body: Any = None) -> Any:
        data = b"" if body is None else json.dumps(body).encode()
        headers = signed_headers(method, path, {}, data, "testserver", action)
        return client.request(method, path, content=data, headers=headers)

    config = {"name": "bj_a", "metadata": {"instance": 1, "group": "bj"}}
    assert call("POST", "/api/v2/services", "CreateService", config).json()["Region"] == "cn-beijing"
    services = call("GET", "/api/v2/services", "ListServices").json()
    assert [(s["ServiceName"], s["Region"]) for s in services["Services"]] == [("bj_a", "cn-beijing")]
    assert services["TotalCount"] == 1
    groups = call("GET", "/api/v2/groups", "ListGroups").json()
    assert [(g["Name"], g["ClusterId"]) for g in groups["Groups"]] == [("bj", "cn-beijing")]
    assert groups["TotalCount"] == 1
    other = call("GET", f"/api/v2/services/{REGION}/pmml_prod", "DescribeService")
    assert (other.status_code, other.json()["Code"]) == (404, "InvalidService.NotFound")
    assert other.json()["HostId"] == "pai-eas.cn-beijing.aliyuncs.com"
    shanghai = Backend(EmulatorSettings(state_path=state), Store(state))
    assert sorted(v.record.name for v in shanghai.list_services(ServiceQuery())[0]) == ["pmml_grey", "pmml_prod"]
    assert [g.name for g in shanghai.list_groups("", "", 1, 100)[0]] == ["pmml"]
