"""`eas-gitops emulator serve | history | traffic | load`: run, inspect and drive the local PAI-EAS emulator.

`history` and `traffic` talk to a target: `local` (default; the app in-process over the SQLite file
`.eas-gitops/local.db` at the git repository's root, or under the working directory outside git, as
for every other command; `--state` to move it) or the http://host:port
URL of a served emulator. `open_target` is the only place that maps a target to a transport. Admin
calls are ACS3-signed with the target's credentials (the local pair in-process; for a URL the
ALIBABA_CLOUD_* variables, else the local pair on loopback), like every management call; `traffic`
and `load` send the group's AccessToken (DescribeGroup) in `Authorization` and never print it.
`load` sends real requests at a steady rate for a while (`reconciler.emulator.loadgen`), the
traffic a rollout's analysis reads back from the emulator's CloudMonitor.

`serve` takes its secret from `--secret-file`, from EAS_EMULATOR_ACCESS_KEY_SECRET, or (with a
warning: other users see a command line in `ps`) from `--access-key-secret`.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from reconciler.analysis.duration_text import parse_duration
from reconciler.cli.common import RegionOpt, StateOpt, TargetOpt, run
from reconciler.cli.help_option import BoolHelpGroup
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET
from reconciler.errors import ConfigError, NotFoundError, TransportError
from reconciler.target_names import (
    DEFAULT_REGION,
    STATE_DIR,
    STATE_FILE,
    TargetKind,
    default_state_path,
    resolve_target,
)

if TYPE_CHECKING:
    import httpx

    from reconciler.eas.client import EasClient
    from reconciler.emulator.loadgen import LoadSummary

# What the commands here run on: imported by the root just before one runs (see reconciler.cli.main)
ENGINE = ("httpx", "reconciler.eas.auth", "reconciler.emulator.admin_api", "reconciler.emulator.app",
          "reconciler.emulator.loadgen", "reconciler.targets")

DEFAULT_STATE = Path(STATE_DIR) / STATE_FILE
SECRET_ENV = "EAS_EMULATOR_ACCESS_KEY_SECRET"
METRICS_TOKEN_ENV = "EAS_EMULATOR_METRICS_TOKEN"

emulator_app = typer.Typer(name="emulator", cls=BoolHelpGroup, no_args_is_help=True, add_completion=False,
                           rich_markup_mode=None,
                           help="Run and inspect the local PAI-EAS emulator (management API, gateway, history)."
                                "\n\nExample:  eas-gitops emulator serve --port 8080 --region cn-shanghai")


def register(app: typer.Typer) -> None:
    """Add the `emulator` command group to the root app."""
    app.add_typer(emulator_app, name="emulator")


@dataclass
class Session:
    """A served or in-process emulator: `http` signs admin calls, `eas` is the signed management client."""

    http: httpx.AsyncClient
    eas: EasClient


@asynccontextmanager
async def open_target(target: str | None, state: Path | None, region: str = DEFAULT_REGION) -> AsyncIterator[Session]:
    """A session with the emulator on `target`, closed on exit.

    Target strings are resolved by `reconciler.targets`, as for every other command: `local` is
    the embedded app over the state file (for `region`), a URL is a served emulator.
    """
    import httpx

    from reconciler.eas.auth import StaticCredentials
    from reconciler.emulator.admin_api import AdminAuth
    from reconciler.targets import close_local_app, local_app, local_credentials, open_client, url_credentials

    resolved = resolve_target(target, region)
    app: Any = None
    if resolved.kind is TargetKind.LOCAL:
        app = local_app(state, region=region)
        transport: httpx.AsyncBaseTransport | None = httpx.ASGITransport(app=app)
        credentials = local_credentials()
    elif resolved.kind is TargetKind.URL:
        transport, credentials = None, url_credentials(resolved)
    else:
        raise ConfigError("the emulator commands need --target local or the http://host:port of a served emulator")
    try:
        async with httpx.AsyncClient(transport=transport, base_url=resolved.base_url, timeout=30.0,
                                     auth=AdminAuth(credentials)) as http, \
                open_client(target, region, state=state, transport=transport,
                            credentials=StaticCredentials(credentials)) as eas:
            yield Session(http, eas)
    finally:
        if app is not None:
            close_local_app(app)


def _unreachable(client: httpx.AsyncClient, exc: Exception) -> TransportError:
    return TransportError(f"cannot reach the emulator at {client.base_url}: {exc} "
                          "(start it with `eas-gitops emulator serve`, or check --target)")


def _refusal(response: httpx.Response) -> str:
    """`Code: Message` of an EAS-shaped error body, else the start of the text."""
    try:
        body = response.json()
        return f"{body['Code']}: {body['Message']}"
    except (ValueError, KeyError, TypeError):
        return response.text[:200]


async def _get_json(client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> Any:
    import httpx

    try:
        response = await client.get(path, params=params)
    except httpx.TransportError as exc:
        raise _unreachable(client, exc) from None
    if response.status_code != 200:
        hint = "do ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET match the served emulator's pair?" \
            if response.status_code in (400, 401, 403) else "is --target an eas-gitops emulator?"
        raise ConfigError(f"{client.base_url} answered {response.status_code} on {path}: {_refusal(response)} "
                          f"({hint})")
    return response.json()


def _read_secret_file(path: Path, option: str) -> str:
    try:
        value = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {option} {path}: {exc.__class__.__name__}") from None
    if not value:
        raise ConfigError(f"{option} {path} is empty")
    return value


def _serve_secret(access_key_id: str, on_command_line: str | None, secret_file: Path | None) -> str:
    """The secret the served emulator accepts: --secret-file, --access-key-secret (warned), the env, or local."""
    if on_command_line is not None and secret_file is not None:
        raise ConfigError("give the secret once: --secret-file or --access-key-secret, not both")
    if secret_file is not None:
        secret = _read_secret_file(secret_file, "--secret-file")
    elif on_command_line is not None:
        typer.echo(f"warning: --access-key-secret is visible to every user of this machine (ps, /proc); "
                   f"use {SECRET_ENV} or --secret-file instead", err=True)
        secret = on_command_line
    else:
        secret = os.environ.get(SECRET_ENV) or LOCAL_ACCESS_KEY_SECRET
    if (access_key_id == LOCAL_ACCESS_KEY_ID) != (secret == LOCAL_ACCESS_KEY_SECRET):
        raise ConfigError(f"give both an access key id (--access-key-id or EAS_EMULATOR_ACCESS_KEY_ID) and its "
                          f"secret ({SECRET_ENV} or --secret-file), or neither for the local pair")
    return secret


@emulator_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    state: Path = typer.Option(None, "--state", show_default=False,
                               help="SQLite state file (shared with --target local; default: "
                                    f"{DEFAULT_STATE} at the git repository's root, else here)."),
    access_key_id: str = typer.Option(LOCAL_ACCESS_KEY_ID, "--access-key-id", envvar="EAS_EMULATOR_ACCESS_KEY_ID",
                                      help="Access key id the emulator accepts."),
    secret_file: Path = typer.Option(None, "--secret-file", show_default=False,
                                     help=f"File holding its secret (else env {SECRET_ENV}; default: the documented "
                                          "local secret)."),
    access_key_secret: str = typer.Option(None, "--access-key-secret", show_default=False,
                                          help="The secret itself (warned: `ps` shows it; prefer the file or env)."),
    metrics_token_file: Path = typer.Option(None, "--metrics-token-file", show_default=False,
                                            help=f"File holding a bearer token for /metrics (else env "
                                                 f"{METRICS_TOKEN_ENV}; none: loopback scrapers only)."),
    max_body_bytes: int = typer.Option(1_048_576, "--max-body-bytes", min=1,
                                       help="Largest management or admin request body (413 above)."),
    region: RegionOpt = DEFAULT_REGION,
) -> None:
    """Serve the emulator over HTTP (management API, /api/predict gateway, /_emulator admin, /metrics).

    It answers for one region, like a real regional endpoint: services and groups of other regions
    in the same state file are not listed. Management and admin calls must be signed with the pair
    it accepts; prediction calls need the group's or service's AccessToken. It prints the endpoint
    and the access key id it accepts, never the secret.

    Example:  eas-gitops emulator serve --port 9000 --region cn-beijing
    """
    import uvicorn

    from reconciler.emulator.app import create_app
    from reconciler.emulator.settings import EmulatorSettings

    state = state or default_state_path()  # the state every other command finds from here
    state.parent.mkdir(parents=True, exist_ok=True)
    secret = _serve_secret(access_key_id, access_key_secret, secret_file)
    metrics_token = _read_secret_file(metrics_token_file, "--metrics-token-file") if metrics_token_file \
        else os.environ.get(METRICS_TOKEN_ENV) or None
    settings = EmulatorSettings(state_path=state, credentials={access_key_id: secret}, region=region,
                                max_body_bytes=max_body_bytes, metrics_token=metrics_token)
    app = create_app(settings)
    typer.echo(f"EAS emulator for {region} on http://{host}:{port}  (state {state}, access key id {access_key_id})")
    typer.echo(f"  group endpoint: http://{host}:{port}/api/predict/<group>   admin: /_emulator/history (signed)   "
               f"metrics: /metrics ({'bearer token' if metrics_token else 'loopback clients only'})")
    uvicorn.run(app, host=host, port=port, log_level="warning")


async def _group_token(eas: EasClient, group: str) -> str:
    """The group's AccessToken (DescribeGroup); a group that does not exist gets a refusal from the gateway."""
    try:
        return (await eas.describe_group(group)).access_token
    except NotFoundError:
        return ""


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _shares_text(snapshot: dict[str, Any]) -> str:
    if not snapshot["exists"]:
        return "(group gone)"
    parts = " ".join(f"{name}={share * 100:.1f}%" for name, share in sorted(snapshot["shares"].items()))
    return f"{snapshot['mode']:<10} {parts or '(no members)'}" + ("  BLACK HOLE" if snapshot["black_hole"] else "")


