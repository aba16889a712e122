"""One applier at a time, with real processes: `eas-gitops apply` subprocesses on the real clock against the
same local state file, and against a served emulator (`eas-gitops emulator serve` in its own process).

- Two applies started one second apart with files that disagree: the second waits for the lock, plans again
  from what the first left, both exit 0, nothing answers 409, and the final state is the second's.
- A holder that dies (SIGKILL) stops renewing: its lock expires (a short --lock-ttl) and the next apply takes it.
- `unlock GROUP` breaks a dead holder's lock by hand (refused without --yes when there is no terminal).
- `--lock-timeout 0` refuses at once, naming the holder, exit 1, not one write.

The state is seeded in-process on a virtual clock an hour in the past, so every member is Running when the
processes read it.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.apply.runtime import VirtualTimer

from .harness import World, load

REGION = "cn-shanghai"
pytestmark = pytest.mark.slow


def _group(prod_replicas: int, grey_model: str) -> str:
    member = ("    - {{name: {n}, traffic: grouping, replicas: {r}, resources: {{cpu: 1, memory: 1000}}, "
              "model: {{path: \"oss://b/{m}.pmml\", processor: pmml}}}}\n")
    return (f"apiVersion: eas-gitops/v1\nkind: ServiceGroup\nmetadata: {{name: duo, region: {REGION}}}\n"
            f"spec:\n  traffic_mode: auto\n  services:\n"
            + member.format(n="duo_prod", r=prod_replicas, m="v1") + member.format(n="duo_grey", r=1, m=grey_model))


def _folder(path: Path, text: str) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "duo.yaml").write_text(text)
    return path


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("EAS_GITOPS_", "ALIBABA_CLOUD_", "GITHUB_"))} | {"COLUMNS": "200"}


def _writes(state: Path) -> int:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5) as db:
        (count,) = db.execute("SELECT count(*) FROM events WHERE kind = 'write'").fetchone()
    return int(count)


def _lock_token(state: Path) -> str:
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=5) as db:
        row = db.execute("SELECT doc FROM groups WHERE name = 'duo'").fetchone()
    return json.loads(row[0])["labels"].get("eas-gitops/lock", "") if row else ""


class Site:
    """Where the processes apply: the local state file, or a served emulator over it."""

    def __init__(self, state: Path, url: str | None, cwd: Path) -> None:
        self.state, self.url, self.cwd = state, url, cwd

    def argv(self, *args: str | Path) -> list[str]:
        where = ["--target", self.url] if self.url else ["--state", str(self.state)]
        return [sys.executable, "-m", "reconciler", *map(str, args), *where]

    def start(self, *args: str | Path) -> subprocess.Popen[str]:
        return subprocess.Popen(self.argv(*args), cwd=self.cwd, env=_env(), text=True, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(*args), cwd=self.cwd, env=_env(), text=True, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=120)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(params=["local", "served"])
def site(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Site]:
    state = tmp_path / "local.db"
    seeded = World(state=state)
    seeded.timer = VirtualTimer(time.time() - 3600)
    assert asyncio.run(seeded.converge(load(_folder(tmp_path / "seed", _group(2, "v1"))))).ok
    if request.param == "local":
        yield Site(state, None, tmp_path)
        return
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "reconciler", "emulator", "serve", "--port", str(port),
                               "--state", str(state), "--region", REGION], cwd=tmp_path, env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        yield Site(state, f"http://127.0.0.1:{port}", tmp_path)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for_lock(state: Path, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not _lock_token(state):
        assert proc.poll() is None and time.monotonic() < deadline, "the first apply never took the lock"
        time.sleep(0.02)


def _kill(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=30)


def _dead_holder(site: Site, tmp_path: Path, ttl: str) -> tuple[Path, subprocess.Popen[str]]:
    """An apply of other files SIGKILLed once it holds the lock (ttl `ttl`); (the second files, the dead process)."""
    first = _folder(tmp_path / "first", _group(4, "v2"))
    a = site.start("apply", first, "--auto-approve", "--lock-ttl", ttl)
    _wait_for_lock(site.state, a)
    _kill(a)
    return _folder(tmp_path / "second", _group(3, "v3")), a


def _no_changes(site: Site, folder: Path) -> None:
    result = site.run("plan", folder, "--detailed-exitcode")
    assert result.returncode == 0, result.stdout + result.stderr


def test_two_applies_one_second_apart_the_second_waits_and_wins(site: Site, tmp_path: Path) -> None:
    first = _folder(tmp_path / "first", _group(4, "v2"))
    second = _folder(tmp_path / "second", _group(3, "v3"))
    a = site.start("apply", first, "--auto-approve")
    time.sleep(1)
    b = site.start("apply", second, "--auto-approve")
    out_a, err_a = a.communicate(timeout=180)
    out_b, err_b = b.communicate(timeout=180)
    assert a.returncode == 0, out_a + err_a
    assert b.returncode == 0, out_b + err_b
    assert "waiting for the lock on cn-shanghai/duo: held by" in err_b and f"pid {a.pid}" in err_b
    assert "planned again" in err_b  # from what the first left, not from what it read before waiting
    for text in (out_a, err_a, out_b, err_b):
        assert "HTTP 409" not in text and "Conflict" not in text and "AlreadyExists" not in text
    _no_changes(site, second)
    assert not _lock_token(site.state)  # released


def test_a_dead_holders_lock_expires_and_the_next_apply_takes_it(site: Site, tmp_path: Path) -> None:
    second, a = _dead_holder(site, tmp_path, "8s")
    killed = time.monotonic()
    b = site.run("apply", second, "--auto-approve", "--lock-timeout", "1m")
    assert b.returncode == 0, b.stdout + b.stderr
    assert "waiting for the lock on cn-shanghai/duo: held by " in b.stderr and f"pid {a.pid}" in b.stderr
    assert "expired" not in b.stderr.splitlines()[0]  # it waited for a live-looking lock, not a stale one
    assert 6 < time.monotonic() - killed < 50  # taken over after the ttl, not before
    _no_changes(site, second)


def test_unlock_breaks_a_dead_holders_lock(site: Site, tmp_path: Path) -> None:
    second, a = _dead_holder(site, tmp_path, "10m")
    refused = site.run("unlock", "duo", "--region", REGION)
    assert refused.returncode == 1 and "--yes" in refused.stderr and f"pid {a.pid}" in refused.stdout
    assert _lock_token(site.state)
    done = site.run("unlock", f"{REGION}/duo", "--yes")
    assert done.returncode == 0 and "unlocked cn-shanghai/duo" in done.stdout, done.stdout + done.stderr
    assert not _lock_token(site.state)
    b = site.run("apply", second, "--auto-approve", "--lock-timeout", "0")
    assert b.returncode == 0, b.stdout + b.stderr
    _no_changes(site, second)


def test_lock_timeout_zero_refuses_at_once_naming_the_holder_without_writing(site: Site, tmp_path: Path) -> None:
    second, a = _dead_holder(site, tmp_path, "10m")
    before = _writes(site.state)
    started = time.monotonic()
    b = site.run("apply", second, "--auto-approve", "--lock-timeout", "0")
    assert b.returncode == 1
    assert "error: cn-shanghai/duo is locked by " in b.stderr and f"pid {a.pid}" in b.stderr
    assert "unlock" in b.stderr and "Traceback" not in b.stderr
    assert _writes(site.state) == before and time.monotonic() - started < 20


def test_ctrl_c_releases_the_lock_and_the_next_apply_takes_it_at_once(site: Site, tmp_path: Path) -> None:
    first = _folder(tmp_path / "first", _group(4, "v2"))
    a = site.start("apply", first, "--auto-approve", "--lock-ttl", "10m")
    _wait_for_lock(site.state, a)
    a.send_signal(signal.SIGINT)
    out_a, err_a = a.communicate(timeout=60)
    assert a.returncode == 130, out_a + err_a
    assert "Traceback" not in err_a
    assert "interrupted before the first step: nothing was changed" in err_a  # it was still taking the lock
    assert not _lock_token(site.state)  # released on the way out, not left to expire in 10 minutes
    second = _folder(tmp_path / "second", _group(3, "v3"))
    b = site.run("apply", second, "--auto-approve", "--lock-timeout", "0")
    assert b.returncode == 0, b.stdout + b.stderr
    _no_changes(site, second)
