"""`spec.rollout`: the model, the progress labels, the canary rules and the rules of the plan's settings."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from desired.helpers import PMML_TEXT
from reconciler.cli.main import app
from reconciler.desired.checks import check_rollout_target
from reconciler.desired.loader import load_paths
from reconciler.desired.model import ServiceSpec
from reconciler.desired.rollout import (
    OnFailure,
    PreviousVersion,
    ProgressLabel,
    RolloutSpec,
    resolve_canary,
    step_rises,
)
from reconciler.errors import SpecError

Write = Callable[[str, str], Path]
runner = CliRunner()

ROLLOUT = """\
  rollout:
    steps:
      - {share: 10, bake: 10m}
      - {share: %s, bake: 20m}
    analysis:
      interval: %s
      metrics: [{name: error_rate, max: 1}]
"""


def with_rollout(last: float = 50, interval: str = "1m") -> str:
    return PMML_TEXT + ROLLOUT % (last, interval)


def rollout(**over: object) -> RolloutSpec:
    doc: dict[str, object] = {"steps": [{"share": 10, "bake": "10m"}],
                              "analysis": {"metrics": [{"name": "error_rate", "max": 1}]}, **over}
    return RolloutSpec.model_validate(doc)


def test_defaults_and_durations() -> None:
    spec = rollout(steps=[{"share": 10, "bake": "1m30s"}, {"share": 12.5, "bake": "4s"}])
    assert spec.on_failure is OnFailure.ROLLBACK and spec.canary is None
    assert [(s.share, s.bake) for s in spec.steps] == [(10, 90.0), (12.5, 4.0)]
    assert spec.model_dump(mode="json")["steps"][0]["bake"] == "1m30s"


@pytest.mark.parametrize("steps", [
    [{"share": 10, "bake": "1m"}, {"share": 10, "bake": "1m"}],  # not strictly rising
    [{"share": 50, "bake": "1m"}, {"share": 10, "bake": "1m"}],
    [{"share": 0, "bake": "1m"}], [{"share": 100, "bake": "1m"}], [{"share": 10, "bake": 60}],
    [{"share": "10", "bake": "1m"}], [],
])
def test_bad_steps_are_refused(steps: list[dict[str, object]]) -> None:
    with pytest.raises(ValidationError):
        rollout(steps=steps)


def test_progress_label_round_trips_and_refuses_junk() -> None:
    label = ProgressLabel("b555ff4416668ad6", 2, 1700000000)
    assert ProgressLabel.parse(label.format()) == label
    for junk in (None, "", "abc", "x;1", "x;-1;5", ";1;5", "x;1;5;6", "x;one;5"):
        assert ProgressLabel.parse(junk) is None
    previous = PreviousVersion(3, "445fd7b83d8e8834")
    assert PreviousVersion.parse(previous.format()) == previous
    assert PreviousVersion.parse("3;") == PreviousVersion(3, None)
    assert PreviousVersion.parse("0;abc") is None and PreviousVersion.parse("x;abc") is None


def _member(name: str, role: str | None) -> ServiceSpec:
    return ServiceSpec.model_validate({"name": name, "role": role, "replicas": 1, "resources": {"cpu": 1, "memory": 1},
                                       "model": {"path": "oss://b/m", "processor": "pmml"}})


def test_the_canary_is_named_or_the_one_with_role_canary() -> None:
    members = [_member("a", "primary"), _member("b", "canary")]
    assert resolve_canary(rollout(), members) == "b"
    assert resolve_canary(rollout(canary="a"), members) == "a"
    assert resolve_canary(rollout(), [_member("a", "canary"), _member("b", "canary")]) is None
    assert resolve_canary(rollout(), [_member("a", None)]) is None


def test_step_rises_count_from_out_of_traffic() -> None:
    assert step_rises([10, 50, 60]) == [10, 40, 10]
    assert step_rises([50, 60], start=50) == [0, 10]


def test_a_step_over_max_shift_is_positioned_at_its_share(write: Write) -> None:
    loaded = load_paths([write("g.yaml", with_rollout(last=70))]).groups[0]
    problems = check_rollout_target(loaded, False, max_shift=50)
    assert [(p.line, p.column) for p in problems] == [(20, 17)]
    assert "rollout step 2 raises the canary's share by 60 points (10 -> 70), more than max_shift 50" in \
        problems[0].message
    assert "share: 40" in problems[0].hint and "--max-shift 60" in problems[0].hint
    assert check_rollout_target(loaded, False, max_shift=60) == []


def test_a_first_step_over_max_shift_counts_from_zero(write: Write) -> None:
    text = with_rollout().replace("{share: 10, bake: 10m}", "{share: 30, bake: 10m}")
    loaded = load_paths([write("g.yaml", text)]).groups[0]
    assert [p.line for p in check_rollout_target(loaded, False, max_shift=25)] == [19]


def test_cloudmonitor_interval_under_a_minute_is_refused_on_aliyun_only(write: Write) -> None:
    loaded = load_paths([write("g.yaml", with_rollout(interval="4s"))]).groups[0]
    assert check_rollout_target(loaded, False, max_shift=50) == []
    assert check_rollout_target(loaded, False, max_shift=50) == []
    [problem] = check_rollout_target(loaded, True, max_shift=50)
    assert (problem.line, problem.column) == (22, 17) and "interval 4s is shorter" in problem.message


def test_the_aliyun_interval_hint_names_the_cloud_period(write: Write) -> None:
    loaded = load_paths([write("g.yaml", with_rollout(interval="4s"))]).groups[0]
    [problem] = check_rollout_target(loaded, True, max_shift=50)
    assert problem.hint == "CloudMonitor publishes acs_learn per minute: use interval: 1m or more"


def test_a_bake_under_a_minute_is_refused_on_aliyun_only(write: Write) -> None:
    text = with_rollout(interval="4s").replace("{share: 10, bake: 10m}", "{share: 10, bake: 30s}")
    loaded = load_paths([write("g.yaml", text)]).groups[0]
    assert check_rollout_target(loaded, False, max_shift=50) == []
    problems = check_rollout_target(loaded, True, max_shift=50)
    bake = [p for p in problems if "bakes" in p.message]
    assert [(p.line, p.column) for p in bake] == [(19, 27)]
    assert "rollout step 1 bakes 30s, shorter than the finest period of CloudMonitor on the aliyun target (1m)" \
        in bake[0].message and "use bake: 1m or more" in bake[0].hint


@pytest.mark.parametrize("bake", ["0s", "0ms"])
def test_a_bake_of_zero_is_refused(bake: str) -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        rollout(steps=[{"share": 10, "bake": bake}])


def test_validate_accepts_a_seconds_interval_and_plan_on_aliyun_refuses_it_before_any_call(write: Write) -> None:
    path = write("g.yaml", with_rollout(interval="4s"))
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0
    result = runner.invoke(app, ["plan", str(path), "--target", "aliyun"])
    assert result.exit_code == 1
    assert f"{path}:22:17: interval 4s is shorter than the finest period of CloudMonitor" in result.output


def test_the_canary_must_be_declared_and_not_alone(write: Write) -> None:
    text = with_rollout().replace("  rollout:\n", "  rollout:\n    canary: pmml_blue\n")
    with pytest.raises(SpecError) as info:
        load_paths([write("a.yaml", text)])
    assert [str(p).split(": ", 1)[1] for p in info.value.problems] == [
        "spec.rollout.canary 'pmml_blue' is not a member of the group (name one of pmml_prod, pmml_grey)"]
    alone = with_rollout().replace("    - name: pmml_prod\n", "    - name: pmml_prod\n      traffic: standalone\n")
    with pytest.raises(SpecError, match="problem") as info:
        load_paths([write("b.yaml", alone)])
    assert "the canary pmml_grey is the only grouping member" in info.value.problems[0].message
