"""One applier at a time: a lock per group, kept in EAS itself as labels on the group.

Where it lives: the group's own labels (CreateGroup and UpdateGroup take `Labels`, DescribeGroup
returns them), so a laptop and any number of CI runners that reach the same EAS region see the
same lock, and nothing on the members changes (their labels, the plan, its fingerprint). The keys
are reserved (`eas-gitops/lock...`):

- `eas-gitops/lock`: the holder's token, a random value unique to one apply run;
- `eas-gitops/lock-holder`: who holds it (`user@host pid N`);
- `eas-gitops/lock-run`: the CI run URL (`GITHUB_SERVER_URL/GITHUB_REPOSITORY/actions/runs/GITHUB_RUN_ID`),
  only when those are set;
- `eas-gitops/lock-taken`, `eas-gitops/lock-expires`: RFC 3339 UTC times.

A group that does not exist yet gets its home first: the acquirer creates it with CreateGroup,
the lock labels in the same call, in the workspace its file names (`metadata.workspace_id`, sent
as `WorkSpaceId`; without one EAS picks its default, as for a group a first member creates).
`Network` is not sent: the file has no group-level network, and which service-config keys
would map to it is not documented, so the group gets what EAS gives a group by default.
An empty group in `auto` mode is, for planning, the same as no group (the first member joins it
either way), so the live reader leaves such groups out: the
group a lock creates changes neither plans nor fingerprints, is never "orphaned" and never counts
as a group that could lose its traffic. When the run ends with the group still empty (it failed
before its first member, or the plan deleted every member), releasing deletes it.

EAS offers no compare-and-set, so taking a lock is write, wait, read back:
1. read every wanted group; if another holder's unexpired token is on any of them, wait;
2. write our token on all of them (UpdateGroup replaces the group's labels: the last writer wins
   whole, tokens never merge);
3. wait `settle` seconds, longer than any other acquirer needs between its read (step 1) and its
   write (step 2), then read back: every acquirer that read "free" has written by then, so the one
   token every group shows is the one winner; everyone else sees a foreign token, takes back the
   groups it still shows on, and waits again.
All or nothing: an apply never holds some of its groups while it waits for others, so two applies
with overlapping groups cannot deadlock. A process stalled longer than `settle` between its read
and its write could still overwrite a winner; that is why the executor re-checks the lock before
every step (`Locks.check`, one DescribeGroup): whoever finds a foreign token stops before its next
write, with nothing rolled back (the other apply owns the group now). A lost race costs at most the
one step that was already running.

Expiry and renewal: a background task (`Locks.renewing`) rewrites `lock-expires` every `ttl / 3`
while the apply runs, also while it waits for a member to be Running. A holder that died (SIGKILL, a
cancelled CI job) stops renewing, and after `ttl` any waiter takes the lock over. Expiry is judged
on the waiter's wall clock against the holder's: clocks must agree to well within `ttl` (NTP).
`release` removes the lock labels (keeping every other label of the group); `break_lock` does the
same by hand (`eas-gitops unlock`). Both read back: should UpdateGroup merge labels instead of
replacing them (undocumented; the emulator replaces), the token is overwritten with "", which is no lock.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import random
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from reconciler.defaults import LOCK_TIMEOUT, LOCK_TTL
from reconciler.eas.client import EasClient
from reconciler.eas.models import Group
from reconciler.errors import ConflictError, EasGitopsError, LockError, LockLostError, NotFoundError
from reconciler.plan.model import CreateParams, Plan

LOCK_PREFIX = "eas-gitops/lock"
TOKEN_LABEL = LOCK_PREFIX
HOLDER_LABEL = f"{LOCK_PREFIX}-holder"
RUN_LABEL = f"{LOCK_PREFIX}-run"
TAKEN_LABEL = f"{LOCK_PREFIX}-taken"
EXPIRES_LABEL = f"{LOCK_PREFIX}-expires"
LABEL_VALUE_CHARS = 128  # the common Alibaba Cloud tag value limit (EAS documents none): our cap

GroupKey = tuple[str, str]  # (region, group)


def is_lock_label(key: str) -> bool:
    return key == TOKEN_LABEL or key.startswith(f"{LOCK_PREFIX}-")


@dataclass(frozen=True)
class LockSettings:
    """How long to wait for a lock, how long one lives unrenewed, the read-back delay, the poll interval."""

    timeout: float = LOCK_TIMEOUT  # 0: refuse at once when held
    ttl: float = LOCK_TTL
    settle: float = 2.0
    poll: float = 2.0


class LockClock(Protocol):
    def epoch(self) -> float: ...  # seconds since the epoch: the expiry is compared across machines

    async def sleep(self, seconds: float) -> None: ...


class WallClock:
    def epoch(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _stamp(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _unstamp(text: str) -> float:
    """Seconds since the epoch; 0 (long expired) for a value someone edited into nonsense."""
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()
    except ValueError:
        return 0.0


@dataclass(frozen=True)
class Holder:
    """Who holds (or wants) a group's lock, read from or written to its labels."""

    token: str
    who: str
    run_url: str
    taken: float
    expires: float

    def labels(self) -> dict[str, str]:
        out = {TOKEN_LABEL: self.token, HOLDER_LABEL: self.who[:LABEL_VALUE_CHARS],
               TAKEN_LABEL: _stamp(self.taken), EXPIRES_LABEL: _stamp(self.expires)}
        if self.run_url:
            out[RUN_LABEL] = self.run_url[:LABEL_VALUE_CHARS]
        return out

    @classmethod
    def of(cls, labels: Mapping[str, str]) -> Holder | None:
        token = labels.get(TOKEN_LABEL, "")
        if not token:
            return None
        return cls(token, labels.get(HOLDER_LABEL, "(unknown)"), labels.get(RUN_LABEL, ""),
                   _unstamp(labels.get(TAKEN_LABEL, "")), _unstamp(labels.get(EXPIRES_LABEL, "")))

    def expired(self, now: float) -> bool:
        return now >= self.expires

    def describe(self, now: float) -> str:
        run = f", {self.run_url}" if self.run_url else ""
        left = self.expires - now
        expiry = f"expires in {left:.0f}s" if left > 0 else "expired"
        return f"{self.who}{run}, since {_stamp(self.taken)}, {expiry}"


