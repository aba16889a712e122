"""The prediction gateway: `/api/predict/<group>` and `/api/predict/<group>.<service>`.

A sub-path (`/api/predict/<group>.<service>/health`, `/api/predict/<group>/v1/x`) belongs to the
endpoint named by its first segment: EAS passes it on to the service, so the emulator routes it
exactly like the bare endpoint and answers the same way (the answer's `path` shows the sub-path).

A group request goes to an eligible member chosen by smooth weighted round robin over the members'
weights (traffic.py), so observed shares match computed shares exactly over every Σw requests.
A direct request reaches its member whatever its traffic state, as long as it runs an instance.
No eligible member: 503 (the group is a black hole). Unknown name: 404.

The answer is JSON `{"service", "version", "group"}` with headers `x-eas-emulator-service` and
`x-eas-emulator-version`. Labels shape a member's answers: `emulator/error-rate` (probability of
a 500, drawn from a generator seeded with `settings.seed`) and `emulator/latency-ms` (added
delay). Routes are cached per process while the store generation is unchanged and no member's
state is due to change.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass

from reconciler.emulator.groups import GroupOps, Route, Target
from reconciler.emulator.metrics import Metrics
from reconciler.emulator.traffic import SmoothRoundRobin

ERROR_RATE_LABEL = "emulator/error-rate"
LATENCY_LABEL = "emulator/latency-ms"


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, object]
    headers: dict[str, str]


def split_path(path: str) -> tuple[str, str]:
    """`<name>[/<sub-path>]` -> (name, "/<sub-path>" or "/")."""
    name, _, rest = path.partition("/")
    return name, "/" + rest


def _label_float(target: Target, key: str) -> float:
    try:
        return max(0.0, float(target.labels.get(key, "0")))
    except ValueError:
        return 0.0


class Gateway:
    def __init__(self, backend: GroupOps, metrics: Metrics, seed: int) -> None:
        self.backend = backend
        self.metrics = metrics
        self._rng = random.Random(seed)
        self._routes: dict[str, tuple[str, Route]] = {}
        self._balancers: dict[str, SmoothRoundRobin] = {}

    def _route(self, name: str) -> Route:
        generation, now = self.backend.generation()
        cached = self._routes.get(name)
        if cached is not None and cached[0] == generation and now < cached[1].valid_until:
            return cached[1]
        route = self.backend.route(name)
        self._routes[name] = (generation, route)
        return route

    def pick(self, name: str) -> tuple[Route, Target | None]:
        """The route for `name` and the member chosen for one request (None: nobody can answer)."""
        route = self._route(name)
        if route.kind == "none":
            return route, None
        balancer = self._balancers.setdefault(name, SmoothRoundRobin())
        chosen = balancer.pick(route.weights)
        return route, (route.targets[chosen] if chosen else None)

    def group_label(self, name: str) -> str:
        """The `group` metric label of endpoint `name` ("" for an ungrouped service or an unknown name)."""
        kind = self._route(name).kind
        return name if kind == "group" else name.partition(".")[0] if kind == "direct" and "." in name else ""

    def faulted(self, path: str, status: int) -> None:
        """Count a prediction request answered by an injected fault (status 0: connection dropped)."""
        self.metrics.gateway(self.group_label(split_path(path)[0]), "", status, None)

    def _count_load(self, route: Route, target: Target | None) -> None:
        """Load for the autoscaler: a request chosen for an autoscaled member, or naming one directly
        (counted even when it has no instance to answer: that is what wakes a member scaled to 0)."""
        counted = target or (next(iter(route.targets.values()), None) if route.kind == "direct" else None)
        if counted is not None and counted.autoscaled:
            self.backend.note_request(counted.name)

    async def handle(self, path: str) -> Answer:
        """Answer `/api/predict/<path>`; `path` is the endpoint name, optionally followed by `/<sub-path>`."""
        started = time.perf_counter()
        name, sub_path = split_path(path)
        route, target = self.pick(name)
        group = name if route.kind == "group" else name.partition(".")[0] if "." in name else ""
        if route.kind == "none":
            return Answer(404, {"error": f"no service or group named [{name}]"}, {})
        self._count_load(route, target)
        if target is None:
            self.metrics.gateway(group, "", 503, time.perf_counter() - started)
            return Answer(503, {"error": f"[{name}] has no eligible member: no running instance takes traffic"}, {})
        delay = _label_float(target, LATENCY_LABEL)
        if delay:
            await asyncio.sleep(delay / 1000.0)
        headers = {"x-eas-emulator-service": target.name, "x-eas-emulator-version": str(target.version)}
        if self._rng.random() < _label_float(target, ERROR_RATE_LABEL):
            answer = Answer(500, {"error": "injected by emulator/error-rate", "service": target.name}, headers)
        else:
            answer = Answer(200, {"service": target.name, "version": target.version, "group": group,
                                  "path": sub_path}, headers)
        self.metrics.gateway(group, target.name, answer.status, time.perf_counter() - started)
        return answer
