"""Benchmark: loading and validating many group files, and how fast hostile files are refused.

Run on purpose (not in pytest):

    .venv/bin/python benchmarks/load_scale.py                  # 1,000 files x 10 services
    .venv/bin/python benchmarks/load_scale.py --files 200 --services 5
    .venv/bin/python benchmarks/load_scale.py --hostile        # each hostile file through validate, plan, apply

Files are generated in a temporary directory: customized-mode groups of `--services` members with
weights, labels, a flow-style resources mapping and a small `config` block, about 4 KB each.

Measured (wall time, best of `--repeat`):
- `parse, before`: what the loader did until it parsed each file once: ruamel.yaml round-trip
  `compose_all` and then `load_all` of every file (two scans, pure Python), in-process, parse only;
- `load_paths`: the whole load now (read, one-pass parse, models, every rule), in-process;
- `validate` through the CLI in a subprocess (interpreter start and imports included), with the
  default view (a summary above 20 groups) and with `--view tables` (a table per group);
- `validate examples/groups` through the CLI.

`--hostile` times `validate`, `plan` and `apply --auto-approve` (local target, state in the
temporary directory) through the CLI on each hostile input of the test suite: each must exit 1.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ruamel.yaml import YAML

from reconciler.desired.loader import load_paths

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "reconciler"]


def group_text(index: int, services: int) -> str:
    lines = ["apiVersion: eas-gitops/v1", "kind: ServiceGroup", "metadata:", f"  name: grp_{index:05d}",
             "  region: cn-shanghai", "  labels:", "    team: bench", "spec:", "  traffic_mode: customized",
             "  services:"]
    for s in range(services):
        lines += [f"    - name: grp_{index:05d}_svc_{s:02d}", f"      role: {'primary' if s == 0 else 'canary'}",
                  "      traffic: grouping", f"      weight: {100 + s}", f"      replicas: {1 + s % 3}",
                  "      resources: {cpu: 2, memory: 4000}",
                  f'      model: {{path: "oss://bench/models/m_{index}_{s}.pmml", processor: pmml}}',
                  "      labels: {owner: bench}", "      config:", "        metadata:",
                  "          rpc: {keepalive: 5000}"]
    return "\n".join(lines) + "\n"


def generate(root: Path, files: int, services: int) -> Path:
    folder = root / "groups"
    folder.mkdir()
    for index in range(files):
        (folder / f"grp_{index:05d}.yaml").write_text(group_text(index, services), encoding="utf-8")
    return folder


def best(repeat: int, work: Callable[[], object]) -> tuple[float, float]:
    """(wall, CPU) seconds of the fastest of `repeat` runs; CPU counts this process and its children.

    On a shared machine the wall time grows with the other load; the CPU time hardly does."""
    runs = []
    for _ in range(repeat):
        start, cpu = time.perf_counter(), _cpu()
        work()
        runs.append((time.perf_counter() - start, _cpu() - cpu))
    return min(runs)


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def parse_before(folder: Path) -> None:
    """The former parse: two round-trip scans of every file."""
    for path in sorted(folder.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        yaml = YAML(typ="rt")
        yaml.allow_duplicate_keys = True
        list(yaml.compose_all(text))
        list(yaml.load_all(text))


def cli(*args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*CLI, *args], capture_output=True, text=True, cwd=REPO, check=False)
    if done.returncode != check:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}: {done.stderr[-500:]}")
    return done


def scale(files: int, services: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = generate(Path(tmp), files, services)
        rows = [
            (f"parse, before (2 rt scans) x {files}", best(1, lambda: parse_before(folder))),
            (f"load_paths x {files}", best(repeat, lambda: load_paths([folder]))),
            ("validate (CLI, default view)", best(repeat, lambda: cli("validate", str(folder)))),
            ("validate --view tables (CLI)", best(1, lambda: cli("validate", str(folder), "--view", "tables"))),
            ("validate examples/groups (CLI)", best(repeat, lambda: cli("validate", "examples/groups"))),
            ("--help (CLI)", best(repeat, lambda: cli("--help"))),
        ]
    print(f"{files} files x {services} services, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print(f"  {'':<40} {'wall':>8}   {'CPU':>8}")
    for name, (wall, cpu) in rows:
        print(f"  {name:<40} {wall:8.2f} s {cpu:8.2f} s")
    (before, before_cpu), (now, now_cpu) = rows[0][1], rows[1][1]
    print(f"  load now / parse before: wall {now / before:.3f} (x{before / now:.1f}), "
          f"CPU {now_cpu / before_cpu:.3f} (x{before_cpu / now_cpu:.1f})")


def hostile_cases(root: Path) -> dict[str, Path]:
    base = (REPO / "examples" / "groups" / "pmml.yaml").read_text(encoding="utf-8")
    deep = base + "x-deep: " + "[" * 5000 + "]" * 5000 + "\n"
    texts = {
        "nesting 5,000 deep (flow)": deep,
        "nesting 5,000 deep (block sequences)": base + "x-deep:\n  " + "- " * 5000 + "1\n",
        "20 MB file": base + "# padding\n" * 2_000_000,
        "5-million-item list": base + "x-list: [" + "1, " * 5_000_000 + "1]\n",
        "alias bomb (9 levels of 10)": base + "x-bomb:\n" + "  a0: &a0 lol\n" + "".join(
            f"  a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 10)),
        "cpu: .inf": base.replace("{cpu: 1, memory: 1000}", "{cpu: .inf, memory: 1000}", 1),
        "replicas: 10**30": base.replace("      replicas: 4", "      replicas: 1" + "0" * 30, 1),
        "malformed ${env:MY-TOKEN}": base.replace("keepalive: 5000", 'keepalive: "${env:MY-TOKEN}"'),
        "!!binary tag": base.replace("processor: pmml}", "processor: !!binary cG1tbA==}", 1),
    }
    paths = {}
    for i, (name, text) in enumerate(texts.items()):
        paths[name] = root / f"hostile_{i}.yaml"
        paths[name].write_text(text, encoding="utf-8")
    if hasattr(os, "mkfifo"):
        paths["a FIFO"] = root / "fifo.yaml"
        os.mkfifo(paths["a FIFO"])
    paths["/dev/zero"] = Path("/dev/zero")
    return paths


def timed(command: list[str]) -> float:
    return best(1, lambda: cli(*command, check=1))[0]


def hostile() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        print(f"{'case':<40} {'validate':>9} {'plan':>9} {'apply':>9}")
        for name, path in hostile_cases(root).items():
            state = str(root / "state.db")
            commands = (["validate", str(path)], ["plan", str(path), "--state", state],
                        ["apply", str(path), "--state", state, "--auto-approve"])
            times = [timed(command) for command in commands]
            assert not Path(state).exists(), f"{name}: the emulator was opened"
            print(f"{name:<40} " + " ".join(f"{t:8.2f}s" for t in times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--services", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--hostile", action="store_true", help="time the refusal of each hostile input instead")
    args = parser.parse_args()
    if args.hostile:
        hostile()
    else:
        scale(args.files, args.services, args.repeat)


if __name__ == "__main__":
    main()