@emulator_app.command()
def history(
    group: str = typer.Option(None, "--group", help="Only this group's events and shares."),
    output: str = typer.Option("text", "--format", help="text or json."),
    target: TargetOpt = None,
    state: StateOpt = None,
    region: RegionOpt = DEFAULT_REGION,
) -> None:
    """Print every accepted write and status change with its time, and each group's share timeline.

    Example:  eas-gitops emulator history --group pmml --format json
    """
    import asyncio

    if output not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")

    async def fetch() -> Any:
        async with open_target(target, state, region) as session:
            return await _get_json(session.http, "/_emulator/history", {"group": group} if group else None)

    data = asyncio.run(fetch())
    if output == "json":
        typer.echo(json.dumps(data, indent=2, sort_keys=True))
        return
    if not data["Events"]:
        typer.echo("no events" + (f" for group {group}" if group else "") + " yet")
    for event in data["Events"]:
        detail = " ".join(f"{k}={v}" for k, v in event["detail"].items() if v not in ("", None))
        typer.echo(f"{_when(event['time'])}  {event['kind']:<6} {event['action']:<22} "
                   f"{event['group'] or '-':<16} {event['service'] or '-':<20} {detail}")
    for name, timeline in sorted(data["Shares"].items()):
        typer.echo(f"\nshares of group {name}:")
        for snapshot in timeline:
            typer.echo(f"  {_when(snapshot['time'])}  #{snapshot['event_seq']:<5} {_shares_text(snapshot)}")


