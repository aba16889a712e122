"""A release judged by `provider: prometheus`: a real Prometheus (its own process, loopback) scrapes the served
emulator's /metrics every second, `emulator load` sends real requests, and a canary answering 50 % 500s is
aborted at the first step through the CLI (exit 3), its primary untouched."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from .test_cli_rollout_served import Load, created, group_file, history, run, served  # noqa: F401

pytestmark = pytest.mark.slow
PROMETHEUS = shutil.which("prometheus")


def rollout_text(url: str) -> str:
    return f"""
  rollout:
    steps:
      - {{share: 10, bake: 9s}}
      - {{share: 50, bake: 3s}}
    analysis:
      provider: prometheus
      interval: 3s
      min_requests: 5
      failure_limit: 2
      metrics:
        - {{name: error_rate, max: 5}}
      prometheus: {{url: "{url}"}}
    on_failure: rollback
"""


@pytest.fixture
def prometheus(served: str, tmp_path: Path) -> Iterator[str]:  # noqa: F811
    if PROMETHEUS is None:
        pytest.skip("the prometheus binary is not installed (apt-get install prometheus; .ci/run installs it)")
    config = tmp_path / "prometheus.yml"
    config.write_text(json.dumps({"global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
                                  "scrape_configs": [{"job_name": "emulator", "static_configs": [
                                      {"targets": [served.removeprefix("http://")]}]}]}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                f"--web.listen-address=127.0.0.1:{port}", "--log.level=error"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/-/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def scraped(url: str) -> bool:
    query = 'sum(eas_emulator_gateway_requests_total{group="pmml"})'
    answer = httpx.get(f"{url}/api/v1/query", params={"query": query}, timeout=5).json()["data"]["result"]
    return bool(answer) and float(answer[0]["value"][1]) > 0


def test_a_bad_canary_judged_by_prometheus_is_aborted_at_the_first_step(
        served: str, prometheus: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    target, start = created(tmp_path, served, monkeypatch)
    target.write_text(group_file("v4", rollout=True, canary_labels='{"emulator/error-rate": "0.5"}',
                                 rollout_text=rollout_text(prometheus)))
    with Load(served):
        deadline = time.monotonic() + 30
        while not scraped(prometheus) and time.monotonic() < deadline:  # Prometheus's first scrapes take a while
            time.sleep(0.5)
        bad = run(tmp_path, served, "apply", str(target.parent), "--auto-approve")
    assert bad.exit_code == 3, bad.output
    assert "bake 1/2" in bad.output and "bake 2/2" not in bad.output and "-> fail" in bad.output
    data = history(served, tmp_path)
    assert not any(e["service"] == "pmml_prod" and e["action"] in ("UpdateService", "UpdateServiceVersion")
                   and e["seq"] > start for e in data["Events"])
