"""Target strings, endpoints and credential choice (no network: aliyun runs against a MockTransport)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID
from reconciler.errors import ConfigError, CredentialsError, NotFoundError
from reconciler.target_names import ENV_TARGET, TargetKind, resolve_target
from reconciler.targets import url_credentials


def test_local_is_the_default_and_env_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_TARGET, raising=False)
    assert resolve_target(None, "cn-shanghai").kind is TargetKind.LOCAL
    monkeypatch.setenv(ENV_TARGET, "http://127.0.0.1:8080")
    assert resolve_target(None, "cn-shanghai").base_url == "http://127.0.0.1:8080"
    assert resolve_target("local", "cn-shanghai").kind is TargetKind.LOCAL


@pytest.mark.parametrize(("vpc", "url"), [(False, "https://pai-eas.cn-hangzhou.aliyuncs.com"),
                                          (True, "https://pai-eas-manage-vpc.cn-hangzhou.aliyuncs.com")])
def test_aliyun_endpoints(vpc: bool, url: str) -> None:
    assert resolve_target("aliyun", "cn-hangzhou", vpc).base_url == url


@pytest.mark.parametrize("bad", ["ftp://x", "aliyun-prod", "http://h:1/api", "http://"])
def test_bad_targets_are_config_errors(bad: str) -> None:
    with pytest.raises(ConfigError, match="target"):
        resolve_target(bad, "cn-shanghai")


def test_url_credentials_env_then_loopback_local_pair() -> None:
    loop, remote = resolve_target("http://127.0.0.1:9", "r"), resolve_target("https://eas.example.com", "r")
    env = {"ALIBABA_CLOUD_ACCESS_KEY_ID": "AKenv", "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "sec",
           "ALIBABA_CLOUD_SECURITY_TOKEN": "tok"}
    got = url_credentials(remote, env)
    assert (got.access_key_id, got.security_token) == ("AKenv", "tok")
    assert url_credentials(loop, {}).access_key_id == LOCAL_ACCESS_KEY_ID
    assert url_credentials(resolve_target("http://localhost:9", "r"), {}).access_key_id == LOCAL_ACCESS_KEY_ID
    with pytest.raises(CredentialsError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        url_credentials(remote, {})


ALIYUN_SCRIPT = textwrap.dedent("""
    import asyncio, httpx
    from reconciler.targets import open_client
    from reconciler.errors import CredentialsError
    seen = []
    def handler(request):
        seen.append(request)
        return httpx.Response(200, json={"Name": "g", "TrafficMode": "auto"})
    async def main():
        try:
            async with open_client("aliyun", "cn-hangzhou", vpc=True, transport=httpx.MockTransport(handler)) as c:
                await c.describe_group("g")
        except CredentialsError as err:
            print("CredentialsError:", err)
            return
        r = seen[0]
        print(r.url.host, r.headers["authorization"].split(",")[0], r.headers.get("x-acs-security-token"))
    asyncio.run(main())
""")


def _run_isolated(tmp_path: Path, extra_env: dict[str, str]) -> str:
    # The credential chain reads its variables at import: run it in a clean process, with the ECS
    # metadata service and the CLI profile disabled so nothing leaves the machine.
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALIBABA_CLOUD_")}
    env.update(HOME=str(tmp_path), ALIBABA_CLOUD_ECS_METADATA_DISABLED="true",
               ALIBABA_CLOUD_CLI_PROFILE_DISABLED="true", **extra_env)
    done = subprocess.run([sys.executable, "-c", ALIYUN_SCRIPT], env=env, capture_output=True, text=True,
                          timeout=60, cwd=Path(__file__).parents[2], check=True)
    return done.stdout.strip()


def test_aliyun_missing_credentials_is_one_clear_sentence(tmp_path: Path) -> None:
    out = _run_isolated(tmp_path, {})
    assert out.startswith("CredentialsError: No Alibaba Cloud credentials found")
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in out and "ALIBABA_CLOUD_OIDC_TOKEN_FILE" in out
    assert out.count(". ") == 0 and out.endswith(".")


def test_aliyun_uses_the_default_chain_and_the_vpc_host(tmp_path: Path) -> None:
    out = _run_isolated(tmp_path, {"ALIBABA_CLOUD_ACCESS_KEY_ID": "STS.chain",
                                   "ALIBABA_CLOUD_ACCESS_KEY_SECRET": "chain-secret",
                                   "ALIBABA_CLOUD_SECURITY_TOKEN": "chain-token"})
    assert out == "pai-eas-manage-vpc.cn-hangzhou.aliyuncs.com ACS3-HMAC-SHA256 Credential=STS.chain chain-token"
    assert "chain-secret" not in out


def test_local_target_serves_the_requested_region(tmp_path: Path) -> None:
    import asyncio

    from reconciler.targets import open_client

    async def go() -> tuple[str, str, bool]:
        config = {"name": "hz", "processor": "pmml", "model_path": "oss://b/m", "metadata": {"instance": 1}}
        async with open_client("local", "cn-hangzhou", state=tmp_path / "x.db") as c:
            await c.create_service(config)
            svc = await c.describe_service("hz")
        async with open_client("local", "cn-shanghai", state=tmp_path / "x.db") as c:
            try:
                await c.describe_service("hz")
            except NotFoundError:
                return svc.region, svc.access_token, False
        return svc.region, svc.access_token, True

    region, token, found_in_other_region = asyncio.run(go())
    assert region == "cn-hangzhou" and len(token) >= 40 and not found_in_other_region
