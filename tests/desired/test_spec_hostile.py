"""Hostile files too big to commit, made at run time: each is one problem, exit 1, no traceback, zero writes.

Every case goes through the CLI three times: `validate`, `plan` and `apply --auto-approve` against
the embedded local emulator with `--state` in tmp_path. Zero writes is shown by the state file not
existing afterwards: the desired state is refused before the emulator is ever opened. The small
hostile files (alias bombs, tags, malformed references, absurd numbers) are in tests/desired/corpus.
How fast each case is refused is measured by `benchmarks/load_scale.py --hostile`, not here.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from desired.helpers import CORPUS, PMML_TEXT
from desired.test_spec_corpus import expectations
from reconciler.cli.main import app
from reconciler.desired.limits import Limits
from reconciler.desired.loader import load_paths
from reconciler.errors import SpecError

runner = CliRunner()
COMMANDS = ("validate", "plan", "apply")
CONFIG_AT = PMML_TEXT.index("    - name: pmml_grey")  # a config block is added to the first member


def with_config(value: str) -> str:
    """PMML_TEXT with `config: {deep: VALUE}` on its first member (VALUE on one line)."""
    return PMML_TEXT[:CONFIG_AT] + f"      config:\n        deep: {value}\n" + PMML_TEXT[CONFIG_AT:]


def invoke(command: str, path: Path, state: Path, env: dict[str, str] | None = None) -> Result:
    argv = [command, str(path)]
    if command != "validate":
        argv += ["--state", str(state)]
    if command == "apply":
        argv.append("--auto-approve")
    return runner.invoke(app, argv, env=env)


def refused_everywhere(path: Path, tmp_path: Path, pattern: str, env: dict[str, str] | None = None) -> None:
    """validate, plan and apply each print exactly one problem matching `pattern`, exit 1, and write nothing."""
    for command in COMMANDS:
        state = tmp_path / f"{command}.db"
        result = invoke(command, path, state, env)
        assert result.exit_code == 1, (command, result.output)
        assert "Traceback" not in result.output, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit), (command, result.exception)
        problems = [line.strip() for line in result.output.splitlines() if line.strip().startswith(f"{path}")]
        assert len(problems) == 1, (command, result.output)
        assert re.fullmatch(re.escape(str(path)) + pattern, problems[0]), (command, problems[0])
        assert not state.exists(), f"{command} opened the emulator: a write was possible"


DEPTH = Limits().max_depth
# the corpus files that an attacker, not a typo, would write: each through all three commands too
HOSTILE = sorted(p for p in CORPUS.glob("*.yaml") if p.name.startswith(
    ("alias_", "tag_", "env_ref_", "cpu_", "gpu_", "replicas_huge", "memory_huge", "spot_price_inf", "config_number_",
     "number_too_long")))


def test_there_are_hostile_corpus_files() -> None:
    assert len(HOSTILE) >= 20


@pytest.mark.parametrize("path", HOSTILE, ids=[p.name for p in HOSTILE])
def test_hostile_corpus_file_is_refused_by_every_command(path: Path, tmp_path: Path) -> None:
    [(_, line, col, fragment)] = expectations(path)
    pattern = re.escape(f":{line}:{col}: ") + ".*".join(re.escape(part) for part in fragment.split(" ... ")) + ".*"
    refused_everywhere(path, tmp_path, pattern)


@pytest.mark.parametrize(("name", "value", "where"), [
    # 5 levels hold `deep` (document, spec, services, a member, config); the first bracket is in column 15
    ("flow", "[" * 5000 + "]" * 5000, rf":13:{15 + DEPTH - 5}"),
    ("flow_mappings", "{a: " * 5000 + "1" + "}" * 5000, rf":13:{15 + 4 * (DEPTH - 5)}"),
    ("block_sequences", "- " * 5000 + "1", rf":14:{11 + 2 * (DEPTH - 5)}"),
])
def test_nesting_5000_deep_is_one_problem(tmp_path: Path, name: str, value: str, where: str) -> None:
    text = with_config(value) if name != "block_sequences" else with_config("").replace(
        "        deep: \n", "        deep:\n          " + value + "\n")
    path = tmp_path / f"{name}.yaml"
    path.write_text(text)
    refused_everywhere(path, tmp_path, where + rf": lists and mappings are nested more than {DEPTH} levels deep .*")


def test_block_mappings_nested_deep_are_one_problem(tmp_path: Path) -> None:
    nested = "".join("  " * i + f"k{i}:\n" for i in range(200)) + "  " * 200 + "leaf: 1\n"
    path = tmp_path / "mappings.yaml"
    path.write_text(PMML_TEXT + "x-extra:\n" + "".join("  " + line + "\n" for line in nested.splitlines()))
    refused_everywhere(path, tmp_path, rf":\d+:\d+: lists and mappings are nested more than {DEPTH} levels deep .*")


def test_block_mappings_5000_deep_are_over_the_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "mappings.yaml"  # 5,000 indented levels take 25 MB: refused before parsing
    path.write_text(PMML_TEXT + "x:\n" + "".join("  " * i + "k:\n" for i in range(1, 5000)))
    refused_everywhere(path, tmp_path, r": the file is \d+ bytes, over the limit of 1048576 bytes .*")


def test_a_20_mb_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(PMML_TEXT + ("# padding\n" * 2_000_000))
    refused_everywhere(path, tmp_path, r": the file is 2\d{7} bytes, over the limit of 1048576 bytes "
                                       r"\(.*EAS_GITOPS_MAX_FILE_BYTES\)")


def test_a_5_million_item_list_stops_at_the_value_limit_in_linear_time(tmp_path: Path) -> None:
    path = tmp_path / "list.yaml"
    path.write_text(with_config("[" + "1, " * 5_000_000 + "1]"))
    refused_everywhere(path, tmp_path, r": the file is \d+ bytes, over the limit .*")
    # with the size limit raised, the value limit stops it after 100,000 values, not 5 million
    raised = {"EAS_GITOPS_MAX_FILE_BYTES": str(64 * 1024 * 1024)}
    refused_everywhere(path, tmp_path, r":13:\d+: the file holds more than 100000 values .*", env=raised)


def test_the_limits_are_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "g.yaml"
    path.write_text(with_config("[[[1]]]"))
    assert len(load_paths([path])) == 1
    monkeypatch.setenv("EAS_GITOPS_MAX_DEPTH", "6")  # the document, spec, services, a member, config, deep: 6
    with pytest.raises(SpecError, match="1 problem") as info:
        load_paths([path])
    assert "nested more than 6 levels" in info.value.problems[0].message
    monkeypatch.setenv("EAS_GITOPS_MAX_DEPTH", "many")
    result = runner.invoke(app, ["validate", str(path)])
    assert result.exit_code == 1 and "EAS_GITOPS_MAX_DEPTH='many' is not a positive whole number" in result.output
    monkeypatch.delenv("EAS_GITOPS_MAX_DEPTH")
    monkeypatch.setenv("EAS_GITOPS_MAX_VALUES", "30")
    with pytest.raises(SpecError, match="1 problem"):
        load_paths([path])
    monkeypatch.setenv("EAS_GITOPS_MAX_VALUES", "100")
    monkeypatch.setenv("EAS_GITOPS_MAX_FILE_BYTES", str(path.stat().st_size - 1))
    with pytest.raises(SpecError, match="1 problem"):
        load_paths([path])
    assert len(load_paths([path], limits=Limits(max_file_bytes=path.stat().st_size))) == 1


def in_thread(work: Callable[[], Result]) -> Result:
    """Run `work` with a hang guard: a blocking read of a FIFO would never return."""
    box: list[Result] = []
    thread = threading.Thread(target=lambda: box.append(work()), daemon=True)
    thread.start()
    thread.join(60)
    assert not thread.is_alive(), "reading the path blocked"
    return box[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are POSIX")
def test_a_fifo_is_named_as_such_and_never_blocks(tmp_path: Path) -> None:
    fifo = tmp_path / "group.yaml"
    os.mkfifo(fifo)
    for command in COMMANDS:
        state = tmp_path / f"{command}.db"
        for given in (fifo, tmp_path):  # named, and found while walking its directory
            result = in_thread(lambda c=command, g=given, s=state: invoke(c, g, s))  # type: ignore[misc]
            assert result.exit_code == 1, result.output
            assert f"{fifo}: is a named pipe (FIFO), not a regular file" in result.output
            assert not state.exists()


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_is_a_device_not_a_missing_file(tmp_path: Path) -> None:
    refused_everywhere(Path("/dev/zero"), tmp_path, r": is a character device, not a regular file \(.*\)")


def test_a_directory_named_like_a_yaml_file_is_walked(tmp_path: Path) -> None:
    groups = tmp_path / "groups.yaml"  # a directory with a YAML name is still a directory
    groups.mkdir()
    (groups / "pmml.yaml").write_text(PMML_TEXT)
    assert len(load_paths([groups])) == 1
