"""Throughput of the served emulator: signed management calls/s and gateway requests/s.

Run on purpose (not part of pytest):

    .venv/bin/python benchmarks/emulator.py [--seconds 5] [--clients 2]
    .venv/bin/python benchmarks/emulator.py --listing 10000     # ListServices cost at 10,000 services
    .venv/bin/python benchmarks/emulator.py --client-paging 10000 [--latency-ms 50]   # EasClient reading them

It starts `eas-gitops emulator serve` on a free loopback port in a subprocess (state in a temporary
SQLite file), creates a group of two running members, then drives it from `--clients` client
processes: every management call goes through httpx, signed ACS3-HMAC-SHA256 with a fresh date
and nonce (DescribeService, ListServices and ReleaseService in turn: reads and writes); gateway
requests go to `/api/predict/<group>` once through httpx and once through a minimal keep-alive
socket client (which measures the server rather than the client library). Prints a small table.

`--listing N` measures ListServices instead, in-process (no HTTP, no signature: the handler and the
SQLite store only): N services in groups of 10 in one region (state in a temporary file), emulated
time frozen; the median of 5 calls per query, first with every service's status due (computed from
its phase, nothing settled yet), then after the history has been settled.

`--client-paging N` times `EasClient.list_services` reading N services from the embedded emulator
(in-process ASGI transport, signed, with a `latency` fault of `--latency-ms` on every management
call, as benchmarks/plan_scale.py injects it), pages of 100, for 1 and 4 pages in flight, with the
default rate limit (20 calls/s, bursts of 20) and with the limit off.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from reconciler.eas import signing
from reconciler.eas.auth import StaticCredentials
from reconciler.eas.retry import RetrySettings
from reconciler.emulator.admin_api import AdminAuth
from reconciler.emulator.app import create_app
from reconciler.emulator.backend import Backend
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.emulator.responses import Call, handle
from reconciler.emulator.settings import LOCAL_ACCESS_KEY_ID, LOCAL_ACCESS_KEY_SECRET, EmulatorSettings
from reconciler.emulator.store import Store
from reconciler.targets import local_credentials, open_client

REGION = "cn-shanghai"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def signed(method: str, path: str, action: str, host: str, body: bytes = b"",
           query: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"host": host, "x-acs-action": action, "x-acs-version": signing.API_VERSION,
               "x-acs-date": datetime.now(UTC).strftime(signing.DATE_FORMAT),
               "x-acs-signature-nonce": uuid.uuid4().hex, "x-acs-content-sha256": signing.sha256_hex(body)}
    if body:
        headers["content-type"] = "application/json; charset=utf-8"
    headers["authorization"] = signing.sign_request(method, path, query or {}, headers, body, LOCAL_ACCESS_KEY_ID,
                                                    LOCAL_ACCESS_KEY_SECRET)
    return headers


def call(client: httpx.Client, host: str, method: str, path: str, action: str, payload: object = None,
         query: dict[str, str] | None = None) -> httpx.Response:
    body = b"" if payload is None else json.dumps(payload).encode()
    response = client.request(method, path, content=body, params=query,
                              headers=signed(method, path, action, host, body, query))
    if response.status_code != 200:
        raise RuntimeError(f"{action}: {response.status_code} {response.text}")
    return response


def setup(base_url: str) -> None:
    host = base_url.removeprefix("http://")
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for name, replicas in (("bench_a", 3), ("bench_b", 1)):
            config = {"name": name, "metadata": {"instance": replicas, "group": "bench"}}
            call(client, host, "POST", "/api/v2/services", "CreateService", config)
        client.post("/_emulator/clock", json={"advance": 60}, auth=AdminAuth(local_credentials())).raise_for_status()
        for name in ("bench_a", "bench_b"):
            call(client, host, "PUT", f"/api/v2/services/{REGION}/{name}/release", "ReleaseService",
                 {"TrafficState": "grouping"})


def management_worker(base_url: str, seconds: float, offset: int) -> int:
    """Signed calls in a loop (DescribeService, ListServices, ReleaseService in turn) for `seconds`."""
    host, done = base_url.removeprefix("http://"), 0
    deadline = time.perf_counter() + seconds
    with httpx.Client(base_url=base_url, timeout=30) as client:
        while time.perf_counter() < deadline:
            kind = (done + offset) % 3
            if kind == 0:
                call(client, host, "GET", f"/api/v2/services/{REGION}/bench_a", "DescribeService")
            elif kind == 1:
                call(client, host, "GET", "/api/v2/services", "ListServices", query={"GroupName": "bench"})
            else:
                call(client, host, "PUT", f"/api/v2/services/{REGION}/bench_b/release", "ReleaseService",
                     {"Weight": done % 100})
            done += 1
    return done


def group_token(base_url: str) -> str:
    """The bench group's AccessToken (DescribeGroup), which the gateway wants in `Authorization`."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        host = base_url.removeprefix("http://")
        answer = call(client, host, "GET", f"/api/v2/groups/{REGION}/bench", "DescribeGroup")
        return str(answer.json()["AccessToken"])