@emulator_app.command()
def traffic(
    group: str = typer.Argument(..., help="Group to send requests to (its /api/predict/<group> endpoint)."),
    requests: int = typer.Option(1000, "-n", "--requests", min=1, help="How many requests to send."),
    target: TargetOpt = None,
    state: StateOpt = None,
    region: RegionOpt = DEFAULT_REGION,
) -> None:
    """Send requests to a group's endpoint; print each member's observed share beside the expected one.

    Example:  eas-gitops emulator traffic pmml -n 1000
    """
    import asyncio

    import httpx

    async def run() -> tuple[dict[str, int], dict[str, float]]:
        async with open_target(target, state, region) as session:
            data = await _get_json(session.http, "/_emulator/shares", {"group": group})
            timeline = data["Shares"].get(group) or [{"shares": {}, "exists": False}]
            headers = {"Authorization": await _group_token(session.eas, group)}
            counts: dict[str, int] = {}
            for _ in range(requests):
                try:
                    response = await session.http.post(f"/api/predict/{group}", content=b"{}", headers=headers)
                except httpx.TransportError as exc:
                    raise _unreachable(session.http, exc) from None
                member = response.json().get("service", "") if response.status_code == 200 else ""
                key = member or f"(HTTP {response.status_code})"
                counts[key] = counts.get(key, 0) + 1
            return counts, timeline[-1]["shares"]

    counts, expected = asyncio.run(run())
    typer.echo(f"{'member':<24} {'requests':>9} {'observed':>9} {'expected':>9}")
    for name in sorted(set(counts) | set(expected)):
        observed = counts.get(name, 0)
        want = f"{expected[name] * 100:.1f}%" if name in expected else "-"
        typer.echo(f"{name:<24} {observed:>9} {observed * 100 / requests:>8.1f}% {want:>9}")



