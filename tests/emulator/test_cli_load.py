"""`eas-gitops emulator load`: real requests at a steady rate with the group's token, a summary per member, bounded."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.emulator.backend import Backend
from reconciler.emulator.settings import EmulatorSettings
from reconciler.emulator.store import Store

from .helpers import REGION

runner = CliRunner()


def seed(path: Path) -> None:
    """pmml: 4 + 1 replicas, both grouping and running; the canary answers only 500s."""
    b = Backend(EmulatorSettings(state_path=path), Store(path))
    for name, replicas, labels in (("pmml_prod", 4, {}), ("pmml_grey", 1, {"emulator/error-rate": "1"})):
        b.create_service({"name": name, "metadata": {"instance": replicas, "group": "pmml"}}, labels)
    b.advance_clock(600)
    for name in ("pmml_prod", "pmml_grey"):
        b.release_service(REGION, name, "grouping", None)
    b.store.close()


def rows(output: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in output.splitlines()[2:] if line.strip()}


def test_load_sends_the_rate_asked_and_tallies_each_member(tmp_path: Path) -> None:
    state = tmp_path / "local.db"
    seed(state)
    result = runner.invoke(app, ["emulator", "load", "pmml", "--rps", "100", "--duration", "500ms",
                                 "--state", str(state)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("sent 50 requests to pmml in ")
    table = rows(result.output)
    assert table["pmml_prod"][:3] == ["40", "80.0%", "0.0%"]  # the token was accepted: every request answered
    assert table["pmml_grey"][:3] == ["10", "20.0%", "100.0%"]


def test_load_without_a_group_reports_the_refusals(tmp_path: Path) -> None:
    result = runner.invoke(app, ["emulator", "load", "nothing", "--rps", "20", "--duration", "100ms",
                                 "--state", str(tmp_path / "x.db")])
    assert result.exit_code == 0, result.output
    assert "(no member)" in result.output and "HTTP 404 x2" in result.output


def test_load_is_bounded(tmp_path: Path) -> None:
    too_fast = runner.invoke(app, ["emulator", "load", "pmml", "--rps", "5000", "--state", str(tmp_path / "x.db")])
    assert too_fast.exit_code == 1 and "--rps must be in (0, 1000]" in too_fast.output
    too_long = runner.invoke(app, ["emulator", "load", "pmml", "--duration", "2h", "--state", str(tmp_path / "x.db")])
    assert too_long.exit_code == 1 and "--duration must be in (0, 3600s]" in too_long.output
    bad = runner.invoke(app, ["emulator", "load", "pmml", "--duration", "60", "--state", str(tmp_path / "x.db")])
    assert bad.exit_code == 2 and "not a duration" in bad.output