def gateway_httpx_worker(base_url: str, seconds: float, offset: int) -> int:
    done, deadline = 0, time.perf_counter() + seconds
    with httpx.Client(base_url=base_url, timeout=30, headers={"Authorization": group_token(base_url)}) as client:
        while time.perf_counter() < deadline:
            if client.post("/api/predict/bench", content=b"{}").status_code != 200:
                raise RuntimeError("gateway refused a request")
            done += 1
    return done


def gateway_raw_worker(base_url: str, seconds: float, offset: int) -> int:
    """A minimal HTTP/1.1 keep-alive client: measures the server, not the client library."""
    host, _, port = base_url.removeprefix("http://").partition(":")
    request = (f"POST /api/predict/bench HTTP/1.1\r\nhost: {host}\r\nauthorization: {group_token(base_url)}\r\n"
               "content-length: 2\r\n\r\n{}").encode()
    done, buffer, deadline = 0, b"", time.perf_counter() + seconds
    with socket.create_connection((host, int(port))) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while time.perf_counter() < deadline:
            sock.sendall(request)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, _, rest = buffer.partition(b"\r\n\r\n")
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"gateway answered {head[:40]!r}")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length"))
            while len(rest) < length:
                rest += sock.recv(65536)
            buffer = rest[length:]
            done += 1
    return done


def measure(worker: Callable[[str, float, int], int], base_url: str, seconds: float, processes: int) -> float:
    """Requests per second of `processes` client processes running `worker` at once."""
    with multiprocessing.Pool(processes) as pool:
        counts = pool.starmap(worker, [(base_url, seconds, k) for k in range(processes)])
    return sum(counts) / seconds


