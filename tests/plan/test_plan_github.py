"""GitHub Actions output: annotations (escaping, golden for a file with several problems), the job
summary (1 MiB, cut with a note), step outputs (multi-line safe), and the CLI writing them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from reconciler.apply.report import ApplyReport, GroupOutcome, GroupReport
from reconciler.cli import apply as apply_cli
from reconciler.cli import gha
from reconciler.cli import plan as plan_cli
from reconciler.cli.main import app
from reconciler.desired.loader import load_paths
from reconciler.errors import PlanError, RolloutAbortedError, SpecError
from reconciler.gitops import github
from reconciler.plan.model import PlanWarning, WarningCode
from reconciler.plan.render.markdown import render_markdown

from .test_plan_comment import many

HERE = Path(__file__).parent / "github"
ROOT = Path(__file__).parents[2]
CORPUS = ROOT / "tests" / "desired" / "corpus" / "several_mistakes.yaml"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
runner = CliRunner()


def golden(name: str, text: str) -> None:
    path = HERE / name
    if UPDATE:
        path.write_text(text)
    assert path.read_text() == text, f"{name} differs (UPDATE_GOLDEN=1 to accept on purpose)"


# ---- annotations ------------------------------------------------------------------------------------------


def test_annotation_escapes_data_and_properties() -> None:
    line = github.annotation("error", "50% done\r\nnext", file="a,b:c.yaml", line=3, col=0, title="t: x, y")
    assert line == "::error file=a%2Cb%3Ac.yaml,line=3,col=1,title=t%3A x%2C y::50%25 done%0D%0Anext"
    assert github.annotation("warning", "w") == "::warning::w"
    assert github.annotation("error", "m", file="f.yaml") == "::error file=f.yaml::m"  # line 0: unknown, left out


def test_annotations_of_a_file_with_several_problems_golden() -> None:
    with pytest.raises(SpecError) as err:
        load_paths([CORPUS])
    lines = github.problem_annotations(err.value.problems, workspace=str(ROOT))
    assert len(lines) == len(err.value.problems) >= 3
    assert all(line.startswith("::error file=tests/desired/corpus/several_mistakes.yaml,line=") for line in lines)
    golden("annotations.txt", "\n".join(lines) + "\n")


def test_files_outside_the_workspace_keep_their_path(tmp_path: Path) -> None:
    assert github.relative_file(str(CORPUS), str(tmp_path)) == str(CORPUS)
    assert github.relative_file("x.yaml", None) == "x.yaml"


def test_validate_format_github_prints_the_annotations() -> None:
    result = runner.invoke(app, ["validate", str(CORPUS), "--format", "github"],
                           env={"GITHUB_WORKSPACE": str(ROOT)})
    assert result.exit_code == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::error ")]
    assert "\n".join(annotations) + "\n" == (HERE / "annotations.txt").read_text()


def test_plan_warnings_become_warning_annotations() -> None:
    plan = many(1)
    assert github.plan_annotations(plan) == []
    w = PlanWarning(code=WarningCode.UNKNOWN_GROUP, region="cn-shanghai", group="nope", message="no group, nope")
    assert github.plan_annotations(plan.model_copy(update={"warnings": (w,)})) == [
        "::warning title=eas-gitops plan cn-shanghai/nope::no group, nope"]


def test_plan_format_github_prints_the_plan_and_an_error_without_a_file(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    groups = ROOT / "examples" / "groups" / "pmml.yaml"
    ok = runner.invoke(app, ["plan", str(groups), "--state", str(tmp_path / "local.db"), "--format", "github"],
                       env={"EAS_GITOPS_TARGET": "local"})
    assert ok.exit_code == 0 and ok.stdout.startswith("Plan: 1 of 1 group to change")

    async def unsafe(req: object) -> None:
        raise PlanError("unsafe: 100 points at once")
    monkeypatch.setattr(plan_cli, "make_plan", unsafe)
    bad = runner.invoke(app, ["plan", str(groups), "--format", "github"])
    assert bad.exit_code == 1 and "::error title=eas-gitops::unsafe%3A" not in bad.stdout
    assert "::error title=eas-gitops::unsafe: 100 points at once" in bad.stdout


# ---- job summary ------------------------------------------------------------------------------------------


def test_summary_within_the_limit_is_unchanged() -> None:
    assert github.truncate_summary("small\n", 100) == "small\n"


def test_summary_past_the_limit_is_cut_in_bytes_and_closes_open_blocks() -> None:
    text = "# t\n\n<details>\n\n```diff\n" + "é line\n" * 5000 + "```\n</details>\n"
    cut = github.truncate_summary(text, 4096)
    assert len(cut.encode()) <= 4096 < len(text.encode())
    lines = cut.splitlines()
    assert lines[-1] == github.TRUNCATED_NOTE
    assert sum(1 for line in lines if line.startswith("```")) % 2 == 0
    assert cut.count("<details>") == cut.count("</details>")


def test_append_summary_counts_what_the_step_already_wrote(tmp_path: Path) -> None:
    path = tmp_path / "summary.md"
    path.write_text("x" * 3000)
    github.append_summary(path, "y\n" * 5000, limit=8000)
    assert len(path.read_bytes()) <= 8000
    assert path.read_text().startswith("x" * 3000) and github.TRUNCATED_NOTE in path.read_text()


def test_the_full_plan_of_a_large_change_fits_the_summary_limit() -> None:
    plan = many(400)
    full = github.plan_summary(plan)
    assert full == render_markdown(plan, limit=None) and "Left out" not in full
    assert len(full.encode()) <= github.SUMMARY_LIMIT  # 400 groups in full stay under 1 MiB


# ---- step outputs -----------------------------------------------------------------------------------------


def test_outputs_are_multi_line_safe() -> None:
    text = github.output_text({"changes": True, "exitcode": 2, "note": "a\nEOF\nb"}, delimiter="EOF")
    assert text == "changes=true\nexitcode=2\nnote<<EOF_\na\nEOF\nb\nEOF_\n"


def test_plan_and_apply_outputs() -> None:
    plan = many(3, unchanged=1)
    out = github.plan_outputs(plan, 2)
    assert out["changes"] is True and out["exitcode"] == 2 and out["groups"] == 4 and out["groups_changed"] == 3
    assert out["steps"] == plan.summary.steps and str(out["summary"]).startswith("Plan: 3 of 4 groups")
    assert github.plan_outputs(None, 1) == {"changes": False, "exitcode": 1}
    done = github.apply_outputs([("done", 5), ("failed", 2)], 1)
    assert done == {"changes": True, "exitcode": 1, "groups": 2, "groups_done": 1, "groups_failed": 1,
                    "groups_rolled_back": 0, "steps_done": 7}
    rolled = github.apply_outputs([("done", 5), ("rolled_back", 9), ("stopped", 0)], 3)
    assert (rolled["groups_failed"], rolled["groups_rolled_back"], rolled["exitcode"]) == (1, 1, 3)


# ---- the CLI under GitHub Actions -------------------------------------------------------------------------


def _actions_env(tmp_path: Path, on: str = "true") -> dict[str, str]:
    return {"GITHUB_ACTIONS": on, "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
            "GITHUB_OUTPUT": str(tmp_path / "output.txt"), "EAS_GITOPS_TARGET": "local"}


def test_plan_under_actions_writes_summary_and_outputs(tmp_path: Path) -> None:
    groups = ROOT / "examples" / "groups" / "pmml.yaml"
    env = _actions_env(tmp_path)
    result = runner.invoke(app, ["plan", str(groups), "--state", str(tmp_path / "local.db"), "--format", "markdown",
                                 "--detailed-exitcode"], env=env)
    assert result.exit_code == 2, result.output
    summary = (tmp_path / "summary.md").read_text()
    assert summary == result.stdout  # a small plan: the comment is the full plan
    outputs = (tmp_path / "output.txt").read_text().splitlines()
    assert "changes=true" in outputs and "exitcode=2" in outputs and "groups_changed=1" in outputs


def test_plan_error_under_actions_records_exit_1_and_annotates(tmp_path: Path) -> None:
    env = _actions_env(tmp_path)
    result = runner.invoke(app, ["plan", str(CORPUS), "--state", str(tmp_path / "local.db"), "--format", "github"],
                           env=env)
    assert result.exit_code == 1
    assert result.stdout.count("::error file=") == 3
    assert (tmp_path / "output.txt").read_text() == "changes=false\nexitcode=1\n"
    assert not (tmp_path / "summary.md").exists()


def test_outside_actions_nothing_is_written(tmp_path: Path) -> None:
    groups = ROOT / "examples" / "groups" / "pmml.yaml"
    result = runner.invoke(app, ["plan", str(groups), "--state", str(tmp_path / "local.db")],
                           env=_actions_env(tmp_path, on="false"))
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "summary.md").exists() and not (tmp_path / "output.txt").exists()


def test_apply_outcome_goes_to_the_outputs_under_actions(tmp_path: Path) -> None:
    report = ApplyReport(groups=[GroupReport(region="cn-shanghai", group="a", done=list(many(1).groups[0].steps)),
                                 GroupReport(region="cn-shanghai", group="b", outcome=GroupOutcome.FAILED)])
    gha.publish_apply(report, 1, env=_actions_env(tmp_path))
    gha.publish_apply(None, 0, env=_actions_env(tmp_path, on="false"))  # outside Actions: nothing
    assert (tmp_path / "output.txt").read_text() == (
        "changes=true\nexitcode=1\ngroups=2\ngroups_done=1\ngroups_failed=1\ngroups_rolled_back=0\nsteps_done=5\n")


def test_a_rolled_back_release_publishes_the_exit_code_the_cli_exits_with() -> None:
    def report(*outcomes: GroupOutcome) -> ApplyReport:
        return ApplyReport(groups=[GroupReport(region="cn-shanghai", group=f"g{i}", outcome=o)
                                   for i, o in enumerate(outcomes)])
    exit_code = apply_cli.exit_code
    assert exit_code(report(GroupOutcome.DONE)) == 0
    assert exit_code(report(GroupOutcome.DONE, GroupOutcome.ROLLED_BACK)) == 3 == RolloutAbortedError.exit_code
    assert exit_code(report(GroupOutcome.ROLLED_BACK, GroupOutcome.FAILED)) == 1  # a failure outweighs a rollback


def test_apply_after_a_rollback_exits_3_and_says_so_in_the_outputs(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # the run itself is replaced: what is under test is the CLI's mapping of a rolled-back report
    rolled = ApplyReport(groups=[GroupReport(region="cn-shanghai", group="pmml", outcome=GroupOutcome.ROLLED_BACK)])

    def execute(*args: object) -> object:
        async def go() -> ApplyReport:
            return rolled
        return go()
    monkeypatch.setattr(apply_cli, "execute", execute)
    groups = ROOT / "examples" / "groups" / "pmml.yaml"
    result = runner.invoke(app, ["apply", str(groups), "--state", str(tmp_path / "local.db"), "--auto-approve"],
                           env=_actions_env(tmp_path))
    assert result.exit_code == 3, result.output
    assert "release rolled back: cn-shanghai/pmml" in result.output
    outputs = (tmp_path / "output.txt").read_text().splitlines()
    assert "exitcode=3" in outputs and "groups_rolled_back=1" in outputs and "groups_failed=0" in outputs
