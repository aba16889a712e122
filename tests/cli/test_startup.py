"""`main()` pauses the cyclic garbage collector for start-up only (loading the command and the modules it runs
on, its `ENGINE`): the command itself runs with it on."""

from __future__ import annotations

import gc
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main as cli_main
from reconciler.desired import loader

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "groups" / "pmml.yaml"


def test_start_up_is_paused_and_the_command_runs_with_the_collector(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: dict[str, bool] = {}
    real_import = importlib.import_module
    real_load = loader.load_paths

    def importing(name: str, *args: object) -> object:
        if name == "reconciler.cli.validate":
            seen["loading the command"] = gc.isenabled()
        if name == "reconciler.desired.loader":  # in validate's ENGINE: the root imports it before validate runs
            seen["loading its engine"] = gc.isenabled()
        return real_import(name, *args)  # type: ignore[arg-type]

    def loading(*args: object, **kwargs: object) -> object:
        seen["running the command"] = gc.isenabled()
        seen["start-up frozen"] = gc.get_freeze_count() > 0  # never scanned again by the command's collections
        return real_load(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(cli_main.importlib, "import_module", importing)
    monkeypatch.setattr(loader, "load_paths", loading)  # validate imports it when it runs
    monkeypatch.setattr("sys.argv", ["eas-gitops", "validate", str(EXAMPLE)])
    gc.unfreeze()  # nothing frozen by an earlier test
    assert gc.isenabled()
    try:
        with pytest.raises(SystemExit) as done:
            cli_main.main()
        assert done.value.code == 0
        assert seen == {"loading the command": False, "loading its engine": False, "running the command": True,
                        "start-up frozen": True}
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_the_collector_is_back_on_after_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.argv", ["eas-gitops", "validate", "--no-such-option"])
    try:
        with pytest.raises(SystemExit) as done:
            cli_main.main()
        assert done.value.code == 1
        assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


def test_no_pause_without_main() -> None:
    gc.disable()
    try:
        cli_main.end_startup_pause()
        assert not gc.isenabled()  # someone else's pause is theirs to end
    finally:
        gc.enable()


def test_the_file_models_build_their_schemas_on_first_use() -> None:
    """Importing the models builds no validator (pydantic's defer_build): that is paid once, by the
    first file validated, not by every command that imports them."""
    code = ("from reconciler.desired import model, rollout, drift_policy\n"
            "from reconciler.analysis import gates\n"
            "models = [model.ServiceGroup, model.ServiceSpec, model.Resources, rollout.RolloutSpec,"
            " drift_policy.DriftPolicy, gates.AnalysisSpec]\n"
            "print([m.__name__ for m in models if m.__pydantic_complete__])\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"
