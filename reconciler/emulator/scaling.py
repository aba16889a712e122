"""Operations on a service's instances: the autoscaler API, RestartService and ListServiceInstances.

The autoscaler lives in the service config's `autoscaler` key (autoscaler.py): Create and Update
write it there in the config form, Delete removes it, Describe reads it back with the current QPS.
None of them makes a new version. Create and Update bring the instance count into [min, max] at
once when it is outside (a scale, recorded as `AutoScale`).

Choices where the docs are silent: CreateServiceAutoScaler on a service that has an autoscaler and
Update / Describe / Delete on one that has none are `InvalidAutoscaler.*` errors (409 / 404); the
API requires max > min (as documented) while a service config may say min == max; metric names are
echoed as written. RestartService rolls every instance like an update (status Updating, one
`update_delay` per instance, count unchanged, no new version); it is refused while the service is
Stopped or Stopping, and the safety lock treats it as an ordinary write (only `all` blocks it).
"""

from __future__ import annotations

from typing import Any

from reconciler.emulator import autoscaler, errors
from reconciler.emulator.groups import GroupOps, paginate
from reconciler.emulator.instances import instance_rows, matches
from reconciler.emulator.models import PhaseKind, ServiceRecord, Status, desired_instances, phase_end, rfc3339
from reconciler.emulator.store import Tx

_STOPPED = frozenset({Status.STOPPED, Status.STOPPING})


class ScalingOps(GroupOps):
    def _lookup(self, tx: Tx, region: str, name: str) -> ServiceRecord:
        svc = tx.service(name)
        if svc is None or svc.region != region:
            raise errors.service_not_found(name)
        return svc

    # autoscaler ----------------------------------------------------------------------------
    def create_service_autoscaler(self, region: str, name: str, body: dict[str, Any]) -> str:
        return self._set_scaler(region, name, autoscaler.from_api_body(body), "CreateServiceAutoScaler")

    def update_service_autoscaler(self, region: str, name: str, body: dict[str, Any]) -> str:
        return self._set_scaler(region, name, autoscaler.from_api_body(body), "UpdateServiceAutoScaler")

    def _bounded(self, scaler: autoscaler.Scaler | None) -> None:
        """InvalidParameter when an autoscaler's max is beyond the instances bound (settings.ConfigBounds)."""
        if scaler is not None and scaler.max > self.settings.bounds.instances:
            raise errors.invalid_parameter(f"autoscaler max must be at most {self.settings.bounds.instances}, "
                                           f"got {scaler.max}.")

    def _set_scaler(self, region: str, name: str, scaler: autoscaler.Scaler, action: str) -> str:
        self._bounded(scaler)
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, action, now)
            exists = autoscaler.from_config(svc.config) is not None
            if action.startswith("Create") and exists:
                raise errors.autoscaler_exists(name)
            if not action.startswith("Create") and not exists:
                raise errors.autoscaler_not_found(name)
            svc.config = {**svc.config, "autoscaler": scaler.config_form()}
            svc.updated_at = now
            tx.put_service(svc, now)
            self.record(tx, now, "write", action, name, svc.group, {"Min": scaler.min, "Max": scaler.max})
            current = desired_instances(svc.config)
            inside = min(max(current, scaler.min), scaler.max)
            if inside != current and svc.phase.kind not in (PhaseKind.STOP, PhaseKind.DELETE):
                self.autoscale_to(tx, svc, inside, now, {"Reason": "outside [min, max]"})
            verb = "created" if action.startswith("Create") else "updated"
            return f"Autoscaler of service [{name}] {verb}"

    def describe_service_autoscaler(self, region: str, name: str) -> dict[str, Any]:
        with self.reading() as (tx, now):
            svc = self._lookup(tx, region, name)
            scaler = autoscaler.from_config(svc.config)
            if scaler is None:
                raise errors.autoscaler_not_found(name)
            return autoscaler.describe(name, scaler, self.load.qps(name, now, self.settings.autoscaler.window))

    def delete_service_autoscaler(self, region: str, name: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "DeleteServiceAutoScaler", now)
            if autoscaler.from_config(svc.config) is None:
                raise errors.autoscaler_not_found(name)
            svc.config = {k: v for k, v in svc.config.items() if k != "autoscaler"}
            svc.updated_at = now
            tx.put_service(svc, now)
            self.record(tx, now, "write", "DeleteServiceAutoScaler", name, svc.group, {})
            return f"Autoscaler of service [{name}] deleted"

    # restart, instances --------------------------------------------------------------------
    def restart_service(self, region: str, name: str) -> str:
        with self.store.write() as tx:
            now = self._begin(tx)
            svc = self._lookup(tx, region, name)
            self.guard(svc, "RestartService", now)
            status = svc.state(now).status
            if status in _STOPPED or svc.phase.kind is PhaseKind.STOP:
                raise errors.bad_status(name, status.value, "RestartService")
            svc.extra = {**svc.extra, "restarts": int(svc.extra.get("restarts", 0)) + 1}
            self.record(tx, now, "write", "RestartService", name, svc.group, {})
            in_flight = now < phase_end(svc.phase)
            self.start_phase(tx, svc, PhaseKind.UPDATE, now, desired_instances(svc.config),
                             svc.phase.to_version if in_flight else 0)
            return f"Service [{name}] in region [{region}] is restarting"

    def list_service_instances(self, region: str, name: str, query: dict[str, str], page: int,
                               size: int) -> tuple[list[dict[str, Any]], int]:
        with self.reading() as (tx, now):
            svc = self._lookup(tx, region, name)
            point = svc.state(now)
            rows = instance_rows(svc, point.running, point.pending, point.status is Status.WAITING,
                                 tx.out_of_stock(), self.settings.service_fields, rfc3339(svc.phase.started))
            rows = [r for r in rows if matches(r, query)]
            return paginate(rows, page, size), len(rows)
