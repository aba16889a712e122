"""Import arrows between the packages run one way: a lower floor never imports a higher one."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "reconciler"

# package -> packages it must never import (directly, at any place in a module, lazily or not)
FORBIDDEN = {
    "eas": ("reconciler.emulator", "reconciler.desired", "reconciler.targets", "reconciler.cli",
            "reconciler.plan", "reconciler.apply", "reconciler.live"),
    "desired": ("reconciler.eas", "reconciler.emulator", "reconciler.targets", "reconciler.cli"),
    "emulator": ("reconciler.targets", "reconciler.cli", "reconciler.plan", "reconciler.apply"),
}


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_arrow_runs_back_up(package: str) -> None:
    bad = [f"{path.relative_to(ROOT.parent)} imports {name}"
           for path in sorted((ROOT / package).rglob("*.py")) for name in sorted(imported(path))
           if any(name == f or name.startswith(f + ".") for f in FORBIDDEN[package])]
    assert not bad, bad


def test_the_scan_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from reconciler.emulator.app import create_app\n")
    assert "reconciler.emulator.app" in imported(module)
