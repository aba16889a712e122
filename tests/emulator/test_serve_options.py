"""`emulator serve` secret sources and guards, and `history`/`traffic` against a served emulator on its own pair."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .helpers import FakeClock, serving

runner = CliRunner()
KEY, SECRET = "LTAI5tServedKey", "served-secret-value"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    for name in ("EAS_EMULATOR_ACCESS_KEY_ID", "EAS_EMULATOR_ACCESS_KEY_SECRET", "EAS_EMULATOR_METRICS_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    return seen


def serve(tmp_path: Path, *args: str) -> Any:
    return runner.invoke(app, ["emulator", "serve", "--state", str(tmp_path / "s.db"), *args])


def settings_of(started: dict[str, Any]) -> EmulatorSettings:
    settings: EmulatorSettings = started["app"].state.emulator.settings
    return settings


def test_the_secret_comes_from_a_file_without_a_warning(started: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "secret").write_text(SECRET + "\n")
    result = serve(tmp_path, "--access-key-id", KEY, "--secret-file", str(tmp_path / "secret"))
    assert result.exit_code == 0, result.output
    assert settings_of(started).credentials == {KEY: SECRET}
    assert SECRET not in result.output and "warning" not in result.output


def test_the_secret_on_the_command_line_works_but_warns(started: dict[str, Any], tmp_path: Path) -> None:
    result = serve(tmp_path, "--access-key-id", KEY, "--access-key-secret", SECRET)
    assert result.exit_code == 0, result.output
    assert settings_of(started).credentials == {KEY: SECRET}
    assert "warning: --access-key-secret is visible" in result.output and "ps" in result.output
    assert SECRET not in result.output


def test_the_secret_from_the_environment(started: dict[str, Any], tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EAS_EMULATOR_ACCESS_KEY_SECRET", SECRET)
    result = serve(tmp_path, "--access-key-id", KEY)
    assert result.exit_code == 0 and "warning" not in result.output
    assert settings_of(started).credentials == {KEY: SECRET}


@pytest.mark.parametrize(("content", "extra", "message"), [
    ("", (), "is empty"),
    (None, (), "cannot read --secret-file"),
    (SECRET, ("--access-key-secret", SECRET), "not both"),
])
def test_secret_mistakes_are_one_line_errors(started: dict[str, Any], tmp_path: Path, content: str | None,
                                             extra: tuple[str, ...], message: str) -> None:
    path = tmp_path / "secret"
    if content is not None:
        path.write_text(content)
    result = serve(tmp_path, "--access-key-id", KEY, "--secret-file", str(path), *extra)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output
    assert "app" not in started and SECRET not in result.output


def test_metrics_token_and_body_limit_options(started: dict[str, Any], tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "metrics").write_text("scrape-token\n")
    result = serve(tmp_path, "--metrics-token-file", str(tmp_path / "metrics"), "--max-body-bytes", "2048")
    assert result.exit_code == 0, result.output
    assert (settings_of(started).metrics_token, settings_of(started).max_body_bytes) == ("scrape-token", 2048)
    assert "scrape-token" not in result.output and "bearer token" in result.output
    monkeypatch.setenv("EAS_EMULATOR_METRICS_TOKEN", "from-env")
    assert serve(tmp_path).exit_code == 0 and settings_of(started).metrics_token == "from-env"
    monkeypatch.delenv("EAS_EMULATOR_METRICS_TOKEN")
    assert serve(tmp_path).exit_code == 0 and settings_of(started).metrics_token is None


def test_history_and_traffic_sign_with_the_environment_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    emulator = create_app(EmulatorSettings(state_path=tmp_path / "served.db", credentials={KEY: SECRET},
                                           clock=FakeClock(), initial_traffic_state="grouping"))
    backend = emulator.state.emulator.backend
    backend.create_service({"name": "only", "metadata": {"instance": 1, "group": "one"}}, {})
    emulator.state.emulator.settings.clock.advance(10)
    with serving(emulator) as url:
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY)
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
        history = runner.invoke(app, ["emulator", "history", "--target", url])
        assert history.exit_code == 0 and "CreateService" in history.output, history.output
        traffic = runner.invoke(app, ["emulator", "traffic", "one", "-n", "5", "--target", url])
        assert traffic.exit_code == 0, traffic.output
        assert traffic.output.splitlines()[1].split()[:3] == ["only", "5", "100.0%"]
        token = backend.route("one").token
        assert token not in traffic.output and token not in history.output
        monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not-it")
        refused = runner.invoke(app, ["emulator", "history", "--target", url])
        assert refused.exit_code == 1 and "SignatureDoesNotMatch" in refused.output
        assert "ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET" in refused.output and "Traceback" not in refused.output
    emulator.state.emulator.store.close()
