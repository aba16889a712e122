"""`eas-gitops validate` and `eas-gitops schema` through typer's CliRunner."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from desired.helpers import EXAMPLES, PMML_TEXT, SCHEMA_PATH
from reconciler.cli.main import app

Write = Callable[[str, str], Path]
runner = CliRunner()


def row(output: str, member: str) -> list[str]:
    line = next(line for line in output.splitlines() if f" {member} " in line)
    return [cell.strip() for cell in line.strip("│ ").split("│")]


def test_validate_examples_shows_every_group_and_the_pmml_shares() -> None:
    result = runner.invoke(app, ["validate", str(EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert row(result.stdout, "pmml_prod")[5] == "80 %"
    assert row(result.stdout, "pmml_grey")[:6] == ["pmml_grey", "canary", "grouping", "1", "-", "20 %"]
    assert row(result.stdout, "ranker_green")[4:6] == ["400", "80 %"]
    assert row(result.stdout, "recsys_base")[6:] == ["subscription", "eas-r-recsys01 · 8 CPU, 16000 MB"]
    assert row(result.stdout, "recsys_burst")[3] == "0-10 (auto)"
    assert row(result.stdout, "fraud_v3")[5] == "0 % (direct only)"
    assert "ecs.gn7i-c8g1.2xlarge" in row(result.stdout, "llm_chat_a10")[7]
    assert row(result.stdout, "credit_grey")[5] == "20 %"
    assert ("rollout: canary credit_grey, 10 % for 10m -> 50 % for 20m (at least 30m), cloudmonitor every 1m, "
            "on failure rollback") in result.stdout
    assert "OK: 6 groups, 12 services" in result.stdout


def test_validate_defaults_to_the_current_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(EXAMPLES)
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 0
    assert "pmml.yaml" in result.stdout


def test_three_mistakes_give_three_lines_on_stderr_and_exit_1(write: Write) -> None:
    text = PMML_TEXT.replace("spec:\n", "spec:\n  traffic_mode: customized\n")
    text = text.replace("      replicas: 4\n", "      wieght: 100\n      replicas: 4\n      replicas: 5\n")
    text = text.replace("      role: canary\n", "      role: canary\n      weight: 5000\n")
    path = write("three.yaml", text)
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 4 and lines[-1] == "3 problems in the desired state (exit 1)"
    positions = [re.match(rf"{re.escape(str(path))}:(\d+):(\d+): ", line) for line in lines[:3]]
    assert all(positions)
    assert [int(m.group(1)) for m in positions if m] == [10, 12, 17]
    assert "did you mean 'weight'?" in lines[0]
    assert "duplicate key 'replicas'" in lines[1]
    assert "weight is 5000" in lines[2]


def test_notes_go_to_stderr(write: Write, tmp_path: Path) -> None:
    write("pmml.yaml", PMML_TEXT)
    write("README.md", "x")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0
    assert result.stderr == f"note: {tmp_path / 'README.md'}: ignored (not *.yaml or *.yml)\n"


def test_notes_are_printed_when_validation_fails_too(write: Write, tmp_path: Path) -> None:
    bad = write("pmml.yaml", PMML_TEXT.replace("replicas: 4", "replicas: -4"))
    write("ranker.yaml.txt", PMML_TEXT)
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == f"note: {tmp_path / 'ranker.yaml.txt'}: ignored (not *.yaml or *.yml)"
    assert lines[1].startswith(f"{bad}:9:17: ")
    assert lines[-1] == "1 problem in the desired state (exit 1)"


def test_a_missing_path_is_a_problem_even_beside_valid_files(write: Write, tmp_path: Path) -> None:
    good = write("pmml.yaml", PMML_TEXT)
    result = runner.invoke(app, ["validate", str(good), str(tmp_path / "typo")])
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines()[0] == (
        f"{tmp_path / 'typo'}: no such file or directory "
        "(give an existing *.yaml file or a directory that holds group files)")


def test_no_yaml_at_all_shows_what_was_skipped(write: Write, tmp_path: Path) -> None:
    write("pmml.yml.bak", PMML_TEXT)
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        f"note: {tmp_path / 'pmml.yml.bak'}: ignored (not *.yaml or *.yml)",
        f"error: no *.yaml or *.yml files found in {tmp_path}: name group files *.yaml or *.yml",
    ]


def test_config_errors_exit_1_through_the_root_without_a_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: no *.yaml or *.yml files found")
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_name_pattern_option(write: Write) -> None:
    path = write("g.yaml", PMML_TEXT.replace("pmml_grey", "pmml-grey"))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 1
    assert runner.invoke(app, ["validate", "--name-pattern", "^[a-z][a-z0-9_-]*$", str(path)]).exit_code == 0


def test_schema_prints_the_committed_schema() -> None:
    result = runner.invoke(app, ["schema"])
    assert result.exit_code == 0
    assert result.stdout == SCHEMA_PATH.read_text(encoding="utf-8")


def test_schema_out_writes_the_file(tmp_path: Path) -> None:
    result = runner.invoke(app, ["schema", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0
    written = tmp_path / "s" / "servicegroup.schema.json"
    assert written.read_text(encoding="utf-8") == SCHEMA_PATH.read_text(encoding="utf-8")
    assert str(written) in result.stdout


def _command_paths() -> list[list[str]]:
    """Every command and command group of the root app, as argument lists (walked, so new commands count)."""
    import typer.main

    def walk(command: Any, prefix: list[str]) -> list[list[str]]:  # typer vendors its own click
        found = [prefix]
        if hasattr(command, "list_commands"):  # a group: the root loads its commands on demand
            for name in sorted(command.list_commands(None)):
                found += walk(command.get_command(None, name), [*prefix, name])
        return found

    return walk(typer.main.get_command(app), [])


@pytest.mark.parametrize("command", _command_paths(), ids=lambda c: " ".join(c) or "root")
def test_every_help_has_an_example(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    example = next((line for line in result.stdout.splitlines() if "Example:" in line), "")
    assert re.search(r"Example:\s+eas-gitops\s", example), result.stdout


def test_paths_walk_finds_the_nested_commands() -> None:
    paths = [" ".join(p) for p in _command_paths()]
    assert {"validate", "schema", "status", "emulator", "emulator serve", "emulator traffic"} <= set(paths)


def test_python_dash_m_reconciler_runs_the_cli() -> None:
    import subprocess
    import sys

    from reconciler import __version__

    done = subprocess.run([sys.executable, "-m", "reconciler", "--version"], capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stdout) == (0, f"eas-gitops {__version__}\n")


def many_groups(write: Write, count: int) -> None:
    for i in range(count):
        text = PMML_TEXT.replace("name: pmml\n", f"name: g{i}\n").replace("pmml_", f"g{i}_")
        write(f"g{i}.yaml", text.replace("cn-shanghai", "cn-beijing") if i % 3 == 0 else text)


def test_validate_summarises_many_groups_per_region(write: Write, tmp_path: Path) -> None:
    many_groups(write, 21)  # one more than TABLES_UP_TO
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "g0_prod" not in result.stdout  # no per-group tables
    assert row(result.stdout, "cn-beijing") == ["cn-beijing", "7", "14", "14", "0", "0", "0", "14"]
    assert row(result.stdout, "cn-shanghai")[:3] == ["cn-shanghai", "14", "28"]
    assert "OK: 21 groups, 42 services" in result.stdout
    tables = runner.invoke(app, ["validate", str(tmp_path), "--view", "tables"])
    assert "g20_grey" in tables.stdout and "per-group tables" not in tables.stdout


def test_validate_view_is_a_setting_both_ways(write: Write, tmp_path: Path) -> None:
    many_groups(write, 2)
    summary = runner.invoke(app, ["validate", str(tmp_path)], env={"EAS_GITOPS_VALIDATE_VIEW": "summary"})
    assert summary.exit_code == 0 and "g1_prod" not in summary.stdout
    assert row(summary.stdout, "cn-shanghai")[:3] == ["cn-shanghai", "1", "2"]
    assert "g1_prod" in runner.invoke(app, ["validate", str(tmp_path)]).stdout
    bad = runner.invoke(app, ["validate", str(tmp_path), "--view", "pretty"])
    assert bad.exit_code != 0 and "pretty" in bad.output
