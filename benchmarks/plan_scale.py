"""Benchmark: plan time and read calls by fleet size, and apply wall time by parallelism.

Run on purpose (not in pytest):

    .venv/bin/python benchmarks/plan_scale.py                 # 100, 1,000, 10,000 services; 50 groups
    .venv/bin/python benchmarks/plan_scale.py --sizes 100,1000 --groups 20
    .venv/bin/python benchmarks/plan_scale.py --mode reads --sizes 1000,10000      # listing vs per-resource
    .venv/bin/python benchmarks/plan_scale.py --mode big-region --sizes 0,10000    # apply into a full region

Everything runs in-process against the embedded emulator (in-memory store) with a latency fault
of `--latency-ms` (default 50) on every management call, through the real client (signing,
retries, the default 20 calls/s rate limit) and the real reader and executor, on the real clock.

plan:  services in groups of 10, all Running and grouping; the desired state declares them all;
       measured: wall time of read + build_plan, and the read calls the client counted.
apply: `--groups` new groups of 2 members (2 + 1 replicas) with `--provision` seconds per instance;
       measured: the wall time of one group alone (its critical path), then of all groups with
       parallel 1, 8 and all at once.

--mode reads: the same fleets read two ways in the same run, with the client's rate limit off for
       both (at the default 20 calls/s the per-resource pattern is bounded by it: N calls take N/20 s):
       ours, the listing (`read_live`: ListServices pages + ListGroups), against the pattern of a
       per-resource tool refreshing its state (as Terraform does): one DescribeService per service,
       10 in flight. Printed: calls and seconds of each, and their ratios.
--mode big-region: 2 new groups (2 members, 2 + 1 replicas) applied into a region already holding
       each of `--sizes` running services; measured: the apply's wall time and its ListServices
       round trips (the plan's own read excluded), default client rate limit.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx

from reconciler.apply import ApplySettings, Executor, Journal, Link, RealTimer, connect_all
from reconciler.apply.runtime import http_smoke
from reconciler.desired.eas_config import to_eas_config
from reconciler.desired.model import ServiceGroup
from reconciler.eas.auth import StaticCredentials
from reconciler.eas.client import EasClient
from reconciler.eas.retry import RetrySettings
from reconciler.emulator.app import create_app
from reconciler.emulator.faults import Fault, FaultKind
from reconciler.emulator.settings import EmulatorSettings
from reconciler.live.model import MANAGED_BY_LABEL, MANAGED_BY_VALUE
from reconciler.live.read import read_live
from reconciler.plan.build import build_plan
from reconciler.target_names import LOCAL_BASE_URL
from reconciler.targets import local_credentials, open_client

REGION = "cn-shanghai"


def group(name: str, replicas: list[int]) -> ServiceGroup:
    return ServiceGroup.model_validate({
        "apiVersion": "eas-gitops/v1", "kind": "ServiceGroup", "metadata": {"name": name, "region": REGION},
        "spec": {"traffic_mode": "auto", "services": [
            {"name": f"{name}_s{i}", "replicas": r, "resources": {"cpu": 1, "memory": 1000},
             "model": {"path": f"oss://bench/{name}/{i}.pmml", "processor": "pmml"}} for i, r in enumerate(replicas)]}})


class Bench:
    def __init__(self, latency_ms: float, provision: float = 1.0, rate_limit: float | None = None) -> None:
        self.retry = RetrySettings() if rate_limit is None else RetrySettings(rate_limit=rate_limit)
        self.app = create_app(EmulatorSettings(provision_delay=provision, update_delay=provision,
                                               scale_in_delay=provision / 2))
        if latency_ms:
            self.app.state.emulator.faults.add(Fault("*", FaultKind.LATENCY, latency_ms=latency_ms))

    @asynccontextmanager
    async def link(self, region: str) -> AsyncIterator[Link]:
        transport = httpx.ASGITransport(app=self.app)
        async with (open_client("local", region, transport=transport, settings=self.retry,
                                credentials=StaticCredentials(local_credentials())) as client,
                    httpx.AsyncClient(transport=transport, base_url=LOCAL_BASE_URL) as http):
            yield Link(region, client, http_smoke(client, http))

    def seed(self, groups: list[ServiceGroup]) -> None:
        """Straight into the backend (no HTTP): every service Running, grouping, managed, spec hash set."""
        from reconciler.live.model import SPEC_HASH_LABEL
        from reconciler.plan.diff import spec_hash

        backend = self.app.state.emulator.backend
        for g in groups:
            for spec in g.spec.services:
                config = to_eas_config(g, spec)
                backend.create_service(config, {MANAGED_BY_LABEL: MANAGED_BY_VALUE, SPEC_HASH_LABEL: spec_hash(config)})
        self.app.state.emulator.backend.advance_clock(3600)
        for g in groups:
            for spec in g.spec.services:
                backend.release_service(REGION, spec.name, "grouping", None)


async def plan_once(services: int, latency_ms: float) -> dict[str, Any]:
    bench = Bench(latency_ms)
    groups = [group(f"g{i:04d}", [1] * 10) for i in range(services // 10)]
    seeded = time.perf_counter()
    bench.seed(groups)
    seeded = time.perf_counter() - seeded
    async with connect_all(bench.link, [REGION]) as links:
        client = links[REGION].client
        start = time.perf_counter()
        live = await read_live({REGION: client})
        read = time.perf_counter() - start
        plan = build_plan(groups, live)
        total = time.perf_counter() - start
    assert len(live.services) == services and not plan.has_changes
    return {"services": services, "read_calls": client.stats.reads, "read_s": read, "plan_s": total,
            "seed_s": seeded}


async def apply_once(groups: int, parallel: int, latency_ms: float, provision: float,
                     rate_limit: float | None) -> dict[str, Any]:
    bench = Bench(latency_ms, provision, rate_limit)
    desired = [group(f"a{i:03d}", [2, 1]) for i in range(groups)]
    async with connect_all(bench.link, [REGION]) as links:
        live = await read_live({REGION: links[REGION].client})
        plan = build_plan(desired, live)
        executor = Executor(links, RealTimer(), settings=ApplySettings(parallel=parallel, poll_interval=provision / 2),
                            journal=Journal(None))
        start = time.perf_counter()
        report = await executor.run(plan, live)
        wall = time.perf_counter() - start
        calls = links[REGION].client.stats
    assert report.ok
    return {"groups": groups, "parallel": parallel, "wall_s": wall,
            "slowest_group_s": max(g.elapsed for g in report.groups), "reads": calls.reads, "writes": calls.writes}


async def per_resource(client: EasClient, names: list[str], parallel: int) -> int:
    """One DescribeService per service, `parallel` in flight (a per-resource refresh)."""
    gate = asyncio.Semaphore(parallel)

    async def one(name: str) -> None:
        async with gate:
            await client.describe_service(name)

    await asyncio.gather(*(one(n) for n in names))
    return len(names)


async def reads_once(services: int, latency_ms: float, parallel: int) -> dict[str, Any]:
    bench = Bench(latency_ms, rate_limit=0)
    groups = [group(f"g{i:04d}", [1] * 10) for i in range(services // 10)]
    bench.seed(groups)
    names = [s.name for g in groups for s in g.spec.services]
    async with connect_all(bench.link, [REGION]) as links:
        client = links[REGION].client
        start = time.perf_counter()
        live = await read_live({REGION: client})
        ours_s, ours_calls = time.perf_counter() - start, client.stats.reads
        assert len(live.services) == services
        client.stats.reset()
        start = time.perf_counter()
        await per_resource(client, names, parallel)
        theirs_s, theirs_calls = time.perf_counter() - start, client.stats.reads
    return {"services": services, "ours_calls": ours_calls, "ours_s": ours_s,
            "theirs_calls": theirs_calls, "theirs_s": theirs_s}


def reads_table(args: argparse.Namespace) -> None:
    print(f"live read: listing (ours) vs one DescribeService per service, {args.parallel} in flight "
          f"(latency {args.latency_ms:g} ms per call, client rate limit off)")
    print("| services | listing calls | listing (s) | per-resource calls | per-resource (s) | calls ratio "
          "| time ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = asyncio.run(reads_once(size, args.latency_ms, args.parallel))
        print(f"| {size:,} | {r['ours_calls']} | {r['ours_s']:.2f} | {r['theirs_calls']:,} | {r['theirs_s']:.2f} "
              f"| {r['theirs_calls'] / r['ours_calls']:.0f}x | {r['theirs_s'] / r['ours_s']:.1f}x |", flush=True)


async def big_region_once(services: int, latency_ms: float, provision: float) -> dict[str, Any]:
    bench = Bench(latency_ms, provision)
    bench.seed([group(f"g{i:04d}", [1] * 10) for i in range(services // 10)])
    desired = [group(f"new{i}", [2, 1]) for i in range(2)]
    async with connect_all(bench.link, [REGION]) as links:
        client = links[REGION].client
        live = await read_live({REGION: client})
        plan = build_plan(desired, live)
        client.stats.reset()
        executor = Executor(links, RealTimer(), settings=ApplySettings(poll_interval=provision / 2),
                            journal=Journal(None))
        start = time.perf_counter()
        report = await executor.run(plan, live)
        wall = time.perf_counter() - start
    assert report.ok and len(live.services) == services
    return {"services": services, "wall_s": wall, "lists": client.stats.round_trips["ListServices"],
            "reads": client.stats.reads, "writes": client.stats.writes}


def big_region_table(args: argparse.Namespace) -> None:
    print(f"apply: 2 new groups (2 + 1 replicas) into a region of N running services, {args.provision:g} s per "
          f"instance, latency {args.latency_ms:g} ms per call, default client rate limit")
    print("| services already there | apply wall (s) | ListServices | reads | writes |")
    print("|---:|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = asyncio.run(big_region_once(size, args.latency_ms, args.provision))
        print(f"| {size:,} | {r['wall_s']:.2f} | {r['lists']} | {r['reads']} | {r['writes']} |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=("plan-apply", "reads", "big-region"), default="plan-apply",
                        help="plan-apply: the plan and apply tables; reads: listing vs per-resource reads; "
                             "big-region: 2 new groups into a region of --sizes services")
    parser.add_argument("--parallel", type=int, default=10, help="reads: per-resource calls in flight")
    parser.add_argument("--sizes", default="100,1000,10000", help="service counts to plan (groups of 10)")
    parser.add_argument("--groups", type=int, default=50, help="groups to apply")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency injected on every API call")
    parser.add_argument("--provision", type=float, default=0.2, help="emulated seconds per instance coming up")
    parser.add_argument("--rate-limits", default="default,0",
                        help="client rate limits (calls/s) for apply: 'default' and/or numbers; 0 = off")
    args = parser.parse_args()
    if args.mode == "reads":
        return reads_table(args)
    if args.mode == "big-region":
        return big_region_table(args)

    print(f"plan (latency {args.latency_ms:g} ms per call)")
    print("| services | read calls | read (s) | read + plan (s) |")
    print("|---:|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        r = asyncio.run(plan_once(size, args.latency_ms))
        print(f"| {r['services']:,} | {r['read_calls']} | {r['read_s']:.2f} | {r['plan_s']:.2f} |", flush=True)

    for limit in args.rate_limits.split(","):
        rate = None if limit == "default" else float(limit)
        shown = f"{RetrySettings().rate_limit:g}/s (default)" if rate is None else (f"{rate:g}/s" if rate else "off")
        print(f"\napply: {args.groups} new groups of 2 members (2 + 1 replicas), {args.provision:g} s per instance, "
              f"latency {args.latency_ms:g} ms per call, client rate limit {shown}")
        apply_table(args, rate)


def apply_table(args: argparse.Namespace, rate: float | None) -> None:
    alone = asyncio.run(apply_once(1, 1, args.latency_ms, args.provision, rate))
    print(f"one group alone (its critical path): {alone['wall_s']:.2f} s")
    print("| parallel | wall (s) | slowest group (s) | wall / critical path | waves of groups | reads | writes |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for parallel in (1, 8, args.groups):
        r = asyncio.run(apply_once(args.groups, parallel, args.latency_ms, args.provision, rate))
        waves = -(-args.groups // parallel)
        print(f"| {parallel} | {r['wall_s']:.2f} | {r['slowest_group_s']:.2f} | {r['wall_s'] / alone['wall_s']:.2f} "
              f"| {waves} | {r['reads']} | {r['writes']} |", flush=True)


if __name__ == "__main__":
    main()
