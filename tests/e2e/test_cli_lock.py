"""`apply`'s lock and `unlock` through the CLI, in-process on the virtual clock (the processes version is in
tests/apply/test_lock_processes.py)."""

from __future__ import annotations

import re

from reconciler.apply.lock import TOKEN_LABEL, Holder

from .conftest import EXAMPLES, Cli

REGION = "cn-shanghai"


def _labels(cli: Cli, group: str) -> dict[str, str]:
    found = [g for g in cli.emulator(REGION).state.emulator.backend.list_groups(group, "", 1, 100)[0]
             if g.name == group]
    return dict(found[0].labels) if found else {}


def _locked_every_changed_group(output: str) -> int:
    changed = re.search(r"Plan: (\d+) of", output)
    locked = re.search(r"locked (\d+) group\(s\) as \S+@", output)
    assert changed and locked and locked.group(1) == changed.group(1), output
    return int(locked.group(1))


def _plant(cli: Cli, group: str) -> Holder:
    holder = Holder("feedface", "bob@runner-7 pid 99", "https://github.com/acme/m/actions/runs/5",
                    cli.timer.epoch(), cli.timer.epoch() + 3600)
    cli.emulator(REGION).state.emulator.backend.update_group(REGION, group, None, holder.labels(), None)
    return holder


def test_apply_locks_while_it_writes_and_an_apply_with_nothing_to_do_takes_no_lock(cli: Cli) -> None:
    first = cli("apply", EXAMPLES, "--auto-approve")
    assert first.exit_code == 0, first.output
    groups = _locked_every_changed_group(first.output)
    assert cli.lock_writes() >= 2 * groups  # taken and given back on each group
    assert not any(k.startswith("eas-gitops/lock") for k in _labels(cli, "pmml"))
    writes, locks = cli.writes(), cli.lock_writes()
    again = cli("apply", EXAMPLES, "--auto-approve")
    assert again.exit_code == 0 and "locked" not in again.output
    assert (cli.writes(), cli.lock_writes()) == (writes, locks)


def test_a_held_group_with_lock_timeout_zero_is_refused_naming_the_holder_then_unlock_frees_it(cli: Cli) -> None:
    assert cli("apply", EXAMPLES / "pmml.yaml", "--auto-approve").exit_code == 0
    _plant(cli, "pmml")
    changed = cli.state.parent.parent / "pmml.yaml"
    changed.write_text((EXAMPLES / "pmml.yaml").read_text().replace("replicas: 4", "replicas: 5"))
    writes, locks = cli.writes(), cli.lock_writes()
    refused = cli("apply", changed, "--auto-approve", "--lock-timeout", "0")
    assert refused.exit_code == 1
    assert "error: cn-shanghai/pmml is locked by bob@runner-7 pid 99, https://github.com/acme/m/actions/runs/5" \
        in refused.output
    assert (cli.writes(), cli.lock_writes()) == (writes, locks)

    asked = cli("unlock", "pmml", "--region", REGION, "--state", cli.state)
    assert asked.exit_code == 1 and "bob@runner-7" in asked.output and "--yes" in asked.output
    assert _labels(cli, "pmml")[TOKEN_LABEL] == "feedface"
    broken = cli("unlock", "cn-shanghai/pmml", "--yes", "--state", cli.state)
    assert broken.exit_code == 0 and "unlocked cn-shanghai/pmml" in broken.output
    assert TOKEN_LABEL not in _labels(cli, "pmml") and _labels(cli, "pmml") is not None
    assert cli("unlock", "cn-shanghai/pmml", "--yes", "--state", cli.state).output.endswith("nothing to do\n")
    done = cli("apply", changed, "--auto-approve", "--lock-timeout", "0")
    assert done.exit_code == 0, done.output


def test_lock_durations_are_checked(cli: Cli) -> None:
    bad = cli("apply", EXAMPLES, "--auto-approve", "--lock-timeout", "5")
    assert bad.exit_code == 1 and "error: --lock-timeout: '5' is not a duration" in bad.output
    assert "Plan:" not in bad.output  # refused before reading anything
    assert cli("apply", EXAMPLES, "--auto-approve", "--lock-ttl", "0").exit_code == 1
    assert cli.writes() == 0 and cli.lock_writes() == 0


def test_a_saved_plan_of_new_groups_is_applied_under_the_lock_after_its_fingerprint_check(cli: Cli) -> None:
    out = cli.state.parent.parent / "plan.json"
    assert cli("plan", EXAMPLES, "--out", out).exit_code == 0
    applied = cli("apply", "--plan", out, "--auto-approve")
    # the lock created the five groups (empty, auto) before the check: the fingerprint did not move
    assert applied.exit_code == 0, applied.output
    assert cli.lock_writes() >= 2 * _locked_every_changed_group(applied.output)
    assert cli("plan", EXAMPLES, "--detailed-exitcode").exit_code == 0
