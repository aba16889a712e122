"""The prediction gateway: `/api/predict/<group>` and `/api/predict/<group>.<service>`.

A sub-path (`/api/predict/<group>.<service>/health`, `/api/predict/<group>/v1/x`) belongs to the
endpoint named by its first segment: EAS passes it on to the service, so the emulator routes it
exactly like the bare endpoint and answers the same way (the answer's `path` shows the sub-path).

A group request goes to an eligible member chosen by smooth weighted round robin over the members'
weights (traffic.py), so observed shares match computed shares exactly over every Σw requests.
A direct request reaches its member whatever its traffic state, as long as it runs an instance.
No eligible member: 503 (the group is a black hole). Unknown name: 404.

Tokens (tokens.py): the endpoint's AccessToken must be the raw value of the `Authorization` header,
the group's for `/api/predict/<group>`, the service's for `/api/predict/<group>.<service>` (and for
an ungrouped `/api/predict/<service>`). Missing or wrong: 401 `AuthorizationFailed` in the EAS
error shape, checked after the name is resolved (an unknown name stays 404) and before anything
else. `EmulatorSettings.check_tokens=False` turns the check off. The token is never logged.

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

from reconciler.emulator import errors
from reconciler.emulator.groups import GroupOps, Route, Target
from reconciler.emulator.metrics import Metrics
from reconciler.emulator.tokens import token_matches
from reconciler.emulator.traffic import SmoothRoundRobin
from reconciler.emulator.usage import Usage

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


def _refused(name: str, kind: str, authorization: str | None) -> errors.WireError:
    """401 for a missing or wrong token; the message says whose token is wanted, never the token."""
    whose = f"group {name} (DescribeGroup)" if kind == "group" else \
        f"service {name.rpartition('.')[2]} (DescribeService)"
    what = "has no Authorization header" if not authorization else "carries a wrong token"
    return errors.WireError(401, "AuthorizationFailed",
                            f"The request to [{name}] {what}: send the AccessToken of the {whose}.")


def _label_float(target: Target, key: str) -> float:
    try:
        return max(0.0, float(target.labels.get(key, "0")))
    except ValueError:
        return 0.0


class Gateway:
    def __init__(self, backend: GroupOps, metrics: Metrics, seed: int, check_tokens: bool = True) -> None:
        self.backend = backend
        self.metrics = metrics
        self.check_tokens = check_tokens
        self._rng = random.Random(seed)
        self._routes: dict[str, tuple[str, Route]] = {}
        self._balancers: dict[str, SmoothRoundRobin] = {}
        self.usage = Usage(lambda: backend.generation()[1])  # per-second answers per member, for CloudMonitor

    def _route(self, name: str) -> Route:
        generation, now = self.backend.generation()
        self.usage.latest = now  # the emulated time of the request being routed (saves a store read per answer)
        cached = self._routes.get(name)
        if cached is not None and cached[0] == generation and now < cached[1].valid_until:
            return cached[1]
        route = self.backend.route(name)
        self._routes[name] = (generation, route)
        return route

    def pick(self, name: str, route: Route) -> Target | None:
        """The member of `route` (the route of `name`) chosen for one request (None: nobody can answer)."""
        if route.kind == "none":
            return None
        balancer = self._balancers.setdefault(name, SmoothRoundRobin())
        chosen = balancer.pick(route.weights)
        return route.targets[chosen] if chosen else None

    def choose(self, name: str) -> Target | None:
        """The member of endpoint `name` chosen for one request, routed now (synthetic load: no token)."""
        route = self._route(name)
        target = self.pick(name, route)
        self._count_load(route, target)
        return target

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

    async def handle(self, path: str, authorization: str | None = None) -> Answer:
        """Answer `/api/predict/<path>`; `path` is the endpoint name, optionally followed by `/<sub-path>`.

        `authorization` is the request's `Authorization` header. Raises `WireError` (401) for a missing
        or wrong token; the caller renders it.
        """
        started = time.perf_counter()
        name, sub_path = split_path(path)
        route = self._route(name)
        group = name if route.kind == "group" else name.partition(".")[0] if "." in name else ""
        if route.kind == "none":
            return Answer(404, {"error": f"no service or group named [{name}]"}, {})
        if self.check_tokens and not token_matches(authorization, route.token):
            self.metrics.gateway(group, "", 401, time.perf_counter() - started)
            raise _refused(name, route.kind, authorization)
        target = self.pick(name, route)
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
        self.usage.record(target.name, answer.status, time.perf_counter() - started, at=self.usage.latest)
        return answer
