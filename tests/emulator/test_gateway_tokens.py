"""Gateway tokens: each endpoint takes its own AccessToken (as DescribeGroup / DescribeService hand them
out); a missing or wrong one is 401 in the EAS error shape, in-process and served."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.emulator.app import create_app
from reconciler.emulator.settings import EmulatorSettings

from .helpers import REGION, FakeClock, InProcess, Served, app_with, eas_code, endpoint_token


@pytest.fixture
def world() -> Any:
    app = app_with(verify_signatures=False)  # management reads unsigned here: these tests are about tokens
    b = app.state.emulator.backend
    b.create_service({"name": "big", "metadata": {"instance": 2, "group": "g"}}, {})
    b.create_service({"name": "small", "metadata": {"instance": 1, "group": "g"}}, {})
    b.create_service({"name": "solo", "token": "my-own-token", "metadata": {"instance": 1}}, {})
    app.state.emulator.settings.clock.advance(10)
    return app


def described(client: InProcess) -> dict[str, str]:
    """Tokens as a caller learns them: DescribeGroup, DescribeGroupEndpoints, DescribeService."""
    group = client.get(f"/api/v2/groups/{REGION}/g").json()["AccessToken"]
    assert client.get(f"/api/v2/groups/{REGION}/g/endpoints").json()["AccessToken"] == group
    services = {n: client.get(f"/api/v2/services/{REGION}/{n}").json()["AccessToken"] for n in ("big", "small", "solo")}
    listed = {s["ServiceName"]: s["AccessToken"] for s in client.get("/api/v2/services").json()["Services"]}
    assert listed == services
    return {"g": group, **services}


def test_each_endpoint_takes_its_own_token(world: Any) -> None:
    client = InProcess(world, tokens=False)
    tokens = described(InProcess(world, tokens=False))
    assert len(set(tokens.values())) == 4 and tokens["solo"] == "my-own-token"
    for path, token in [("/api/predict/g", tokens["g"]), ("/api/predict/g.small", tokens["small"]),
                        ("/api/predict/g.big/v1/x", tokens["big"]), ("/api/predict/solo", tokens["solo"])]:
        assert client.post(path, content=b"{}", headers={"Authorization": token}).status_code == 200, path
        assert client.post(path, content=b"{}", headers={"Authorization": f" {token} "}).status_code == 200


@pytest.mark.parametrize(("path", "wrong"), [
    ("/api/predict/g", None), ("/api/predict/g", "nope"), ("/api/predict/g", "small"), ("/api/predict/g", ""),
    ("/api/predict/g.small", None), ("/api/predict/g.small", "g"), ("/api/predict/g.small", "big"),
    ("/api/predict/g.small/health", "g"), ("/api/predict/solo", None), ("/api/predict/solo", "g"),
])
def test_a_missing_or_wrong_token_is_401(world: Any, path: str, wrong: str | None) -> None:
    client = InProcess(world, tokens=False)
    tokens = described(client)
    headers = {} if wrong is None else {"Authorization": tokens.get(wrong, wrong)}
    refused = client.post(path, content=b"{}", headers=headers)
    assert eas_code(refused) == (401, "AuthorizationFailed")
    assert all(t not in refused.text for t in tokens.values())  # the answer never echoes a token
    missing = not headers.get("Authorization")
    assert ("no Authorization header" if missing else "wrong token") in refused.json()["Message"]


def test_unknown_names_stay_404_and_the_check_can_be_turned_off(world: Any) -> None:
    client = InProcess(world, tokens=False)
    assert client.post("/api/predict/nothing", content=b"{}").status_code == 404
    open_app = app_with(check_tokens=False)
    open_app.state.emulator.backend.create_service({"name": "s", "metadata": {"instance": 1}}, {})
    open_app.state.emulator.settings.clock.advance(10)
    assert InProcess(open_app, tokens=False).post("/api/predict/s", content=b"{}").status_code == 200


def test_tokens_survive_a_restart_and_change_with_the_file_or_a_recreation(tmp_path: Path) -> None:
    def token_of(state: Path) -> str:
        app = create_app(EmulatorSettings(state_path=state, clock=FakeClock()))
        if app.state.emulator.backend.route("tg").kind == "none":
            app.state.emulator.backend.create_service({"name": "t", "metadata": {"group": "tg"}}, {})
        token = endpoint_token(app, "tg")
        app.state.emulator.store.close()
        return token

    first = token_of(tmp_path / "a.db")
    assert token_of(tmp_path / "a.db") == first and token_of(tmp_path / "b.db") != first
    app = create_app(EmulatorSettings(state_path=tmp_path / "a.db", clock=FakeClock()))
    backend = app.state.emulator.backend
    old_service = endpoint_token(app, "tg.t")
    backend.delete_service(REGION, "t")
    app.state.emulator.settings.clock.advance(60)
    backend.history()  # settle: the group goes with its last member
    app.state.emulator.settings.clock.advance(1)
    backend.create_service({"name": "t", "metadata": {"group": "tg"}}, {})
    assert endpoint_token(app, "tg") != first and endpoint_token(app, "tg.t") != old_service
    app.state.emulator.store.close()


def test_served_gateway_wants_the_tokens(served: Served, sdk: Any) -> None:
    from alibabacloud_eas20210701 import models as m

    config = {"name": "tok_a", "metadata": {"instance": 1, "group": "tok"}}
    sdk.create_service(m.CreateServiceRequest(body=json.dumps(config)))
    served.advance(10)
    sdk.release_service(REGION, "tok_a", m.ReleaseServiceRequest(traffic_state="grouping"))
    group = sdk.describe_group(REGION, "tok").body.access_token
    direct = sdk.describe_service(REGION, "tok_a").body.access_token
    base = served.base_url
    assert httpx.post(f"{base}/api/predict/tok", content=b"{}").status_code == 401
    assert httpx.post(f"{base}/api/predict/tok", headers={"Authorization": direct}).status_code == 401
    assert httpx.post(f"{base}/api/predict/tok.tok_a", headers={"Authorization": group}).status_code == 401
    assert httpx.post(f"{base}/api/predict/tok", headers={"Authorization": group}).json()["service"] == "tok_a"
    assert httpx.post(f"{base}/api/predict/tok.tok_a", headers={"Authorization": direct}).status_code == 200
    sdk.delete_service(REGION, "tok_a")


