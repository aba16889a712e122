"""drift.yml's issue step, run for real (bash) with a fake `gh`: the issue body is the whole report, in one body."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from reconciler.plan.drift import DriftClass, DriftItem
from reconciler.plan.drift_report import Located, render_markdown
from reconciler.plan.render.fit import COMMENT_BUDGET

from .helpers import EXAMPLES, load

GITHUB_BODY_LIMIT = 65_536  # characters
FAKE_GH = r'''#!/usr/bin/env bash
# `gh issue list` finds no open issue; `gh issue create --body-file F` keeps a copy of F.
echo "$*" >> "$FAKE_LOG"
while [ $# -gt 0 ]; do
  if [ "$1" = --body-file ]; then cp "$2" "$FAKE_BODY"; fi
  shift
done
'''


def _issue_step() -> str:
    steps = load(EXAMPLES / "drift.yml")["jobs"]["drift"]["steps"]
    return next(str(s["run"]) for s in steps if s.get("name") == "Open, update or close the drift issue")


def _report(items: int) -> str:
    """A drift report of `items` rows, each with multi-byte text (a cut in the middle of one is visible)."""
    return render_markdown([
        Located(DriftItem("cn-shanghai", "shop", f"svc_{n}", "labels.owner", DriftClass.BY_HAND, "团队-α", "团队-β",
                          named=True), "groups/shop.yaml", 10 + n, 7)
        for n in range(items)])


def _open_issue(tmp_path: Path, report: str) -> str:
    (tmp_path / "bin").mkdir()
    gh = tmp_path / "bin" / "gh"
    gh.write_text(FAKE_GH, encoding="utf-8")
    gh.chmod(0o755)
    (tmp_path / "report.md").write_text(report, encoding="utf-8")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}:{os.environ['PATH']}", "FAKE_LOG": str(tmp_path / "gh.log"),
           "FAKE_BODY": str(tmp_path / "body.md"), "RUNNER_TEMP": str(tmp_path), "REGION": "cn-shanghai",
           "DRIFT": "true", "REPORT": str(tmp_path / "report.md"),
           "RUN_URL": "https://github.com/o/r/actions/runs/" + "9" * 60}
    subprocess.run(["bash", "-c", _issue_step()], env=env, check=True, timeout=60)
    assert "issue create" in (tmp_path / "gh.log").read_text(encoding="utf-8")
    return (tmp_path / "body.md").read_text(encoding="utf-8")


def test_a_report_at_its_limit_reaches_the_issue_whole(tmp_path: Path) -> None:
    report = _report(3000)
    assert "left out to fit one comment" in report  # the report fitted itself, with its note
    assert COMMENT_BUDGET - 300 < len(report) <= COMMENT_BUDGET  # full, and within its budget, note included
    body = _open_issue(tmp_path, report)
    assert body.endswith(report)  # nothing cut: no half row, no half character
    assert len(body) <= GITHUB_BODY_LIMIT


def test_a_small_report_is_the_body_after_the_run_link(tmp_path: Path) -> None:
    report = _report(3)
    body = _open_issue(tmp_path, report)
    assert body == f"Found by [this run](https://github.com/o/r/actions/runs/{'9' * 60}).\n\n{report}"