def wait_ready(base_url: str, proc: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError("the emulator exited early")
        try:
            httpx.get(f"{base_url}/metrics", timeout=1).raise_for_status()
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the emulator did not start")


LISTING_QUERIES: dict[str, dict[str, str]] = {
    "page 1 of 100": {"PageNumber": "1", "PageSize": "100"},
    "page 50 of 100": {"PageNumber": "50", "PageSize": "100"},
    "GroupName (10 services)": {"GroupName": "g0500"},
    "Label (half of them), page 1": {"Label": '{"team":"a"}'},
    "Sort=ServiceName Order=asc, page 1": {"Sort": "ServiceName", "Order": "asc"},
    "ServiceStatus=Running, page 1": {"ServiceStatus": "Running"},
}


def listing(services: int) -> None:
    """Median milliseconds per ListServices call over `services` services (see the module docstring)."""
    now = [1_700_000_000.0]
    with tempfile.TemporaryDirectory() as tmp:
        settings = EmulatorSettings(state_path=Path(tmp) / "list.db", clock=lambda: now[0],
                                    initial_traffic_state="grouping")
        store = Store(settings.state_path, settings.region)
        backend = Backend(settings, store)
        for i in range(services):
            backend.create_service({"name": f"svc_{i:05d}", "metadata": {"instance": 2, "group": f"g{i // 10:04d}"}},
                                   {"team": "a" if i % 2 else "b"})
        now[0] += 100
        columns = [_listing_column(backend)]
        backend.history()  # settles every status change
        columns.append(_listing_column(backend))
        store.close()
    print(f"ListServices at {services:,} services (median ms per call)")
    print("| query | every status due | settled |\n|---|---:|---:|")
    for name in LISTING_QUERIES:
        print(f"| {name} | {columns[0][name]:.1f} | {columns[1][name]:.1f} |")


def _listing_column(backend: Backend) -> dict[str, float]:
    out = {}
    for name, query in LISTING_QUERIES.items():
        times = []
        for _ in range(5):
            started = time.perf_counter()
            handle(backend, "ListServices", Call({}, query, b"", "127.0.0.1"))
            times.append(time.perf_counter() - started)
        out[name] = sorted(times)[2] * 1000
    return out


async def _read_all(app: Any, retry: RetrySettings) -> tuple[float, int]:
    async with open_client("local", REGION, transport=httpx.ASGITransport(app=app), settings=retry,
                           credentials=StaticCredentials(local_credentials())) as client:
        started = time.perf_counter()
        names = [s.service_name async for s in client.list_services()]
        elapsed = time.perf_counter() - started
    if names != sorted(names, reverse=True):  # CreateTime descending, then name: svc_09999 first
        raise RuntimeError("services out of order")
    return elapsed, len(names)


def client_paging(services: int, latency_ms: float) -> None:
    """Wall time of one full listing of `services` services (see the module docstring)."""
    now = [1_700_000_000.0]
    app = create_app(EmulatorSettings(clock=lambda: now[0]))
    backend = app.state.emulator.backend
    for i in range(services):
        backend.create_service({"name": f"svc_{i:05d}", "metadata": {"instance": 1, "group": f"g{i // 10:04d}"}}, {})
    now[0] += 100
    backend.history()
    app.state.emulator.faults.add(Fault("*", FaultKind.LATENCY, latency_ms=latency_ms))
    print(f"EasClient.list_services over {services:,} services, {latency_ms:g} ms latency per call, pages of 100")
    print("| rate limit | pages in flight | wall (s) |\n|---|---:|---:|")
    for limit in (RetrySettings().rate_limit, 0.0):
        for concurrency in (1, 4):
            elapsed, count = asyncio.run(_read_all(app, RetrySettings(rate_limit=limit, page_concurrency=concurrency)))
            assert count == services
            shown = f"{limit:g}/s" if limit else "off"
            print(f"| {shown} | {concurrency} | {elapsed:.2f} |", flush=True)
    app.state.emulator.store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--clients", type=int, default=2, help="client processes per measurement")
    parser.add_argument("--listing", type=int, default=0, metavar="N", help="measure ListServices at N services")
    parser.add_argument("--client-paging", type=int, default=0, metavar="N",
                        help="measure EasClient reading N services")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency per call for --client-paging")
    args = parser.parse_args()
    if args.listing or args.client_paging:
        if args.listing:
            listing(args.listing)
        if args.client_paging:
            client_paging(args.client_paging, args.latency_ms)
        return
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cli = [sys.executable, "-m", "reconciler", "emulator", "serve", "--port", str(port),
               "--state", str(Path(tmp) / "bench.db")]
        proc = subprocess.Popen(cli, stdout=subprocess.DEVNULL)
        try:
            wait_ready(base_url, proc)
            setup(base_url)
            rows.append(("signed management calls, httpx (1/3 writes)",
                         measure(management_worker, base_url, args.seconds, args.clients)))
            rows.append(("gateway requests, httpx client",
                         measure(gateway_httpx_worker, base_url, args.seconds, args.clients)))
            rows.append(("gateway requests, raw keep-alive client",
                         measure(gateway_raw_worker, base_url, args.seconds, args.clients)))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    print(f"{'what':<46} {'per second':>10}")
    for what, rate in rows:
        print(f"{what:<46} {rate:>10.0f}")
    print(f"(CPU cores: {os.cpu_count()}; {args.clients} client processes and the server on the same machine; "
          f"{args.seconds:.0f} s each)")


if __name__ == "__main__":
    main()
