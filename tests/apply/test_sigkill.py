"""SIGKILL in the middle of a traffic step: a real `eas-gitops apply` process dies without any cleanup,
then plan and apply again converge, and the emulator's history never shows a black hole of a serving
group nor a member taking traffic before it is ready (an interrupted apply is resumed by planning again,
whatever the way it stopped).

The live state is a local emulator state file (SQLite). It is first converged in-process on a virtual
clock set an hour in the past (so every member is Running by the time the real process reads it); the
killed apply runs on the real clock (a few seconds); the resume runs in-process again, on a virtual clock
that starts now.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.apply.runtime import VirtualTimer

from .harness import World, load
from .invariants import violations

REGION = "cn-shanghai"
TRAFFIC_WRITES = ("ReleaseService", "UpdateGroup")


def _member(name: str, replicas: int, model: str, traffic: str = "grouping", weight: int | None = None) -> str:
    extra = f", weight: {weight}" if weight is not None else ""
    return (f"    - {{name: {name}, traffic: {traffic}, replicas: {replicas}{extra}, "
            f"resources: {{cpu: 1, memory: 1000}}, model: {{path: \"oss://b/{model}.pmml\", processor: pmml}}, "
            "smoke_test: {path: /}}\n")


def _group(name: str, mode: str, members: str) -> str:
    return (f"apiVersion: eas-gitops/v1\nkind: ServiceGroup\nmetadata: {{name: {name}, region: {REGION}}}\n"
            f"spec:\n  traffic_mode: {mode}\n  services:\n{members}")


START = {
    "pmml.yaml": _group("pmml", "auto", _member("pmml_prod", 3, "v1") + _member("pmml_grey", 1, "v1")),
    "rec.yaml": _group("rec", "customized", _member("rec_a", 1, "a1", weight=50)
                       + _member("rec_b", 1, "b1", weight=50) + _member("rec_old", 1, "o1", weight=50)),
}
CHANGED = {  # new canary version (drained first), a new member, a scale-down; weights move, a member goes
    "pmml.yaml": _group("pmml", "auto", _member("pmml_prod", 2, "v1") + _member("pmml_grey", 1, "v2")
                        + _member("pmml_new", 1, "v2")),
    "rec.yaml": _group("rec", "customized", _member("rec_a", 1, "a1", weight=20)
                       + _member("rec_b", 1, "b2", weight=80)),
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def _traffic_writes(state: Path, since: int) -> int:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5) as db:
        marks = ",".join("?" * len(TRAFFIC_WRITES))
        # a label write on the group is apply's lock, not traffic
        (count,) = db.execute(f"SELECT count(*) FROM events WHERE kind = 'write' AND seq > ? AND action IN ({marks}) "
                              "AND json_extract(doc, '$.Labels') IS NULL", (since, *TRAFFIC_WRITES)).fetchone()
    return int(count)


def _kill_after(folder: Path, state: Path, since: int, writes: int, cwd: Path) -> int:
    """Run `eas-gitops apply` in a process and SIGKILL it once `writes` traffic writes landed; its exit code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EAS_GITOPS_")}
    proc = subprocess.Popen([sys.executable, "-m", "reconciler", "apply", str(folder), "--auto-approve",
                             "--state", str(state)], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            if _traffic_writes(state, since) >= writes:
                proc.send_signal(signal.SIGKILL)
                break
            time.sleep(0.005)
        return proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _world(state: Path, start: float) -> World:
    world = World(state=state)
    world.timer = VirtualTimer(start)
    return world


@pytest.mark.slow
@pytest.mark.parametrize("writes", [1, 4])
def test_sigkill_during_a_traffic_step_then_plan_and_apply_converge_without_black_hole(
        tmp_path: Path, writes: int) -> None:
    state = tmp_path / "local.db"
    start, changed = _write(tmp_path / "start", START), load(_write(tmp_path / "changed", CHANGED))
    seeded = _world(state, time.time() - 3600)
    assert asyncio.run(seeded.converge(load(start))).ok
    since = max(e["seq"] for e in seeded.history(REGION)[0])

    code = _kill_after(tmp_path / "changed", state, since, writes, tmp_path)
    assert code == -signal.SIGKILL, "the apply ended before it was killed: nothing was interrupted"
    assert _traffic_writes(state, since) >= writes

    resumed = _world(state, time.time() + 1)

    async def resume() -> None:
        rest, live = await resumed.plan(changed)
        assert rest.has_changes
        report = await resumed.apply(rest, live)
        assert report.ok, [(g.group, g.error) for g in report.groups]
        final, _ = await resumed.plan(changed)
        assert not final.has_changes, [(g.name, [s.action.value for s in g.steps]) for g in final.groups]
        shares = {m.name: m.share for g in final.groups for m in g.members_now}
        assert shares == {"pmml_prod": 50.0, "pmml_grey": 25.0, "pmml_new": 25.0, "rec_a": 20.0, "rec_b": 80.0}

    asyncio.run(resume())
    events, history = resumed.history(REGION)
    assert violations(events, history, since=since) == []
