"""Loading: discovery, notes, settings, positions, and all problems of a run at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from desired.helpers import EXAMPLES, PMML_TEXT
from reconciler.desired.loader import load_paths
from reconciler.errors import ConfigError, SpecError

Write = Callable[[str, str], Path]


def test_examples_load_in_file_order_with_positions() -> None:
    state = load_paths([EXAMPLES])
    assert [g.file.name for g in state] == sorted(p.name for p in EXAMPLES.glob("*.yaml"))
    pmml = state.find("pmml", "cn-shanghai")
    assert pmml is not None and pmml.positions is not None
    lines = (EXAMPLES / "pmml.yaml").read_text(encoding="utf-8").splitlines()
    row = next(i for i, line in enumerate(lines) if line.endswith("- name: pmml_grey"))
    assert pmml.positions.value(("spec", "services", 1, "name")) == (row + 1, lines[row].index("pmml_grey") + 1)
    assert state.find("pmml", "cn-beijing") is None
    assert [s.name for _, s in state.services()][:2] == ["ranker_blue", "ranker_green"]
    assert state.regions() == ["cn-beijing", "cn-hangzhou", "cn-shanghai"]


def test_directories_are_walked_with_notes_and_hidden_entries_skipped(write: Write, tmp_path: Path) -> None:
    write("groups/team_a/pmml.yml", PMML_TEXT)
    write("groups/README.md", "# groups\n")
    write("groups/.hidden/broken.yaml", "not: [valid\n")
    state = load_paths([tmp_path / "groups"])
    assert [g.name for g in state] == ["pmml"]
    assert state.notes == (f"{tmp_path / 'groups' / 'README.md'}: ignored (not *.yaml or *.yml)",)


def test_a_file_named_twice_is_read_once(write: Write) -> None:
    path = write("pmml.yaml", PMML_TEXT)
    assert len(load_paths([path, path])) == 1


def test_missing_path_and_no_yaml_at_all(write: Write, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_paths([tmp_path / "nope"])
    assert info.value.problems[0].message == "no such file or directory"
    write("empty_dir/notes.txt", "x")
    with pytest.raises(ConfigError, match=r"no \*\.yaml or \*\.yml files found"):
        load_paths([tmp_path / "empty_dir"])


def test_name_pattern_is_a_setting(write: Write) -> None:
    path = write("g.yaml", PMML_TEXT.replace("pmml_grey", "pmml-grey"))
    with pytest.raises(SpecError, match="1 problem"):
        load_paths([path])
    assert len(load_paths([path], name_pattern=r"^[a-z][a-z0-9_-]*$")) == 1
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        load_paths([path], name_pattern="([")


def test_same_group_name_in_two_regions_is_two_groups(write: Write) -> None:
    write("a.yaml", PMML_TEXT)
    write("b.yaml", PMML_TEXT.replace("cn-shanghai", "cn-beijing"))
    state = load_paths([Path(write("c.txt", "")).parent])
    assert sorted(g.region for g in state) == ["cn-beijing", "cn-shanghai"]


def test_problems_of_every_file_come_together_sorted(write: Write, tmp_path: Path) -> None:
    write("b.yaml", PMML_TEXT.replace("replicas: 4", "replicas: four"))
    write("a.yaml", PMML_TEXT.replace("region: cn-shanghai", "region: cn-shanghai\n  regoin: x"))
    with pytest.raises(SpecError) as info:
        load_paths([tmp_path])
    assert [(Path(p.file).name, p.line) for p in info.value.problems] == [("a.yaml", 6), ("b.yaml", 9)]
    assert "did you mean 'region'" in info.value.problems[0].hint


def test_three_mistakes_three_problems_each_on_its_own_line(write: Write) -> None:
    text = PMML_TEXT.replace("spec:\n", "spec:\n  traffic_mode: customized\n")
    text = text.replace("    - name: pmml_prod\n", "    - name: pmml_prod\n      wieght: 100\n")
    text = text.replace("      role: canary\n", "      role: canary\n      weight: 1001\n      role: grey\n")
    path = write("three.yaml", text)
    with pytest.raises(SpecError) as info:
        load_paths([path])
    problems = info.value.problems
    assert [p.line for p in problems] == [10, 16, 17]
    assert "wieght" in problems[0].message
    assert "1001" in problems[1].message
    assert "duplicate key 'role'" in problems[2].message


def test_model_errors_and_group_rules_of_different_files_in_one_run(write: Write, tmp_path: Path) -> None:
    write("a.yaml", PMML_TEXT.replace("replicas: 4", "replicas: 4\n      weight: 10"))  # a group rule
    write("b.yaml", PMML_TEXT.replace("pmml", "other").replace("processor: other", "processr: pmml"))  # model
    with pytest.raises(SpecError) as info:
        load_paths([tmp_path])
    messages = [p.message for p in info.value.problems]
    assert any("weight has no effect" in m for m in messages)
    assert any("unknown key 'processr'" in m for m in messages)


def test_config_values_are_plain_data(write: Write) -> None:
    text = PMML_TEXT + "      config:\n        storage: [{mount_path: /data, when: 2024-01-02}]\n        ratio: 0.5\n"
    group = load_paths([write("g.yaml", text)]).groups[0].group
    config = group.spec.services[1].config
    assert config == {"storage": [{"mount_path": "/data", "when": "2024-01-02"}], "ratio": 0.5}
    assert type(config["ratio"]) is float and type(config["storage"]) is list


def test_a_secret_reference_in_a_smoke_test_is_refused(write: Write) -> None:
    """`${env:NAME}` is resolved only in config: in a smoke test it would be sent literally."""
    smoke = '      smoke_test: {path: "/?token=${env:TOKEN}"}\n'
    path = write("g.yaml", PMML_TEXT + smoke)
    with pytest.raises(SpecError) as info:
        load_paths([path])
    (problem,) = info.value.problems
    assert "smoke test's path is sent as written" in problem.message and "config" in problem.hint
    assert len(load_paths([write("ok.yaml", PMML_TEXT + '      smoke_test: {path: "/health"}\n')])) == 1


def test_a_file_that_is_not_utf8_is_one_file_level_problem(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(PMML_TEXT.replace("pmml_grey", "pmml_gr\xe9y").encode("latin-1"))
    with pytest.raises(SpecError) as info:
        load_paths([path])
    [problem] = info.value.problems
    assert (problem.line, problem.message) == (0, "cannot read the file: not UTF-8 text (invalid continuation byte "
                                                  f"at byte {PMML_TEXT.index('pmml_grey') + 7})")


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + PMML_TEXT.encode())
    assert len(load_paths([path])) == 1


def test_a_malformed_reference_anywhere_is_a_problem_and_a_good_one_is_not(write: Write) -> None:
    good = PMML_TEXT + '      config:\n        token: "Bearer ${env:MY_TOKEN} and ${env:_X1}"\n'
    assert len(load_paths([write("good.yaml", good)])) == 1
    bad = good.replace("${env:_X1}", "${env:1X}")
    with pytest.raises(SpecError) as info:
        load_paths([write("bad.yaml", bad)])
    [problem] = info.value.problems
    assert problem.message == "malformed secret reference '${env:1X}': expected ${env:NAME}"
