"""Canary releases through the CLI on a served emulator, in real time, with real requests from `emulator load`.

`eas-gitops emulator serve` runs on a free loopback port (state in tmp_path); `eas-gitops emulator
load` sends requests to the group in the background; `apply` ramps the canary with bakes of a few
seconds, judged on the emulator's CloudMonitor (1 s periods). A canary answering 50 % 500s is
aborted at the first step (exit 3); the same release with a healthy canary promotes and settles.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from reconciler.cli.main import app
from reconciler.desired.rollout import PROGRESS_LABEL
from reconciler.targets import open_client

pytestmark = pytest.mark.slow  # real time: about 20 s each (a served emulator, bakes of 4 s)

ROLLOUT = """
  rollout:
    steps:
      - {share: 10, bake: 4s}
      - {share: 50, bake: 4s}
    analysis:
      provider: cloudmonitor
      interval: 2s
      min_requests: 5
      failure_limit: 2
      metrics:
        - {name: error_rate, max: 5}
        - {name: error_rate, max_over_baseline: 5}
    on_failure: rollback
"""


def group_file(model: str, rollout: bool, canary_labels: str = "{}", rollout_text: str = ROLLOUT) -> str:
    return f"""apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata: {{name: pmml, region: cn-shanghai}}
spec:
  traffic_mode: auto{rollout_text if rollout else ""}
  services:
    - {{name: pmml_prod, role: primary, traffic: grouping, replicas: 4, resources: {{cpu: 1, memory: 1000}},
       model: {{path: "oss://examplebucket/models/lr_{model}.pmml", processor: pmml}}}}
    - {{name: pmml_grey, role: canary, traffic: grouping, replicas: 1, resources: {{cpu: 1, memory: 1000}},
       labels: {canary_labels}, smoke_test: {{path: /}},
       model: {{path: "oss://examplebucket/models/lr_{model}.pmml", processor: pmml}}}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ALIBABA_CLOUD_", "EAS_GITOPS_"))}
    return env


def eas_gitops(*args: str) -> list[str]:
    return [sys.executable, "-m", "reconciler", *args]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(eas_gitops("emulator", "serve", "--port", str(port), "--state", str(tmp_path / "e.db")),
                              env=cli_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{url}/api/predict/none", timeout=1.0)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


class Load:
    """`eas-gitops emulator load` in the background for the duration of a block."""

    def __init__(self, url: str, rps: int = 60) -> None:
        self.url = url
        self.argv = eas_gitops("emulator", "load", "pmml", "--rps", str(rps), "--duration", "2m", "--target", url)
        self.process: subprocess.Popen[str] | None = None

    def answered(self) -> float:
        """Requests the served emulator's gateway has answered for the group so far (its /metrics)."""
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        return sum(float(line.rpartition(" ")[2]) for line in text.splitlines()
                   if line.startswith("eas_emulator_gateway_requests_total{") and 'group="pmml"' in line)

    def __enter__(self) -> Load:
        before = self.answered()
        self.process = subprocess.Popen(self.argv, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True)
        deadline = time.monotonic() + 30
        while self.answered() < before + 20:  # the interpreter has started and requests flow
            assert time.monotonic() < deadline, "emulator load sent nothing"
            time.sleep(0.2)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.process is not None
        self.process.terminate()
        self.process.wait(timeout=10)


def run(tmp_path: Path, url: str, *args: str) -> Any:
    result = CliRunner().invoke(app, [*args, "--target", url], env=cli_env())
    return result


def history(url: str, tmp_path: Path) -> dict[str, Any]:
    result = run(tmp_path, url, "emulator", "history", "--group", "pmml", "--format", "json")
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.output)
    return data


def canary_shares_since(data: dict[str, Any], seq: int) -> list[float]:
    return [s["shares"].get("pmml_grey", 0.0) for s in data["Shares"]["pmml"] if s["event_seq"] > seq]


def new_version_seq(data: dict[str, Any], service: str, after: int) -> int:
    return min(e["seq"] for e in data["Events"]
               if e["service"] == service and e["action"] == "UpdateService" and e["seq"] > after)


def created(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    """The group live on v3 (80/20, no rollout yet); (the file, the last history seq)."""
    monkeypatch.chdir(tmp_path)
    files = tmp_path / "groups"
    files.mkdir()
    (files / "pmml.yaml").write_text(group_file("v3", rollout=False))
    first = run(tmp_path, url, "apply", str(files), "--auto-approve")
    assert first.exit_code == 0, first.output
    return files / "pmml.yaml", max(e["seq"] for e in history(url, tmp_path)["Events"])


def test_a_canary_answering_500s_is_aborted_at_the_first_step(served: str, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    target, start = created(tmp_path, served, monkeypatch)
    target.write_text(group_file("v4", rollout=True, canary_labels='{"emulator/error-rate": "0.5"}'))
    with Load(served):
        bad = run(tmp_path, served, "apply", str(target.parent), "--auto-approve")
    assert bad.exit_code == 3, bad.output
    assert "bake 1/2 at 9.9 %" in bad.output and "rolled_back" in bad.output
    assert "error_rate: canary" in bad.output and "-> fail" in bad.output  # every check in the report
    assert "bake 2/2" not in bad.output and "RELEASE ABORTED: step 1/2 (9.9 %) of pmml_grey" in bad.output
    assert "abort path: update_version pmml_grey" in bad.output
    assert "error: release rolled back: cn-shanghai/pmml" in bad.output
    data = history(served, tmp_path)
    canary_new = new_version_seq(data, "pmml_grey", start)
    assert max(canary_shares_since(data, canary_new)) <= 0.1  # never above the first step's share
    assert not any(e["service"] == "pmml_prod" and e["action"] in ("UpdateService", "UpdateServiceVersion")
                   and e["seq"] > start for e in data["Events"])  # the primary untouched
    assert any(e["service"] == "pmml_grey" and e["action"] == "UpdateServiceVersion" and e["seq"] > canary_new
               for e in data["Events"])  # the canary back on its previous version
    assert not any(s["black_hole"] for s in data["Shares"]["pmml"] if s["event_seq"] > start)
    status = run(tmp_path, served, "status", "--format", "json")
    assert status.exit_code == 0, status.output
    grey = next(r for r in json.loads(status.stdout)["rows"] if r["service"] == "pmml_grey")
    assert grey["traffic_state"] == "standalone"
    replan = run(tmp_path, served, "plan", str(target.parent), "--detailed-exitcode")
    assert replan.exit_code == 2  # the files are ahead of live: the release shows again


def test_a_healthy_canary_ramps_promotes_and_settles(served: str, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    target, start = created(tmp_path, served, monkeypatch)
    target.write_text(group_file("v4", rollout=True))
    with Load(served):
        good = run(tmp_path, served, "apply", str(target.parent), "--auto-approve")
    assert good.exit_code == 0, good.output
    assert "bake 1/2 at 9.9 %" in good.output and "bake 2/2 at 50 %" in good.output
    data = history(served, tmp_path)
    promoted = new_version_seq(data, "pmml_prod", start)
    assert all(x["shares"].get("pmml_grey", 0.0) <= 0.5 + 1e-9 for x in data["Shares"]["pmml"]
               if start < x["event_seq"] < promoted)  # never above the ramp's last share before the promotion
    final = data["Shares"]["pmml"][-1]["shares"]
    assert abs(final["pmml_prod"] - 0.8) < 1e-9 and abs(final["pmml_grey"] - 0.2) < 1e-9
    updated = {e["service"] for e in data["Events"] if e["action"] == "UpdateService" and e["seq"] > start}
    assert updated == {"pmml_prod", "pmml_grey"}  # both members on the new version
    assert not any(s["black_hole"] for s in data["Shares"]["pmml"] if s["event_seq"] > start)
    assert run(tmp_path, served, "plan", str(target.parent), "--detailed-exitcode").exit_code == 0


def apply_until(url: str, files: Path, needle: str, journal: Path) -> subprocess.Popen[str]:
    """`eas-gitops apply` in a subprocess, returned once its output shows `needle` (a line while baking)."""
    # a short lock ttl: the lock of an apply killed here expires in seconds, not the default 2 minutes
    process = subprocess.Popen(eas_gitops("apply", str(files), "--auto-approve", "--target", url,
                                          "--journal-dir", str(journal), "--lock-ttl", "6s"),
                               env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if needle in line:
            return process
    process.wait(timeout=10)
    raise AssertionError("".join(seen))


def progress_label(url: str) -> str:
    async def go() -> str:
        async with open_client(url, "cn-shanghai") as client:
            return (await client.describe_service("pmml_grey")).labels.get(PROGRESS_LABEL, "")
    return asyncio.run(go())


def bake_checks(journal: Path) -> list[dict[str, Any]]:
    lines = [json.loads(line) for path in sorted(journal.glob("*.jsonl")) for line in path.read_text().splitlines()]
    return [line for line in lines if line["action"] == "bake_check"]


def test_an_apply_killed_while_baking_resumes_at_that_step_counting_the_served_bake(
        served: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = created(tmp_path, served, monkeypatch)
    target.write_text(group_file("v4", rollout=True))
    with Load(served):
        killed = apply_until(served, target.parent, "bake 2/2", tmp_path / "j1")
        killed.send_signal(signal.SIGKILL)  # no cleanup at all: a lost CI runner
        killed.wait(timeout=10)
        _, step, started = progress_label(served).split(";")
        assert step == "2"
        plan = run(tmp_path, served, "plan", str(target.parent))
        assert plan.exit_code == 0 and "resumes at step 2" in plan.output, plan.output
        again = run(tmp_path, served, "apply", str(target.parent), "--auto-approve", "--journal-dir",
                    str(tmp_path / "j2"))
    assert again.exit_code == 0, again.output
    resumed = bake_checks(tmp_path / "j2")
    assert {c["params"]["rollout_step"] for c in resumed} == {2}  # neither from 0 % nor straight to 100 %
    assert resumed[0]["check"]["start"] == float(started)  # the bake served before the kill counts
    assert run(tmp_path, served, "plan", str(target.parent), "--detailed-exitcode").exit_code == 0


def test_sigterm_while_baking_takes_the_canary_out_and_exits_130(served: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    target, _ = created(tmp_path, served, monkeypatch)
    target.write_text(group_file("v4", rollout=True))
    with Load(served):
        process = apply_until(served, target.parent, "bake 1/2", tmp_path / "j")
        process.send_signal(signal.SIGTERM)  # a cancelled CI job
        rest, _ = process.communicate(timeout=30)
    assert process.returncode == 130, rest
    assert "interrupted: cn-shanghai/pmml: release of pmml_grey interrupted at step 1/2" in rest
    assert "pmml_grey taken out of group traffic" in rest and "starts it from step 1" in rest
    status = run(tmp_path, served, "status", "--format", "json")
    grey = next(r for r in json.loads(status.stdout)["rows"] if r["service"] == "pmml_grey")
    assert grey["traffic_state"] == "standalone"
    assert progress_label(served).split(";")[1] == "0"
