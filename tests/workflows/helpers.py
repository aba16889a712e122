"""Shared pieces of the GitHub Actions tests: the files, the action's run script, a fake CLI.

The action's run script is executed for real (bash) with a fake `eas-gitops` first on PATH that
records its arguments; the recorded command lines are then parsed by the real CLI. A workflow's
`with:` values are GitHub expressions; `evaluate` gives each one a plausible value, enough to know
which options a step passes.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
ACTION = ROOT / "action.yml"
EXAMPLES = ROOT / "examples" / "workflows"
WORKFLOWS = sorted(EXAMPLES.glob("*.yml"))
ACTION_USES = re.compile(r"^[\w.-]+/eas-gitops@[\w.-]+$")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")

# Records argv (one JSON list per line) and answers with FAKE_EXIT; writes --out like plan does.
FAKE_CLI = r'''#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_LOG"], "a") as log:
    log.write(json.dumps(args) + "\n")
if "--out" in args:
    with open(args[args.index("--out") + 1], "w") as out:
        out.write('{"summary": {"steps": 1}}')
print(os.environ.get("FAKE_STDOUT", "report"))
sys.exit(int(os.environ.get("FAKE_EXIT", "0")))
'''


def load(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))


def run_script(step_id: str) -> str:
    """The `run:` text of the action's step with this id."""
    steps = load(ACTION)["runs"]["steps"]
    return next(str(s["run"]) for s in steps if s.get("id") == step_id)


@dataclass
class Outcome:
    returncode: int
    argv: list[list[str]]
    outputs: dict[str, str]
    stdout: str


def run_action(tmp: Path, inputs: dict[str, str], *, exit_code: int = 0) -> Outcome:
    """Run the action's `run` step with these inputs (defaults from action.yml) on the fake CLI."""
    declared = load(ACTION)["inputs"]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EG_", "GITHUB_"))}
    for name, spec in declared.items():
        value = inputs.get(name, str(spec.get("default", "")))
        env["EG_" + name.upper().replace("-", "_")] = value
    bin_dir = tmp / "bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "eas-gitops"
    fake.write_text(FAKE_CLI.replace("/usr/bin/env python3", sys.executable, 1), encoding="utf-8")
    fake.chmod(0o755)
    output_file, log = tmp / "github_output", tmp / "argv.jsonl"
    output_file.write_text("", encoding="utf-8")
    log.write_text("", encoding="utf-8")
    (tmp / "runner").mkdir(exist_ok=True)
    env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", RUNNER_TEMP=str(tmp / "runner"),
               GITHUB_OUTPUT=str(output_file), FAKE_LOG=str(log), FAKE_EXIT=str(exit_code))
    script = tmp / "run.sh"
    script.write_text(run_script("run"), encoding="utf-8")
    # the command line GitHub uses for `shell: bash`
    proc = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=env,
                          capture_output=True, text=True, timeout=60, check=False)
    outputs: dict[str, str] = {}
    for line in output_file.read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition("=")
        outputs[key] = value
    argv = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    return Outcome(proc.returncode, argv, outputs, proc.stdout + proc.stderr)


def _operand(text: str, env: dict[str, str]) -> str:
    text = text.strip()
    if text.startswith("'") and text.endswith("'"):
        return text[1:-1]
    if text == "matrix.region":
        return "cn-shanghai"
    if text.startswith("env."):
        return env.get(text[4:], "")
    if text == "runner.temp":
        return "/tmp/runner"
    if text.startswith("steps.") and ".outputs." in text:
        return "/tmp/runner/" + text.rsplit(".", 1)[1]
    return ""  # vars.*, secrets.*, inputs.*: unset in a copied repository


def evaluate(value: str, env: dict[str, str]) -> str:
    """A `with:` value with each `${{ a || b }}` replaced by its first non-empty operand."""

    def one(match: re.Match[str]) -> str:
        return next((v for v in (_operand(o, env) for o in match.group(1).split("||")) if v), "")

    return EXPRESSION.sub(one, value)


def action_steps() -> list[tuple[str, str, dict[str, str]]]:
    """(workflow file, step name, evaluated inputs) of every step that uses the eas-gitops action."""
    found = []
    for path in WORKFLOWS:
        workflow = load(path)
        env = {k: str(v) for k, v in (workflow.get("env") or {}).items()}
        for job in workflow["jobs"].values():
            for step in job.get("steps", []):
                if ACTION_USES.match(str(step.get("uses", ""))):
                    inputs = {k: evaluate(str(v), env) for k, v in (step.get("with") or {}).items()}
                    found.append((path.name, str(step.get("name", step.get("id", "?"))), inputs))
    return found