def who_am_i(env: Mapping[str, str] | None = None) -> tuple[str, str]:
    """(`user@host pid N`, CI run URL or "") for this process."""
    env = os.environ if env is None else env
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (some containers)
        user = "unknown"
    who = f"{user}@{socket.gethostname()} pid {os.getpid()}"
    parts = [env.get(k, "") for k in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID")]
    run_url = f"{parts[0].rstrip('/')}/{parts[1]}/actions/runs/{parts[2]}" if all(parts) else ""
    return who, run_url


def without_lock(labels: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if not is_lock_label(k)}


def _token(group: Group | None) -> str:
    return group.labels.get(TOKEN_LABEL, "") if group is not None else ""


async def read_group(client: EasClient, name: str) -> Group | None:
    try:
        return await client.describe_group(name)
    except NotFoundError:
        return None


@dataclass
class Wait:
    """What a waiter is waiting for (for the CLI to print): holders by group, seconds waited."""

    holders: dict[GroupKey, Holder | None]
    waited: float
    now: float


@dataclass
class Locks:
    """The locks of one apply run over `keys`, taken all together, renewed, checked, released."""

    clients: Mapping[str, EasClient]  # region -> client
    keys: list[GroupKey]
    settings: LockSettings = field(default_factory=LockSettings)
    clock: LockClock = field(default_factory=WallClock)
    env: Mapping[str, str] | None = None
    on_wait: Callable[[Wait], None] = lambda _w: None
    rng: random.Random = field(default_factory=random.Random)
    workspaces: Mapping[GroupKey, str] = field(default_factory=dict)  # a new group's workspace (WorkSpaceId)
    created: set[GroupKey] = field(default_factory=set)
    held: bool = False
    lost: dict[GroupKey, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keys = sorted(set(self.keys))
        who, run_url = who_am_i(self.env)
        self.me = Holder(uuid.uuid4().hex, who, run_url, 0.0, 0.0)

    async def _read(self, keys: Iterable[GroupKey]) -> dict[GroupKey, Group | None]:
        keys = list(keys)
        found = await asyncio.gather(*(read_group(self.clients[r], g) for r, g in keys))
        return dict(zip(keys, found, strict=True))

    def _foreign(self, group: Group | None, now: float, *, live_only: bool) -> Holder | None:
        holder = Holder.of(group.labels) if group is not None else None
        if holder is None or holder.token == self.me.token or (live_only and holder.expired(now)):
            return None
        return holder

    async def _write(self, key: GroupKey, group: Group | None, holder: Holder) -> None:
        region, name = key
        client = self.clients[region]
        if group is None:  # the lock's home: the group a new file declares
            try:
                await client.create_group(name, labels=holder.labels(), workspace_id=self.workspaces.get(key))
            except ConflictError:  # another acquirer created it first: its labels hold, the read-back says so
                return
            self.created.add(key)
        else:
            await client.update_group(name, labels=without_lock(group.labels) | holder.labels())

    async def _attempt(self) -> dict[GroupKey, Holder | None]:
        """One round: {} when every lock is ours now, else who blocks (None: the group vanished meanwhile)."""
        now = self.clock.epoch()
        seen = await self._read(self.keys)
        blockers = {k: h for k, g in seen.items() if (h := self._foreign(g, now, live_only=True)) is not None}
        if blockers:
            return dict(blockers)
        self.me = replace(self.me, taken=now, expires=now + self.settings.ttl)
        await asyncio.gather(*(self._write(k, g, self.me) for k, g in seen.items()))
        await self.clock.sleep(self.settings.settle)
        back = await self._read(self.keys)
        lost = {k: Holder.of(g.labels) if g is not None else None for k, g in back.items()
                if _token(g) != self.me.token}
        if lost:  # all or nothing: give back what we got, so nobody waits on a half-taken set
            await self._give_back([k for k in self.keys if k not in lost], back)
        return lost

    async def acquire(self) -> None:
        """Take every lock, waiting up to `settings.timeout`; LockError naming the holders when that runs out."""
        start = self.clock.epoch()
        while True:
            blockers = await self._attempt()
            if not blockers:
                self.held = True
                return
            now = self.clock.epoch()
            if now - start >= self.settings.timeout:
                raise LockError(self._refusal(blockers, now))
            self.on_wait(Wait(blockers, now - start, now))
            pause = min(self.settings.poll, max(self.settings.timeout - (now - start), 0.0))
            await self.clock.sleep(pause * (1.0 + 0.25 * self.rng.random()))  # jitter: two losers retry apart

    def _refusal(self, blockers: Mapping[GroupKey, Holder | None], now: float) -> str:
        parts = [f"{r}/{g} is locked by {h.describe(now)}" if h else f"{r}/{g} changed while locking"
                 for (r, g), h in sorted(blockers.items())]
        waited = "" if self.settings.timeout <= 0 else f" (waited {self.settings.timeout:.0f}s)"
        return (f"{'; '.join(parts)}{waited}: another apply is running; wait for it, raise --lock-timeout, or, "
                "if that holder is dead, `eas-gitops unlock GROUP`")

    async def check(self, region: str, group: str) -> None:
        """Before a step's writes: LockLostError unless the group still shows our token (a group the
        plan deleted is gone with its lock: nothing left to protect)."""
        key = (region, group)
        if key in self.lost:
            raise LockLostError(self.lost[key])
        found = await read_group(self.clients[region], group)
        holder = self._foreign(found, self.clock.epoch(), live_only=False)
        if found is not None and (holder is not None or Holder.of(found.labels) is None):
            self.lost[key] = (f"lost the lock on {region}/{group} to "
                              f"{holder.describe(self.clock.epoch()) if holder else '(released by hand)'}: "
                              "stopped before the next write")
            raise LockLostError(self.lost[key])

    async def renew(self) -> None:
        """Push every held lock's expiry `ttl` ahead; a group that shows another token is marked lost."""
        now = self.clock.epoch()
        self.me = replace(self.me, expires=now + self.settings.ttl)
        seen = await self._read(self.keys)
        for key, group in seen.items():
            holder = Holder.of(group.labels) if group is not None else None
            if group is None or key in self.lost:
                continue
            if holder is None or holder.token != self.me.token:
                self.lost[key] = (f"lost the lock on {key[0]}/{key[1]} to "
                                  f"{holder.describe(now) if holder else '(released by hand)'}: stopped")
                continue
            await self._write(key, group, self.me)

    async def _renew_forever(self) -> None:
        while True:
            await self.clock.sleep(self.settings.ttl / 3)
            with suppress(EasGitopsError):  # a failed renewal is retried next round; check() still guards
                await self.renew()

    @asynccontextmanager
    async def renewing(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._renew_forever())
        try:
            yield
        finally:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task

    async def _give_back(self, keys: list[GroupKey], seen: Mapping[GroupKey, Group | None]) -> None:
        for key in keys:
            group = seen.get(key)
            if group is None or _token(group) != self.me.token:
                continue  # not ours (any more): never remove another holder's lock
            client = self.clients[key[0]]
            if key in self.created and not await _has_members(client, key[1]):
                await client.delete_group(key[1])
                self.created.discard(key)
            else:
                await clear_lock(client, key[1], group.labels)

    async def release(self) -> None:
        """Remove our lock labels everywhere we still hold them; a group the lock created and that is
        still empty is deleted."""
        self.held = False
        await self._give_back(self.keys, await self._read(self.keys))

    @asynccontextmanager
    async def holding(self) -> AsyncIterator[Locks]:
        """Acquire, renew in the background, release on the way out (also after an error or Ctrl-C).

        Releasing covers the acquisition too: a Ctrl-C while our token is written but not yet read
        back (the `settle` wait) takes it back, instead of leaving it to block others until it expires.
        """
        try:
            await self.acquire()
            async with self.renewing():
                yield self
        finally:
            with suppress(EasGitopsError):  # never hide the run's own error: an unreleased lock expires
                await self.release()


def new_group_workspaces(plan: Plan) -> dict[GroupKey, str]:
    """The workspace of each group the plan creates, from its members' create configs
    (`metadata.workspace_id`, which the group file sets for every member): where the lock's
    CreateGroup puts the group."""
    found: dict[GroupKey, str] = {}
    for g in plan.groups:
        if g.mode_before is not None:
            continue
        for step in g.steps:
            if isinstance(step.params, CreateParams):
                workspace = step.params.config.get("metadata", {}).get("workspace_id")
                if workspace:
                    found[(g.region, g.name)] = str(workspace)
                    break
    return found


async def _has_members(client: EasClient, group: str) -> bool:
    async for _svc in client.list_services(group_name=group):
        return True
    return False


async def lock_holder(client: EasClient, group: str) -> Holder | None:
    found = await read_group(client, group)
    return Holder.of(found.labels) if found is not None else None


async def break_lock(client: EasClient, group: str) -> Holder | None:
    """Remove a group's lock labels whoever holds them (`eas-gitops unlock`); the holder it removed."""
    found = await read_group(client, group)
    holder = Holder.of(found.labels) if found is not None else None
    if found is not None and holder is not None:
        await clear_lock(client, group, found.labels)
    return holder


async def clear_lock(client: EasClient, group: str, labels: Mapping[str, str]) -> None:
    """Write the group's labels without the lock's. Whether UpdateGroup replaces the labels (as the
    emulator does) or merges them is not documented: when the token is still there after the write,
    it is overwritten with "" (an empty token is no lock)."""
    await client.update_group(group, labels=without_lock(labels))
    if _token(await read_group(client, group)):
        await client.update_group(group, labels=without_lock(labels) | {TOKEN_LABEL: ""})