def _seconds(text: str, option: str) -> float:
    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None


def _print_load(group: str, summary: LoadSummary) -> None:
    typer.echo(f"sent {summary.sent} requests to {group} in {summary.seconds:.1f}s ({summary.rate:.1f}/s)")
    typer.echo(f"{'member':<24} {'requests':>9} {'share':>7} {'5xx':>7} {'latency':>9}")
    for name, tally in sorted(summary.members.items()):
        share = tally.requests * 100 / summary.sent if summary.sent else 0.0
        errors = tally.errors * 100 / tally.requests if tally.requests else 0.0
        typer.echo(f"{name:<24} {tally.requests:>9} {share:>6.1f}% {errors:>6.1f}% {tally.latency_avg * 1000:>7.1f}ms")
    refused = {status: n for status, n in summary.statuses.items() if status != 200 and status < 500}
    if refused:
        typer.echo("other answers: " + ", ".join(f"HTTP {s} x{n}" for s, n in sorted(refused.items())))


@emulator_app.command()
def load(
    group: str = typer.Argument(..., help="Group to send requests to (its /api/predict/<group> endpoint)."),
    rps: float = typer.Option(50.0, "--rps", help="Requests per second (at most 1000)."),
    duration: str = typer.Option("5m", "--duration", help="How long to send, e.g. 30s, 5m (at most 1h)."),
    target: TargetOpt = None,
    state: StateOpt = None,
    region: RegionOpt = DEFAULT_REGION,
) -> None:
    """Send real requests to a group at a steady rate; print, per member, requests, share, 5xx and latency.

    For demos and tests of canary releases: run it beside `eas-gitops apply` against a served
    emulator, and the rollout's checks read this traffic from the emulator's CloudMonitor.

    Example:  eas-gitops emulator load pmml --rps 50 --duration 2m --target http://127.0.0.1:8080
    """
    from reconciler.emulator.loadgen import check_bounds, send_load

    seconds = _seconds(duration, "--duration")

    async def work() -> LoadSummary:
        check_bounds(rps, seconds)
        async with open_target(target, state, region) as session:
            token = await _group_token(session.eas, group)
            return await send_load(session.http, group, token, rps, seconds)

    _print_load(group, run(work))
