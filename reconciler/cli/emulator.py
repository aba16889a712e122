"""`eas-gitops emulator serve | history | traffic`: run and inspect the local PAI-EAS emulator.

`history` and `traffic` talk to a target: `local` (default; the app in-process over the SQLite file
`.eas-gitops/local.db` under the working directory, `--state` to move it) or the http://host:port
URL of a served emulator. `open_target` is the only place that maps a target to a transport.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import typer

from reconciler.cli.common import RegionOpt, StateOpt, TargetOpt
from reconciler.emulator.app import create_app
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET, EmulatorSettings
from reconciler.errors import ConfigError, TransportError
from reconciler.targets import DEFAULT_REGION, STATE_DIR, STATE_FILE, TargetKind, local_app, resolve_target

DEFAULT_STATE = Path(STATE_DIR) / STATE_FILE

emulator_app = typer.Typer(name="emulator", no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                           help="Run and inspect the local PAI-EAS emulator (management API, gateway, history)."
                                "\n\nExample:  eas-gitops emulator serve --port 8080 --region cn-shanghai")


def register(app: typer.Typer) -> None:
    """Add the `emulator` command group to the root app."""
    app.add_typer(emulator_app, name="emulator")


def open_target(target: str | None, state: Path | None, region: str = DEFAULT_REGION) -> httpx.AsyncClient:
    """An HTTP client for the emulator's unsigned endpoints (admin, gateway) on `target`.

    Target strings are resolved by `reconciler.targets`, as for every other command: `local` is
    the embedded app over the state file (for `region`), a URL is a served emulator.
    """
    resolved = resolve_target(target, region)
    if resolved.kind is TargetKind.LOCAL:
        transport = httpx.ASGITransport(app=local_app(state, region=region))
        return httpx.AsyncClient(transport=transport, base_url=resolved.base_url)
    if resolved.kind is TargetKind.URL:
        return httpx.AsyncClient(base_url=resolved.base_url, timeout=30.0)
    raise ConfigError("the emulator commands need --target local or the http://host:port of a served emulator")


def _unreachable(client: httpx.AsyncClient, exc: Exception) -> TransportError:
    return TransportError(f"cannot reach the emulator at {client.base_url}: {exc} "
                          "(start it with `eas-gitops emulator serve`, or check --target)")


async def _get_json(client: httpx.AsyncClient, path: str, params: dict[str, str] | None = None) -> Any:
    try:
        response = await client.get(path, params=params)
    except httpx.TransportError as exc:
        raise _unreachable(client, exc) from None
    if response.status_code != 200:
        raise ConfigError(f"{client.base_url} answered {response.status_code} on {path}: {response.text[:200]} "
                          "(is --target an eas-gitops emulator?)")
    return response.json()


@emulator_app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind (loopback by default)."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
    state: Path = typer.Option(DEFAULT_STATE, "--state", help="SQLite state file (shared with --target local)."),
    access_key_id: str = typer.Option(LOCAL_ACCESS_KEY_ID, "--access-key-id", envvar="EAS_EMULATOR_ACCESS_KEY_ID",
                                      help="Access key id the emulator accepts."),
    access_key_secret: str = typer.Option(LOCAL_ACCESS_KEY_SECRET, "--access-key-secret",
                                          envvar="EAS_EMULATOR_ACCESS_KEY_SECRET", show_default=False,
                                          help="Its secret [default: the documented local secret]."),
    region: RegionOpt = DEFAULT_REGION,
) -> None:
    """Serve the emulator over HTTP (management API, /api/predict gateway, /_emulator admin, /metrics).

    It answers for one region, like a real regional endpoint: services and groups of other regions
    in the same state file are not listed. It prints the endpoint and the access key id it
    accepts, never the secret.

    Example:  eas-gitops emulator serve --port 9000 --region cn-beijing
    """
    import uvicorn

    if (access_key_id == LOCAL_ACCESS_KEY_ID) != (access_key_secret == LOCAL_ACCESS_KEY_SECRET):
        raise ConfigError("give both --access-key-id and --access-key-secret (or EAS_EMULATOR_ACCESS_KEY_ID and "
                    "EAS_EMULATOR_ACCESS_KEY_SECRET), or neither for the local pair")
    settings = EmulatorSettings(state_path=state, credentials={access_key_id: access_key_secret}, region=region)
    app = create_app(settings)
    typer.echo(f"EAS emulator for {region} on http://{host}:{port}  (state {state}, access key id {access_key_id})")
    typer.echo(f"  group endpoint: http://{host}:{port}/api/predict/<group>   admin: /_emulator/history")
    uvicorn.run(app, host=host, port=port, log_level="warning")


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
    if output not in ("text", "json"):
        raise typer.BadParameter("use text or json", param_hint="--format")

    async def fetch() -> Any:
        async with open_target(target, state, region) as client:
            return await _get_json(client, "/_emulator/history", {"group": group} if group else None)

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

    async def run() -> tuple[dict[str, int], dict[str, float]]:
        async with open_target(target, state, region) as client:
            data = await _get_json(client, "/_emulator/shares", {"group": group})
            timeline = data["Shares"].get(group) or [{"shares": {}, "exists": False}]
            counts: dict[str, int] = {}
            for _ in range(requests):
                try:
                    response = await client.post(f"/api/predict/{group}", content=b"{}")
                except httpx.TransportError as exc:
                    raise _unreachable(client, exc) from None
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

