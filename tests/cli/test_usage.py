"""CLI conventions: usage errors exit 1 (never 2), `-out=...` is caught, `--help` loads no command (and no engine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.cli.main import COMMANDS, app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "groups"
runner = CliRunner()


@pytest.mark.parametrize("args", [
    ["plan", "--fromat", "markdown", "--detailed-exitcode"],  # unknown option
    ["plan", str(EXAMPLES), "--format", "yaml", "--detailed-exitcode"],  # bad value
    ["plan", str(EXAMPLES), "--max-shift", "0", "--detailed-exitcode"],  # out of range
    ["nope"],  # unknown command
    ["emulator", "history", "--bogus"],  # unknown option of a sub-command
])
def test_usage_errors_exit_1_never_2(args: list[str], tmp_path: Path) -> None:
    result = runner.invoke(app, [*args, "--state", str(tmp_path / "s.db")] if args[0] == "plan" else args)
    assert result.exit_code == 1, result.output
    assert "Error:" in result.output


@pytest.mark.parametrize(("arg", "fixed", "read_as"), [
    ("-out=plan.json", "--out=plan.json", "the short option -o with the value 'ut=plan.json'"),
    ("-format=json", "--format=json", "the short option -f with the value 'ormat=json'"),
    ("-detailed-exitcode", "--detailed-exitcode", None),
])
def test_a_single_dash_long_option_is_refused_with_the_fix(arg: str, fixed: str, read_as: str | None,
                                                            tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLES / "pmml.yaml"), "--state", str(tmp_path / "s.db"), arg],
                           catch_exceptions=False)
    assert result.exit_code == 1, result.output
    assert f"long options take two dashes: {fixed}" in result.output
    if read_as:
        assert read_as in result.output
    assert not list(tmp_path.glob("ut=*")) and not Path("ut=plan.json").exists()


def test_a_short_option_with_equals_is_refused_with_the_fix(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLES / "pmml.yaml"), "-o=plan.json"])
    assert result.exit_code == 1
    assert "'-o=plan.json': a short option takes its value after a space: -o plan.json" in result.output


def test_a_single_dash_word_that_is_no_option_is_left_to_click(tmp_path: Path) -> None:
    result = runner.invoke(app, ["plan", str(EXAMPLES / "pmml.yaml"), "-zz"])
    assert result.exit_code == 1
    assert "two dashes" not in result.output and "No such option" in result.output


def test_the_root_help_lists_every_command_without_importing_one() -> None:
    code = ("import sys; from reconciler.cli.main import main; sys.argv = ['eas-gitops', '--help']\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith(('reconciler.cli.', 'reconciler.emulator',"
            " 'reconciler.desired', 'reconciler.plan', 'reconciler.apply', 'httpx', 'rich', 'pydantic'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    *help_lines, loaded = done.stdout.strip().splitlines()
    assert loaded == "['reconciler.cli.help_option', 'reconciler.cli.main']"  # no command's module
    listed = [line.split()[0] for line in help_lines[help_lines.index("Commands:") + 1:]]
    assert listed == list(COMMANDS)


# What no `eas-gitops <command> --help` may import: the engine, the client, the emulator's app, their libraries.
# Only typer's own work and the options' light modules (reconciler.defaults, reconciler.target_names, ...) remain.
HEAVY_FOR_HELP = ("reconciler.apply", "reconciler.plan", "reconciler.eas", "reconciler.live", "reconciler.targets",
                  "reconciler.gitops", "reconciler.desired.model", "reconciler.desired.loader",
                  "reconciler.emulator.app", "reconciler.emulator.store", "reconciler.analysis.durations",
                  "reconciler.analysis.judge",
                  "httpx", "starlette", "uvicorn", "rich", "pydantic", "asyncio")


EMULATOR_COMMANDS = ["emulator serve", "emulator history", "emulator traffic", "emulator load"]


@pytest.mark.parametrize("name", [*COMMANDS, *EMULATOR_COMMANDS])
def test_a_command_help_imports_no_engine(name: str) -> None:
    code = ("import sys; from reconciler.cli.main import main\n"
            f"sys.argv = ['eas-gitops', *{name.split()!r}, '--help']\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            f"heavy = {HEAVY_FOR_HELP!r}\n"
            "print(sorted({h for m in sys.modules for h in heavy if m == h or m.startswith(h + '.')}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    *help_lines, loaded = done.stdout.strip().splitlines()
    assert help_lines[0].startswith(f"Usage: eas-gitops {name} ")  # click's own help of the real command
    assert loaded == "[]", f"{name} --help imported {loaded}"


def test_every_listed_command_loads() -> None:
    for name in COMMANDS:
        result = runner.invoke(app, [name, "--help"])
        assert result.exit_code == 0, (name, result.output)
        assert f"eas-gitops {name}" in result.output


def test_validate_imports_neither_the_client_nor_the_emulator() -> None:
    heavy = ("reconciler.eas", "reconciler.emulator", "reconciler.apply", "reconciler.plan", "reconciler.targets",
             "reconciler.analysis.judge", "reconciler.analysis.provider", "httpx", "starlette", "uvicorn")
    code = ("import sys; from reconciler.cli.main import main\n"
            f"sys.argv = ['eas-gitops', 'validate', {str(EXAMPLES)!r}]\n"
            "try:\n    main()\nexcept SystemExit as e:\n    assert not e.code, e.code\n"
            f"print(sorted(m for m in sys.modules if m.startswith({heavy!r})))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
