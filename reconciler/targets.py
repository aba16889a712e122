"""Targets: where an `EasClient` sends its calls, and with which credentials.

This module composes the client layer (`reconciler.eas`) with the embedded emulator
(`reconciler.emulator`): it sits above both, so the client never imports the emulator.

- `local` (default): the embedded emulator in-process through `httpx.ASGITransport`; SQLite state
  at `.eas-gitops/local.db` at the root of the git work tree that holds the files (the working
  directory outside git; `default_state_path`, defined with the target names in
  `reconciler.target_names`; `state` moves it); signed with the
  emulator's documented local pair (`reconciler.emulator.settings.LOCAL_ACCESS_KEY_ID/SECRET`).
- `http://host:port` / `https://...`: a served emulator or any EAS-compatible URL. Credentials:
  `ALIBABA_CLOUD_ACCESS_KEY_ID` + `ALIBABA_CLOUD_ACCESS_KEY_SECRET` (+ optional
  `ALIBABA_CLOUD_SECURITY_TOKEN`) when set; otherwise the local pair, but only for a loopback host
  (127.0.0.0/8, ::1, localhost): a remote URL without credentials is a `CredentialsError`.
- `aliyun`: `https://pai-eas.<region>.aliyuncs.com` (`vpc`: `pai-eas-manage-vpc.<region>...`),
  credentials from `alibabacloud_credentials`' default chain (environment, OIDC, CLI profile, INI
  profile, ECS RAM role, credentials URI), imported only for this target and asked once per request
  (its providers cache and refresh).

The target string defaults to env `EAS_GITOPS_TARGET`, then `local`. Every target returns the same
`EasClient`: same signer, retries, parsing; only the httpx transport and the credentials differ.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

from reconciler.eas.auth import AcsSigner, Credentials, CredentialSource, StaticCredentials
from reconciler.eas.client import EasClient
from reconciler.eas.retry import Clock, RetrySettings, Sleep, real_sleep
from reconciler.eas.transport import Caller
from reconciler.errors import CredentialsError
from reconciler.target_names import DEFAULT_REGION, Target, TargetKind, default_state_path, resolve_target

ENV_AK, ENV_SECRET, ENV_TOKEN = ("ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
                                 "ALIBABA_CLOUD_SECURITY_TOKEN")
MISSING_ALIYUN_CREDENTIALS = (
    "No Alibaba Cloud credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
    "(plus ALIBABA_CLOUD_SECURITY_TOKEN for STS), or ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN and "
    "ALIBABA_CLOUD_OIDC_TOKEN_FILE for OIDC, or configure an `aliyun` CLI profile or an ECS RAM role."
)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def env_credentials(env: Mapping[str, str] | None = None) -> Credentials | None:
    env = os.environ if env is None else env
    ak, secret = env.get(ENV_AK), env.get(ENV_SECRET)
    if not ak or not secret:
        return None
    return Credentials(ak, secret, env.get(ENV_TOKEN) or None, provider="env")


def local_credentials() -> Credentials:
    from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET

    return Credentials(LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET, provider="local")


def url_credentials(target: Target, env: Mapping[str, str] | None = None) -> Credentials:
    creds = env_credentials(env)
    if creds is not None:
        return creds
    if is_loopback(target.host):
        return local_credentials()
    raise CredentialsError(f"No credentials for {target.base_url}: set {ENV_AK} and {ENV_SECRET} "
                           "(the emulator's local pair is used only for loopback addresses).")


class AliyunChainCredentials:
    """`alibabacloud_credentials`' default chain, asked once per request (it caches and refreshes)."""

    def __init__(self) -> None:
        try:
            from alibabacloud_credentials.client import Client as CredClient
        except ImportError as exc:
            raise CredentialsError("The aliyun target needs the package alibabacloud-credentials: "
                                   "pip install alibabacloud-credentials "
                                   "(or the aliyun extra: pip install -e '.[aliyun]' in a checkout).") from exc
        # The library logs failed providers (with tracebacks) on its own stderr handler; our
        # CredentialsError says what to do in one sentence instead.
        logging.getLogger("credentials").setLevel(logging.CRITICAL)
        self._client: Any = CredClient()
        self.get()  # fail now, with one clear sentence, rather than on the first call

    def get(self) -> Credentials:
        try:
            got = self._client.get_credential()
        except Exception as exc:  # the chain raises its own CredentialException and provider errors
            raise CredentialsError(MISSING_ALIYUN_CREDENTIALS) from exc
        if not got.access_key_id or not got.access_key_secret:
            raise CredentialsError(MISSING_ALIYUN_CREDENTIALS)
        return Credentials(got.access_key_id, got.access_key_secret, got.security_token or None,
                           provider=str(got.provider_name or "aliyun"))

    def __repr__(self) -> str:
        return "AliyunChainCredentials()"


def local_app(state: Path | None, emulator_settings: Any = None, region: str = DEFAULT_REGION) -> Any:
    """The embedded emulator's ASGI app for `region`, state in SQLite at `state` (default `.eas-gitops/local.db`).

    EAS serves one region per endpoint, so the app is made for the client's region; several regions
    can share one state file (each service keeps its region).
    """
    from reconciler.emulator.app import create_app
    from reconciler.emulator.settings import EmulatorSettings

    path = state or default_state_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    settings = emulator_settings if emulator_settings is not None else EmulatorSettings(state_path=path, region=region)
    return create_app(settings)


def close_local_app(app: Any) -> None:
    """Close the SQLite store behind an embedded emulator app (no-op for anything else)."""
    emulator = getattr(getattr(app, "state", None), "emulator", None)
    store = getattr(emulator, "store", None)
    if store is not None:
        store.close()


@asynccontextmanager
async def open_client(target: str | None, region: str = DEFAULT_REGION, *, state: Path | None = None,
                      vpc: bool = False, settings: RetrySettings | None = None,
                      credentials: CredentialSource | None = None,
                      transport: httpx.AsyncBaseTransport | None = None, emulator_settings: Any = None,
                      sleep: Sleep = real_sleep, clock: Clock | None = None,
                      rng: random.Random | None = None) -> AsyncIterator[EasClient]:
    """An `EasClient` for `target` in `region`, closed on exit.

    `transport`, `credentials`, `emulator_settings`, `sleep`, `clock`, `rng` exist for tests and
    benchmarks; normal callers give only target, region, state and vpc.
    """
    resolved = resolve_target(target, region, vpc)
    app: Any = None
    if resolved.kind is TargetKind.LOCAL:
        credentials = credentials or StaticCredentials(local_credentials())
        if transport is None:
            app = local_app(state, emulator_settings, region)
            transport = httpx.ASGITransport(app=app)
    elif resolved.kind is TargetKind.URL:
        credentials = credentials or StaticCredentials(url_credentials(resolved))
    else:
        credentials = credentials or AliyunChainCredentials()
    settings = settings or RetrySettings()
    http = httpx.AsyncClient(base_url=resolved.base_url, auth=AcsSigner(credentials), transport=transport,
                             timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
                             trust_env=resolved.kind is TargetKind.ALIYUN)
    client = EasClient(Caller(http, settings, sleep=sleep, clock=clock, rng=rng), region)
    try:
        yield client
    finally:
        await client.aclose()
        if app is not None:
            close_local_app(app)
