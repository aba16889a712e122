"""Benchmark: how fast the CLI starts (`--help`, each command's `--help`) and validates the examples, in a fresh
process each time.

Run on purpose (not in pytest):

    .venv/bin/python benchmarks/cli_startup.py              # 15 runs of each command line
    .venv/bin/python benchmarks/cli_startup.py --runs 30 --tree /tmp/old-checkout

Each command line runs `--runs` times as `python -m reconciler ...`; the report gives the fastest
wall time and the fastest CPU time (user + system of the child), which is what a shared machine
disturbs least, and the modules' import time as `python -X importtime` counts it (the sum of
every module's own time: what importing costs beyond the interpreter's start). `--tree` runs the
same lines against another checkout (e.g. an older commit, unpacked with `git archive`), so a
before/after comparison uses one interpreter and one set of installed packages.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

from reconciler.cli.main import COMMANDS

ROOT = Path(__file__).resolve().parents[1]
LINES = (["--help"], ["validate", "examples/groups"], *([name, "--help"] for name in COMMANDS))


def _child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(args: list[str], tree: Path) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cpu, start = _child_cpu(), time.perf_counter()
    subprocess.run([sys.executable, "-m", "reconciler", *args], cwd=tree, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, _child_cpu() - cpu


def import_ms(args: list[str], tree: Path) -> float:
    """Milliseconds of module imports (sum of the `self` column of -X importtime) for one run."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "reconciler", *args], cwd=tree, env=env,
                          check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    return sum(int(m.group(1)) for m in re.finditer(r"import time:\s+(\d+) \|", done.stderr)) / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tree", type=Path, default=ROOT, help="checkout to run (default: this one)")
    opts = parser.parse_args()
    print(f"tree {opts.tree}, {opts.runs} runs each, python {sys.version.split()[0]}")
    print(f"{'command':<28} {'wall min':>9} {'cpu min':>9} {'imports':>9}")
    for args in LINES:
        times = [run_once(args, opts.tree) for _ in range(opts.runs)]
        wall, cpu = min(t[0] for t in times), min(t[1] for t in times)
        imports = min(import_ms(args, opts.tree) for _ in range(3))
        print(f"{' '.join(args):<28} {wall:>8.3f}s {cpu:>8.3f}s {imports:>7.0f}ms")


if __name__ == "__main__":
    main()
