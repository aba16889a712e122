"""plan / apply / import end to end through the CLI on the local target (both new-member traffic settings)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path

import httpx
import pytest
import typer
from apply.invariants import violations  # tests/ is on sys.path (rootdir-relative packages)

from reconciler.cli import apply as apply_cli
from reconciler.cli import plan as plan_cli
from reconciler.desired.model import TrafficState
from reconciler.target_names import LOCAL_BASE_URL

from .conftest import EXAMPLES, Cli


def gateway_split(cli: Cli, group: str, requests: int = 100) -> Counter[str]:
    async def go() -> Counter[str]:
        app = cli.emulator()
        token = app.state.emulator.backend.route(group).token
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=LOCAL_BASE_URL,
                                     headers={"Authorization": token}) as http:
            seen: Counter[str] = Counter()
            for _ in range(requests):
                response = await http.post(f"/api/predict/{group}", content=b"[]")
                seen[response.headers.get("x-eas-emulator-service", str(response.status_code))] += 1
            return seen
    return asyncio.run(go())


async def console_edit(cli: Cli) -> None:
    """Someone takes the canary out of traffic in the console: ReleaseService through the client."""
    where = plan_cli.Where(state=cli.state)
    async with plan_cli.WIRING.connector(where)("cn-shanghai") as link:
        await link.client.release_service("pmml_grey", traffic_state=TrafficState.STANDALONE)


def test_apply_examples_then_nothing_left_to_do(cli: Cli) -> None:
    first = cli("apply", EXAMPLES, "--auto-approve")
    assert first.exit_code == 0, first.output
    assert "cn-shanghai/pmml: done" in first.output
    assert "[cn-shanghai/pmml] step 3/6 wait_running pmml_prod" in first.output  # CI progress lines
    assert gateway_split(cli, "pmml") == Counter({"pmml_prod": 80, "pmml_grey": 20})
    assert gateway_split(cli, "ranker") == Counter({"ranker_green": 80, "ranker_blue": 20})
    for region in ("cn-shanghai", "cn-beijing", "cn-hangzhou"):
        events, shares = cli.history(region)
        assert violations(events, shares) == [], region
    again = cli("plan", EXAMPLES, "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    writes = cli.writes()
    assert all(cli.writes(region) > 0 for region in ("cn-shanghai", "cn-beijing", "cn-hangzhou"))  # all counted
    second = cli("apply", EXAMPLES, "--auto-approve")
    assert second.exit_code == 0, second.output
    assert cli.writes() == writes
    journals = list(Path(".eas-gitops/journal").glob("*.jsonl"))
    assert len(journals) == 1  # the second apply had nothing to do: no journal
    lines = [json.loads(line) for line in journals[0].read_text().splitlines()]
    assert {entry["group"] for entry in lines} == {"pmml", "ranker", "fraud", "llm_chat", "recsys", "credit"}
    assert all(entry["outcome"] == "ok" for entry in lines)


def test_plan_detailed_exitcode_and_saved_plan(cli: Cli, tmp_path: Path) -> None:
    result = cli("plan", EXAMPLES / "pmml.yaml", "--detailed-exitcode", "--out", tmp_path / "plan.json",
                 "--format", "markdown")
    assert result.exit_code == 2, result.output
    assert "pmml_prod" in result.output and "|" in result.output  # markdown table
    saved = json.loads((tmp_path / "plan.json").read_text())
    assert saved["live_fingerprint"].startswith("sha256:")
    applied = cli("apply", "--plan", tmp_path / "plan.json", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert cli("plan", EXAMPLES / "pmml.yaml", "--detailed-exitcode").exit_code == 0


def test_stale_saved_plan_is_refused_with_zero_writes(cli: Cli, tmp_path: Path) -> None:
    assert cli("apply", EXAMPLES / "pmml.yaml", "--auto-approve").exit_code == 0
    changed = tmp_path / "pmml.yaml"
    changed.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: 3"))
    assert cli("plan", changed, "--out", tmp_path / "plan.json").exit_code == 0
    asyncio.run(console_edit(cli))
    writes = cli.writes()
    result = cli("apply", "--plan", tmp_path / "plan.json", "--auto-approve")
    assert result.exit_code == 1
    assert "live state is now" in result.output and "run plan again" in result.output
    assert cli.writes() == writes


def test_invalid_files_list_every_problem_and_write_nothing(cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: -4")
                   .replace("traffic_mode: auto", "traffic_mode: sideways"))
    for command in ("plan", "apply"):
        result = cli(command, bad, "--auto-approve") if command == "apply" else cli(command, bad)
        assert result.exit_code == 1
        assert "bad.yaml:" in result.output and "replicas" in result.output and "traffic_mode" in result.output
    assert cli.writes() == 0


def test_apply_without_terminal_or_auto_approve_refuses(cli: Cli) -> None:
    result = cli("apply", EXAMPLES / "pmml.yaml")
    assert result.exit_code == 1
    assert "--auto-approve" in result.output
    assert cli.writes() == 0


def test_confirmation_then_live_moved_meanwhile_is_refused(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("apply", EXAMPLES / "pmml.yaml", "--auto-approve").exit_code == 0
    monkeypatch.setattr(apply_cli, "can_ask", lambda: True)
    spec = Path("pmml.yaml")
    spec.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: 3"))
    declined = cli("apply", spec, input="n\n")
    assert declined.exit_code == 1 and "Apply these changes?" in declined.output
    writes = cli.writes()

    def someone_edits_while_we_read(*args: object, **kwargs: object) -> bool:
        asyncio.run(console_edit(cli))
        return True

    with monkeypatch.context() as patched:
        patched.setattr(typer, "confirm", someone_edits_while_we_read)
        result = cli("apply", spec)
    assert result.exit_code == 1 and "the plan you confirmed" in result.output
    assert cli.writes() == writes + 1  # only the console edit
    assert cli("apply", spec, input="y\n").exit_code == 0


SECRET_GROUP = """\
apiVersion: eas-gitops/v1
kind: ServiceGroup
metadata: {name: pmml, region: cn-shanghai}
spec:
  services:
    - name: pmml_prod
      replicas: 2
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://examplebucket/models/lr_v2.pmml", processor: pmml}
    - name: pmml_grey
      replicas: 1
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://examplebucket/models/lr_v3.pmml", processor: pmml}
      config: {token: "${env:PMML_TOKEN}"}
