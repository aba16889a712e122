"""Benchmark: `eas-gitops plan` of real group files through the CLI, against a pre-filled local state.

Run on purpose (not in pytest):

    .venv/bin/python benchmarks/cli_scale.py                       # 1,000 files x 10 services, 3 runs
    .venv/bin/python benchmarks/cli_scale.py --groups 100 --changed 10 --runs 5
    .venv/bin/python benchmarks/cli_scale.py --profile /tmp/plan.prof  # also a cProfile after the load
    .venv/bin/python benchmarks/cli_scale.py --keep /tmp/fleet         # keep (or reuse) files and state

Set-up (not timed): `--groups` files are written in a temporary directory (one ServiceGroup of
`--members` services per file, auto mode, labels and a config key on each member), and a local
target state file (SQLite) is filled with exactly what they declare: the planner's own steps for
an empty region, replayed straight into the emulator's backend (creates, then, once every member
is Running, the traffic states and labels). `--changed N` then gives the first member of N groups
one more replica in its file, so the plan has N groups of steps to render (0: "No changes").

Measured:
1. the whole command, as a user runs it: `python -m reconciler plan DIR --target local --state
   FILE` in a child process, `--runs` times: wall seconds, CPU seconds of the child (user + sys,
   the embedded emulator answering the reads included), exit code;
2. the command's phases in-process, the same functions the command calls one after the other:
   load (parse and validate the files), read (the live state through the signed client and the
   embedded emulator; API calls counted by the client), build_plan, render (text): wall and CPU
   seconds each. "CPU beyond the reads" is everything but the read.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from reconciler.apply.runtime import target_connector
from reconciler.desired.loader import load_paths
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings
from reconciler.live.model import LiveState
from reconciler.live.read import read_live
from reconciler.plan.build import build_plan
from reconciler.plan.model import Action
from reconciler.plan.render import render_text

REGION = "cn-shanghai"
T = TypeVar("T")


def group_file(name: str, members: int, bump: bool) -> str:
    lines = ["apiVersion: eas-gitops/v1", "kind: ServiceGroup", "metadata:", f"  name: {name}",
             f"  region: {REGION}", "spec:", "  traffic_mode: auto", "  services:"]
    for i in range(members):
        replicas = 2 if bump and i == 0 else 1
        lines += [f"    - name: {name}_s{i}", f"      replicas: {replicas}",
                  "      resources: {cpu: 1, memory: 1000}",
                  f'      model: {{path: "oss://bench/{name}/{i}.pmml", processor: pmml}}',
                  f"      labels: {{team: t{i % 7}, tier: online}}",
                  "      config:", "        metadata: {rpc: {batching: true, keepalive: 5000}}"]
    return "\n".join(lines) + "\n"


def write_files(root: Path, groups: int, members: int, changed: int = 0) -> list[Path]:
    paths = []
    for g in range(groups):
        path = root / f"g{g:04d}.yaml"
        path.write_text(group_file(f"g{g:04d}", members, bump=g < changed), encoding="utf-8")
        paths.append(path)
    return paths


def fill_state(files: Path, state: Path) -> int:
    """Replay the plan of `files` against an empty region into the backend of `state`; services made."""
    desired = [g.group for g in load_paths([files]).groups]
    plan = build_plan(desired, LiveState())
    app = create_app(EmulatorSettings(state_path=state, region=REGION))
    backend, made = app.state.emulator.backend, 0
    try:
        later: list[Any] = []
        for g in plan.groups:
            for step in g.steps:
                p = step.params
                if p.action is Action.CREATE_SERVICE:
                    backend.create_service(p.config, p.labels)
                    made += 1
                elif step.action in (Action.SET_TRAFFIC_STATE, Action.SET_WEIGHT, Action.UPDATE_LABELS):
                    later.append(step)
                elif step.action not in (Action.WAIT_RUNNING, Action.SMOKE_TEST):
                    raise SystemExit(f"cannot pre-fill a {step.action} step")
        backend.advance_clock(3600)  # every member Running
        for step in later:
            p = step.params
            if p.action is Action.SET_TRAFFIC_STATE:
                backend.release_service(REGION, step.service, p.traffic_state.value, None)
            elif p.action is Action.SET_WEIGHT:
                backend.release_service(REGION, step.service, None, p.weight)
            elif p.action is Action.UPDATE_LABELS:
                backend.update_service_label(REGION, step.service, p.labels)
    finally:
        app.state.emulator.store.close()
    return made


def child_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(files: Path, state: Path) -> tuple[float, float, int, str]:
    """Wall and CPU seconds, exit code and last line of one `plan` through the CLI in a child process."""
    cmd = [sys.executable, "-m", "reconciler", "plan", str(files), "--target", "local", "--state", str(state)]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "120"}
    cpu, start = child_cpu(), time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    tail = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    return wall, child_cpu() - cpu, done.returncode, tail


def timed(label: str, rows: list[tuple[str, float, float]], fn: Callable[[], T]) -> T:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    rows.append((label, time.perf_counter() - wall, time.process_time() - cpu))
    return result


def phases(files: Path, state: Path, profile: str | None = None
           ) -> tuple[list[tuple[str, float, float]], dict[str, int], int, int]:
    """The command's phases in-process: (phase, wall, cpu) rows, API round trips, steps, rendered lines.
    `profile`: a cProfile of every phase after the load (the YAML parser is a library) into that file."""
    rows: list[tuple[str, float, float]] = []
    desired = timed("load", rows, lambda: load_paths([files]))
    profiler = cProfile.Profile()
    if profile:
        profiler.enable()
    trips: dict[str, int] = {}

    async def read() -> LiveState:
        async with target_connector("local", state=state)(REGION) as link:
            live = await read_live({REGION: link.client})
            trips.update(link.client.stats.round_trips)
            return live

    live = timed("read", rows, lambda: asyncio.run(read()))
    plan = timed("build_plan", rows, lambda: build_plan([g.group for g in desired.groups], live))
    text = timed("render (text)", rows, lambda: render_text(plan))
    if profile:
        profiler.disable()
        profiler.dump_stats(profile)
    return rows, trips, sum(len(g.steps) for g in plan.groups), text.count("\n")


def report(args: argparse.Namespace, files: Path, state: Path) -> None:
    print(f"\nplan through the CLI: {args.groups:,} files x {args.members} services, {args.changed} groups changed "
          f"(local target, state file; {os.cpu_count()} cores)")
    print("| run | wall (s) | CPU (s) | exit | last line |")
    print("|---:|---:|---:|---:|---|")
    for i in range(args.runs):
        wall, cpu, code, tail = run_cli(files, state)
        print(f"| {i + 1} | {wall:.2f} | {cpu:.2f} | {code} | {tail[:60]} |", flush=True)

    rows, trips, steps, lines = phases(files, state, args.profile)
    if args.profile:
        pstats.Stats(args.profile).sort_stats("cumulative").print_stats("reconciler", 30)
    print(f"\nphases in-process: {steps} steps, {lines} lines of text; API round trips: "
          + ", ".join(f"{op} {n}" for op, n in sorted(trips.items())))
    print("| phase | wall (s) | CPU (s) |")
    print("|---|---:|---:|")
    for label, wall, cpu in rows:
        print(f"| {label} | {wall:.2f} | {cpu:.2f} |")
    beyond = sum(cpu for label, _, cpu in rows if label != "read")
    print(f"| all but the read | {sum(w for label, w, _ in rows if label != 'read'):.2f} | {beyond:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--groups", type=int, default=1000, help="group files to write")
    parser.add_argument("--members", type=int, default=10, help="services per group")
    parser.add_argument("--changed", type=int, default=0, help="groups whose first member gets one more replica")
    parser.add_argument("--runs", type=int, default=3, help="runs of the whole command")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the in-process phases into FILE")
    parser.add_argument("--keep", metavar="DIR", type=Path,
                        help="write the files and the state under DIR and keep them (default: a temporary "
                             "directory); a DIR kept earlier is reused as it is, without set-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eas-gitops-bench-") as tmp:
        root = args.keep or Path(tmp)
        files, state = root / "groups", root / "state" / "local.db"
        if state.exists():  # kept from an earlier run with the same arguments: no set-up
            print(f"set-up: reusing {root}")
        else:
            set_up(args, files, state)
        report(args, files, state)


def set_up(args: argparse.Namespace, files: Path, state: Path) -> None:
    files.mkdir(parents=True, exist_ok=True)
    state.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    write_files(files, args.groups, args.members)
    made = fill_state(files, state)
    if args.changed:
        write_files(files, args.changed, args.members, changed=args.changed)
    print(f"set-up: {args.groups:,} files, {made:,} services in {state.name} "
          f"({time.perf_counter() - start:.1f} s, not counted)")


if __name__ == "__main__":
    main()
