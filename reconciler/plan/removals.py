"""The part of the diff that removes: keys the declared-keys record names and the file no longer does.

`RecordDiffer` is mixed into the group differ of `reconciler.plan.diff`: it decides, for one managed
member, which label keys and config paths to delete, what the record should become, and which
record pieces are left over. The rules (see `reconciler.plan.record` for the record itself):

- only a key the record names, that the file no longer declares and that is still live is removed,
  so platform defaults and keys someone else set stay;
- a service without a readable record removes nothing (warned when the record is unreadable or
  overflows; silent when there is none: a service created before the record existed);
- the record follows every write to the service; a service without one gets it only with another
  write, and one that alone differs is rewritten.
"""

from __future__ import annotations

from typing import Any

from reconciler.desired.eas_config import Path, value_at
from reconciler.desired.model import ServiceSpec
from reconciler.live.model import LiveService
from reconciler.plan import record
from reconciler.plan.model import SENSITIVE, Change, ChangeOp, WarningCode
from reconciler.plan.record import RECORD_LABEL, Declared, RecordLimits, RecordState


class RecordDiffer:
    """Removal and record decisions; the host class provides `change`, `warn` and `limits`."""

    limits: RecordLimits

    def change(self, service: str | None, field_: str, op: ChangeOp, before: Any, after: Any) -> Change:
        raise NotImplementedError

    def warn(self, code: WarningCode, service: str | None, message: str) -> None:
        raise NotImplementedError

    def wanted_record(self, spec: ServiceSpec, declared: set[Path], secret: tuple[Path, ...],
                      recorded: record.Recorded) -> dict[str, str]:
        """The record labels as they should be; one warning when removals cannot be tracked."""
        wanted = record.encode(Declared(frozenset(spec.labels), frozenset(declared), frozenset(secret)), self.limits)
        if wanted[RECORD_LABEL] == record.OVERFLOW:
            self.warn(WarningCode.REMOVALS_NOT_TRACKED, spec.name,
                      f"{spec.name} declares too many keys for the {RECORD_LABEL} record: keys removed from its file "
                      "will stay live (remove them by hand)")
        elif recorded.state in (RecordState.OVERFLOW, RecordState.UNREADABLE):
            self.warn(WarningCode.REMOVALS_NOT_TRACKED, spec.name,
                      f"{spec.name}: its {RECORD_LABEL} record is {recorded.state.value}: nothing is removed from it "
                      "this time; the record is rewritten")
        return wanted

    def removals(self, spec: ServiceSpec, live: LiveService, declared: set[Path], recorded: record.Recorded
                 ) -> tuple[tuple[str, ...], tuple[Path, ...]]:
        """Label keys and config paths to delete, each shown as a `-` change."""
        if recorded.declared is None:  # no record (or none readable): nothing is known to be ours
            return (), ()
        labels = record.removed_labels(recorded.declared, spec.labels, live.labels)
        for key in [k for k in labels if not record.deletable(k)]:
            self.warn(WarningCode.REMOVALS_NOT_TRACKED, spec.name,
                      f"{spec.name}: label {key!r} was removed from the file but DeleteServiceLabel cannot name it "
                      "alone (a comma or outer spaces in the key): remove it by hand")
        labels = tuple(k for k in labels if record.deletable(k))
        paths = record.removed_paths(recorded.declared, declared, live.config)
        for key in labels:
            self.change(spec.name, f"labels.{key}", ChangeOp.REMOVE, live.labels[key], None)
        for path in paths:  # the live value of a secret reference is the resolved secret: never shown
            before = SENSITIVE if path in recorded.declared.secret else value_at(live.config, path)[1]
            self.change(spec.name, f"config.{'.'.join(path)}", ChangeOp.REMOVE, before, None)
        return labels, paths

    def record_changes(self, name: str, live: LiveService, recorded: record.Recorded, wanted: dict[str, str],
                       writing: bool) -> tuple[dict[str, str], tuple[str, ...]]:
        """Record labels to write and leftover pieces to delete (`writing`: the member has label writes anyway)."""
        if recorded.state is RecordState.ABSENT and not writing:
            return {}, ()
        changed = {k: v for k, v in wanted.items() if live.labels.get(k) != v}
        stale = record.stale_pieces(live.labels, wanted)
        if (changed or stale) and not writing:  # only the record differs (a hand edit, an interrupted apply)
            self.change(name, f"labels.{RECORD_LABEL}", ChangeOp.MODIFY, live.labels.get(RECORD_LABEL),
                        wanted[RECORD_LABEL])
        return changed, stale
