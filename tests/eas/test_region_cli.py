"""An http(s) target answers for one region: plan and apply of another region's file are refused, zero writes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.cli.where import region_of_host
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .emulated import served

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"
runner = CliRunner()


@pytest.fixture
def shanghai(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    """A served emulator for cn-shanghai (its URL and app); credentials: the local pair (loopback)."""
    for var in ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "EAS_GITOPS_REGION"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)
    app_ = create_app(EmulatorSettings(state_path=tmp_path / "served.db", region="cn-shanghai"))
    with served(app_) as url:
        yield url, app_


def calls(app_: Any) -> list[dict[str, Any]]:
    events, _, _ = app_.state.emulator.backend.history(None)
    return [e for e in events if e["kind"] == "write"]


def hangzhou_file(tmp_path: Path) -> Path:
    file = tmp_path / "pmml_hz.yaml"
    file.write_text(EXAMPLE.read_text().replace("region: cn-shanghai", "region: cn-hangzhou"))
    return file


@pytest.mark.parametrize("command", [["plan"], ["apply", "--auto-approve"]])
def test_a_file_of_another_region_is_refused_before_any_write(shanghai: tuple[str, Any], tmp_path: Path,
                                                              command: list[str]) -> None:
    url, app_ = shanghai
    file = hangzhou_file(tmp_path)
    result = runner.invoke(app, [*command, str(file), "--target", url])
    assert result.exit_code == 1, result.output
    at = next(n for n, text in enumerate(file.read_text().splitlines(), 1) if "region: cn-hangzhou" in text)
    assert f"  {file}:{at}:11: region cn-hangzhou is not served by target {url}, which answers for cn-shanghai " \
           "(point --target at the endpoint of cn-hangzhou" in result.stderr
    assert f"target: {url} (region cn-shanghai)" in result.stderr
    assert calls(app_) == []


def test_the_region_the_target_serves_is_applied(shanghai: tuple[str, Any], tmp_path: Path) -> None:
    url, _ = shanghai
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--target", url, "--format", "json"])
    assert result.exit_code == 0, result.output
    assert [g["region"] for g in json.loads(result.stdout)["groups"]] == ["cn-shanghai"]


def test_a_region_option_against_the_endpoints_answer_is_refused(shanghai: tuple[str, Any]) -> None:
    url, app_ = shanghai
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--target", url, "--region", "cn-beijing"])
    assert result.exit_code == 1
    assert f"target {url} answers for region cn-shanghai (the HostId of its answers), but --region / " \
           "EAS_GITOPS_REGION says cn-beijing" in result.stderr
    assert calls(app_) == []


def test_the_endpoints_answer_names_its_region(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EAS_GITOPS_REGION", raising=False)
    app_ = create_app(EmulatorSettings(state_path=tmp_path / "hz.db", region="cn-hangzhou"))
    with served(app_) as url:
        good = runner.invoke(app, ["plan", str(hangzhou_file(tmp_path)), "--target", url])
        bad = runner.invoke(app, ["apply", str(EXAMPLE), "--target", url, "--auto-approve"])
    assert good.exit_code == 0, good.output
    assert f"target: {url} (region cn-hangzhou)" in good.stderr  # no --region: the endpoint said it
    assert bad.exit_code == 1 and "region cn-shanghai is not served by target" in bad.stderr
    assert calls(app_) == []


@pytest.mark.parametrize(("host", "region"), [
    ("pai-eas.cn-shanghai.aliyuncs.com", "cn-shanghai"), ("pai-eas-manage-vpc.ap-southeast-1.aliyuncs.com",
                                                          "ap-southeast-1"),
    ("eas.example.com", None), ("", None), ("pai-eas.cn-shanghai.aliyuncs.com.evil.com", None)])
def test_region_of_host(host: str, region: str | None) -> None:
    assert region_of_host(host) == region


def test_two_regions_for_one_url_are_refused(shanghai: tuple[str, Any]) -> None:
    url, _ = shanghai
    result = runner.invoke(app, ["plan", str(EXAMPLE), "--target", url, "--region", "cn-shanghai",
                                 "--region", "cn-hangzhou"])
    assert result.exit_code == 1 and "answers for one region" in result.stderr


def test_a_saved_plan_of_another_region_is_refused(shanghai: tuple[str, Any], tmp_path: Path) -> None:
    url, app_ = shanghai
    saved = tmp_path / "plan.json"
    made = runner.invoke(app, ["plan", str(hangzhou_file(tmp_path)), "--state", str(tmp_path / "local.db"),
                               "--out", str(saved)])
    assert made.exit_code == 0, made.output
    result = runner.invoke(app, ["apply", "--plan", str(saved), "--target", url, "--auto-approve"])
    assert result.exit_code == 1, result.output
    assert f"the saved plan {saved} covers region cn-hangzhou, but target {url} answers for cn-shanghai" \
        in result.stderr
    assert calls(app_) == []


def test_a_url_that_is_not_eas_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from starlette.applications import Starlette

    with served(Starlette()) as url:  # answers 404 with a plain-text body to everything
        result = runner.invoke(app, ["status", "--target", url])
    assert result.exit_code == 1
    assert f"GET {url}/api/v2/services answered 404 Not Found without an EAS error body: {url} does not look " \
           "like an EAS endpoint (check --target)" in result.stderr


def test_a_refused_connection_names_the_url(monkeypatch: pytest.MonkeyPatch) -> None:
    from .emulated import _free_port

    monkeypatch.setenv("EAS_GITOPS_RATE_LIMIT", "0")
    url = f"http://127.0.0.1:{_free_port()}"  # nothing listens there
    result = runner.invoke(app, ["status", "--target", url])
    assert result.exit_code == 1
    assert f"ListServices: cannot connect to {url}" in result.stderr and "emulator serve" in result.stderr


def test_file_problems_come_before_any_call_to_the_target(tmp_path: Path) -> None:
    from .emulated import _free_port

    bad = tmp_path / "bad.yaml"
    bad.write_text(EXAMPLE.read_text().replace("replicas: 4", "replicas: -4"))
    result = runner.invoke(app, ["plan", str(bad), "--target", f"http://127.0.0.1:{_free_port()}"])
    assert result.exit_code == 1
    assert f"{bad}:" in result.stderr and "cannot connect" not in result.stderr and "target:" not in result.stderr
