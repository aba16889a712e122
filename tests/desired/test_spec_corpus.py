"""The invalid corpus: every file names the problems it must produce, as `# expect: LINE:COL text`.

`text` is a fragment of `message (hint)`; ` ... ` separates fragments that must appear in order.
A directory is one case of several files (cross-file rules); a file with no problem says `# expect: none`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from desired.helpers import CORPUS
from reconciler.desired.loader import load_paths
from reconciler.errors import Problem, SpecError

EXPECT = re.compile(r"^# expect: (?:(\d+):(\d+) (.+)|none)$")
CASES = sorted(CORPUS.iterdir())


def expectations(case: Path) -> list[tuple[str, int, int, str]]:
    files = [case] if case.is_file() else sorted(case.glob("*.yaml"))
    found = []
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            match = EXPECT.match(line)
            if match and match.group(1):
                found.append((file.name, int(match.group(1)), int(match.group(2)), match.group(3)))
    return found


def matches(problem: Problem, fragment: str) -> bool:
    text = f"{problem.message} ({problem.hint})" if problem.hint else problem.message
    start = 0
    for part in fragment.split(" ... "):
        start = text.find(part, start)
        if start < 0:
            return False
        start += len(part)
    return True


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 30
    assert all(expectations(case) for case in CASES), "every case expects at least one problem"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_case_reports_exactly_its_problems(case: Path) -> None:
    with pytest.raises(SpecError) as info:
        load_paths([case])
    left = list(info.value.problems)
    missing_hint = [str(p) for p in left if not p.hint.strip()]
    assert not missing_hint, f"every problem must say what would be right: {missing_hint}"
    for name, line, col, fragment in expectations(case):
        hit = next((p for p in left if Path(p.file).name == name and (p.line, p.column) == (line, col)
                    and matches(p, fragment)), None)
        assert hit is not None, f"{name}:{line}:{col} {fragment!r} not in {[str(p) for p in left]}"
        left.remove(hit)
    assert not left, f"unexpected problems: {[str(p) for p in left]}"


def test_whole_corpus_in_one_run_reports_every_problem_sorted() -> None:
    with pytest.raises(SpecError) as info:
        load_paths([CORPUS])
    problems = info.value.problems
    expected = sum(len(expectations(case)) for case in CASES)
    # cross-file duplicates now also span cases (every case names its group `corpus`), so at least this many
    assert len(problems) >= expected
    assert problems == sorted(problems)
    assert all(p.line >= 1 and p.column >= 1 for p in problems)
