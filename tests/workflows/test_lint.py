"""actionlint and ShellCheck on the workflows a team copies, and the rules the action keeps.

actionlint checks workflow files, not action metadata; so the example workflows are linted in a
scratch repository where `uses: <owner>/eas-gitops@<tag>` points at a local copy of action.yml
(`uses: ./`): actionlint then also checks every `with:` input and `steps.<id>.outputs.<name>`
against action.yml, and runs ShellCheck on every `run:` script. The action's own scripts go to
ShellCheck directly. Any finding fails.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ACTION, ACTION_USES, EXAMPLES, EXPRESSION, ROOT, WORKFLOWS, load

BIN = str(Path(sys.executable).parent)
# outputs eas-gitops writes to $GITHUB_OUTPUT itself under GitHub Actions (plan and apply)
FROM_THE_TOOL = {"summary", "steps", "groups_changed", "warnings", "groups_failed"}
TOOL_PATH = f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"


def _tool(name: str) -> str:
    found = shutil.which(name, path=TOOL_PATH)
    assert found, f"{name} is missing: install the test extra (pip install -e '.[test]')"
    return found


def _scratch_repo(tmp: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(tmp)], check=True, timeout=30)  # actionlint finds its project by .git
    workflows = tmp / ".github" / "workflows"
    workflows.mkdir(parents=True)
    shutil.copy(ACTION, tmp / "action.yml")
    for path in [*WORKFLOWS, ROOT / ".github" / "workflows" / "ci.yml"]:
        text = path.read_text(encoding="utf-8")
        text = re.sub(r"uses: [\w.-]+/eas-gitops@[\w.-]+", "uses: ./", text)
        (workflows / path.name).write_text(text, encoding="utf-8")
    return tmp


def test_actionlint_finds_nothing(tmp_path: Path) -> None:
    repo = _scratch_repo(tmp_path)
    env = {**os.environ, "PATH": TOOL_PATH}  # actionlint runs shellcheck from PATH
    _tool("shellcheck")
    proc = subprocess.run([_tool("actionlint"), "-oneline", "-no-color"], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert (proc.returncode, proc.stdout + proc.stderr) == (0, "")


def test_actionlint_checks_the_action_inputs(tmp_path: Path) -> None:
    """The scratch repository really links the workflows to action.yml: an unknown input is caught."""
    repo = _scratch_repo(tmp_path)
    plan = repo / ".github" / "workflows" / "plan.yml"
    text = plan.read_text(encoding="utf-8").replace("command: validate", "command: validate\n          bogus: x")
    plan.write_text(text, encoding="utf-8")
    proc = subprocess.run([_tool("actionlint"), "-oneline", "-no-color", str(plan)], cwd=repo,
                          env={**os.environ, "PATH": TOOL_PATH}, capture_output=True, text=True, timeout=120,
                          check=False)
    assert proc.returncode == 1 and 'input "bogus" is not defined' in proc.stdout


ACTION_DOC = load(ACTION)
RUN_STEPS = [s for s in ACTION_DOC["runs"]["steps"] if "run" in s]


@pytest.mark.parametrize("step", RUN_STEPS, ids=[s["name"] for s in RUN_STEPS])
def test_action_scripts_pass_shellcheck(step: dict[str, object]) -> None:
    proc = subprocess.run([_tool("shellcheck"), "--shell=bash", "--severity=style", "-"], input=str(step["run"]),
                          capture_output=True, text=True, timeout=60, check=False)
    assert (proc.returncode, proc.stdout) == (0, "")


def test_action_is_composite_and_every_run_step_names_its_shell() -> None:
    assert ACTION_DOC["runs"]["using"] == "composite"
    assert RUN_STEPS and all(s.get("shell") == "bash" for s in RUN_STEPS)


def _run_scripts() -> list[tuple[str, str]]:
    scripts = [("action.yml", str(s["run"])) for s in RUN_STEPS]
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            scripts += [(path.name, str(s["run"])) for s in job.get("steps", []) if "run" in s]
    return scripts


@pytest.mark.parametrize(("where", "script"), _run_scripts())
def test_no_expression_inside_a_script(where: str, script: str) -> None:
    """Values reach scripts through `env:`: an expression in a script is pasted in as shell code."""
    assert not EXPRESSION.search(script), f"{where}: use env: instead of ${{{{ }}}} in run:"


def test_action_inputs_and_outputs_are_consistent() -> None:
    text = ACTION.read_text(encoding="utf-8")
    used = set(re.findall(r"inputs\.([\w-]+)", text))
    assert used == set(ACTION_DOC["inputs"]), "every input used is declared, every declared input is used"
    script = next(str(s["run"]) for s in RUN_STEPS if s.get("id") == "run")
    for name, spec in ACTION_DOC["outputs"].items():
        assert spec["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        written = re.search(rf'echo "{re.escape(name)}=', script)
        assert written or name in FROM_THE_TOOL, f"the run step never writes output {name}"


def test_action_installs_from_its_own_checkout() -> None:
    install = next(str(s["run"]) for s in RUN_STEPS if "pip install" in str(s["run"]))
    assert '"${GITHUB_ACTION_PATH}[aliyun]"' in install


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.name for p in WORKFLOWS])
def test_workflows_grant_nothing_by_default_and_name_each_jobs_permissions(path: Path) -> None:
    workflow = load(path)
    assert workflow["permissions"] == {}
    for name, job in workflow["jobs"].items():
        assert "permissions" in job, f"{path.name}: job {name} has no permissions:"
        granted = {k for k, v in job["permissions"].items() if v == "write"}
        uses = " ".join(str(s.get("uses", "")) for s in job.get("steps", []))
        if "id-token" in granted:
            assert "configure-aliyun-credentials-action" in uses, f"{path.name}: {name} needs no OIDC token"
        if "aliyun/configure-aliyun-credentials-action" in uses:
            assert "id-token" in granted


def test_apply_runs_one_at_a_time_per_environment_behind_an_approval() -> None:
    job = load(EXAMPLES / "apply.yml")["jobs"]["apply"]
    assert job["concurrency"]["cancel-in-progress"] is False
    assert "matrix.region" in job["concurrency"]["group"] and "EAS_GITOPS_ENVIRONMENT" in job["concurrency"]["group"]
    assert job["environment"]


def test_every_region_job_passes_its_region() -> None:
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            for step in job.get("steps", []):
                with_ = step.get("with") or {}
                if ACTION_USES.match(str(step.get("uses", ""))) and with_.get("command") != "validate":
                    assert with_.get("region") == "${{ matrix.region }}", f"{path.name}: {step.get('name')}"
                    assert "matrix.region" in with_.get("paths", "matrix.region"), f"{path.name}: {step.get('name')}"


PIP_INSTALL = re.compile(r"pip install ([^\n`]*)")
INSTALL_FILES = [ROOT / "README.md", ACTION, *WORKFLOWS, ROOT / ".ci" / "run",
                 ROOT / "reconciler" / "targets.py", ROOT / "reconciler" / "analysis" / "cloudmonitor.py"]


def _requirements(line: str) -> list[str]:
    """The words after `pip install`, quotes honoured; a line of source code may leave a quote open."""
    try:
        return shlex.split(line, comments=True)
    except ValueError:
        words = [w for w in re.split(r"[\s'\"]+", line) if w]
        return [f"{w} @ {words[i + 2]}" if words[i + 1:i + 2] == ["@"] and i + 2 < len(words) else w
                for i, w in enumerate(words)]


def test_requirements_reads_quoted_and_broken_lines() -> None:
    url = "eas-gitops[aliyun] @ git+https://x/y@v1"
    assert _requirements(f"'{url}' -q") == [url, "-q"]
    assert "eas-gitops[aliyun]" in _requirements("'eas-gitops[aliyun]'.\") from exc")
    assert "eas-gitops @ git+https://x/y" in _requirements("'eas-gitops @ git+https://x/y")


@pytest.mark.parametrize("path", INSTALL_FILES, ids=lambda p: p.name)
def test_no_install_line_expects_eas_gitops_on_a_package_index(path: Path) -> None:
    """eas-gitops is not on a package index: it installs from a path, the action's directory or a git URL."""
    for line in PIP_INSTALL.findall(path.read_text(encoding="utf-8")):
        for requirement in _requirements(line):
            assert not re.fullmatch(r"eas-gitops(\[[\w,]+\])?", requirement), f"{path.name}: pip install {line}"
