"""Benchmark: how fast the CLI starts (`--help`, each command's `--help`) and validates the examples, in a fresh
process each time.

Run on purpose (not in pytest):

    .venv/bin/python benchmarks/cli_startup.py                 # 21 runs of each command line, pinned to CPU 1
    .venv/bin/python benchmarks/cli_startup.py --runs 30 --tree /tmp/old-checkout --pin none

Each command line runs `--runs` times as `python -m reconciler ...`, after one warm-up run, with
bytecode caching on (`PYTHONDONTWRITEBYTECODE` is removed from the children's environment): an
installed tool, or a checkout after its first run, reads its modules from `__pycache__`, so
compiling them is not part of a start. The children are pinned to one CPU (`--pin`), which halves
the spread on a shared machine. The report gives the minimum and the median of wall time and of
CPU time (user + system of the child), and the modules' import time as `python -X importtime`
counts it (the sum of every module's own time: what importing costs beyond the interpreter's
start).

Under each line, `floor` is `benchmarks/stack_floor.py` doing the same job with the same libraries
and none of our code (typer parsing the line, ruamel.yaml reading the files, one pydantic model,
one rich table), run in turn with ours: the physical limit of this stack on this machine. `--tree`
runs the same lines against another checkout (e.g. an older commit, unpacked with `git archive`),
so a before/after comparison uses one interpreter and one set of installed packages.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from reconciler.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
FLOOR = Path(__file__).resolve().parent / "stack_floor.py"
# (the command line, the floor's command line or None): the root help, validate, then each command's help
LINES: tuple[tuple[list[str], list[str] | None], ...] = (
    (["--help"], ["--help"]),
    (["validate", "examples/groups"], ["validate", "examples/groups"]),
    *(([name, "--help"], None) for name in COMMANDS),
)


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPATH": str(tree)}


def _pinned(cpu: int | None) -> Callable[[], None] | None:
    """What the child runs before exec: pin itself to `cpu` (None: no pinning)."""
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


def run_once(command: list[str], tree: Path, cpu: int | None) -> tuple[float, float]:
    before, start = _child_cpu(), time.perf_counter()
    subprocess.run(command, cwd=tree, env=_env(tree), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, preexec_fn=_pinned(cpu))
    return time.perf_counter() - start, _child_cpu() - before


def import_ms(command: list[str], tree: Path) -> float:
    """Milliseconds of module imports (sum of the `self` column of -X importtime) for one run."""
    done = subprocess.run([command[0], "-X", "importtime", *command[1:]], cwd=tree, env=_env(tree), check=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return sum(int(m.group(1)) for m in re.finditer(r"import time:\s+(\d+) \|", done.stderr)) / 1000


def _row(label: str, times: list[tuple[float, float]], imports: float) -> str:
    wall, cpu = [t[0] for t in times], [t[1] for t in times]
    return (f"{label:<28} {min(wall):>8.3f}s {statistics.median(wall):>8.3f}s "
            f"{min(cpu):>8.3f}s {statistics.median(cpu):>8.3f}s {imports:>7.0f}ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to run (default: this one)")
    parser.add_argument("--pin", default="1", help="CPU to pin the children to, or 'none' (default: 1)")
    opts = parser.parse_args()
    cpu = None if opts.pin == "none" else int(opts.pin)
    print(f"tree {opts.tree}, {opts.runs} runs each (after a warm-up), pinned to {opts.pin}, "
          f"python {sys.version.split()[0]}")
    print(f"{'command':<28} {'wall min':>9} {'median':>9} {'cpu min':>9} {'median':>9} {'imports':>9}")
    for args, floor_args in LINES:
        ours = [sys.executable, "-m", "reconciler", *args]
        floor = [sys.executable, str(FLOOR), *floor_args] if floor_args is not None else None
        for command in (ours, floor):
            if command is not None:
                run_once(command, opts.tree, cpu)  # warm-up: writes the bytecode caches
        mine: list[tuple[float, float]] = []
        theirs: list[tuple[float, float]] = []
        for _ in range(opts.runs):  # in turn, so a drift of the machine's speed touches both alike
            mine.append(run_once(ours, opts.tree, cpu))
            if floor is not None:
                theirs.append(run_once(floor, opts.tree, cpu))
        print(_row(" ".join(args), mine, min(import_ms(ours, opts.tree) for _ in range(3))))
        if floor is not None:
            print(_row("  floor (stack_floor.py)", theirs, min(import_ms(floor, opts.tree) for _ in range(3))))
            ratio = statistics.median(m[0] / t[0] for m, t in zip(mine, theirs, strict=True))
            print(f"  {'ours / floor, wall':<26} {ratio:>8.2f}x (median of the pairs)")


if __name__ == "__main__":
    main()