"""


def test_secrets_come_from_the_environment_at_apply_time_only(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "pmml.yaml").write_text(SECRET_GROUP)
    missing = cli("apply", tmp_path / "pmml.yaml", "--auto-approve")
    assert missing.exit_code == 1 and "PMML_TOKEN" in missing.output
    assert cli.writes() == 0
    secret = "s3cr3t-value-42"
    saved = cli("plan", tmp_path / "pmml.yaml", "--out", tmp_path / "plan.json", env={"PMML_TOKEN": secret})
    applied = cli("apply", tmp_path / "pmml.yaml", "--auto-approve", env={"PMML_TOKEN": secret})
    assert applied.exit_code == 0, applied.output
    texts = [saved.output, applied.output, (tmp_path / "plan.json").read_text(),
             *(p.read_text() for p in Path(".eas-gitops/journal").glob("*.jsonl"))]
    assert not any(secret in text for text in texts)
    live = cli.emulator().state.emulator.backend.describe_service("cn-shanghai", "pmml_grey")
    assert live.record.config["token"] == secret  # only EAS got the value


BIG_JOIN = """\
    - name: pmml_big
      replicas: 16
      resources: {cpu: 1, memory: 1000}
      model: {path: "oss://examplebucket/models/lr_v3.pmml", processor: pmml}
"""


def test_unsafe_plan_is_refused_naming_rule_step_numbers_and_the_fix(cli: Cli, tmp_path: Path) -> None:
    assert cli("apply", EXAMPLES / "pmml.yaml", "--auto-approve").exit_code == 0
    spec = tmp_path / "pmml.yaml"
    spec.write_text((EXAMPLES / "pmml.yaml").read_text() + BIG_JOIN)  # 16 of 21 replicas: 76.2 % at once
    writes = cli.writes()
    # with max_shift 10 even 1 replica first is too much (1 of 6 = 16.7 %): no ramp, refused
    refused = cli("apply", spec, "--auto-approve", "--max-shift", "10")
    assert refused.exit_code == 1
    text = " ".join(refused.output.split())
    assert "rule max_shift" in text and "step 3 (set_traffic_state pmml_big)" in text and "0% -> 76.2%" in text
    assert "max_shift 10" in text and "--max-shift 77" in text and "--force" in text
    assert cli.writes() == writes
    assert cli("plan", spec, "--max-shift", "77").exit_code == 0  # the suggested limit is enough
    ramped = cli("plan", spec)  # default 50: joins with 5 replicas (5 of 10 = 50 %), then scales to 16
    assert ramped.exit_code == 0 and "pmml_big joins with 5 of its 16 replicas first" in " ".join(ramped.output.split())
    forced = cli("plan", spec, "--force", "--max-shift", "10")
    assert forced.exit_code == 0 and "forced: unsafe plan: rule max_shift" in forced.output
    assert "--force" not in forced.output.split("forced:")[1].splitlines()[0]  # a warning, not advice


def test_saved_plan_refuses_options_that_would_be_ignored(cli: Cli, tmp_path: Path) -> None:
    assert cli("plan", EXAMPLES / "pmml.yaml", "--out", tmp_path / "plan.json").exit_code == 0
    for flag, extra in (("--group", ["--group", "pmml"]), ("--force", ["--force"]),
                        ("--max-shift", ["--max-shift", "80"]), ("PATHS", [str(EXAMPLES / "pmml.yaml")])):
        result = cli("apply", "--plan", tmp_path / "plan.json", "--auto-approve", *extra)
        assert result.exit_code == 1, extra
        assert "cannot change a saved one" in result.output and flag in result.output
    assert cli.writes() == 0
    ok = cli("apply", "--plan", tmp_path / "plan.json", "--auto-approve", "--region", "cn-beijing")
    assert ok.exit_code == 0, ok.output
