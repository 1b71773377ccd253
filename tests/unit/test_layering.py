"""Architecture rules: the numeric core and the rules are pure; one module owns aiomqtt."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PURE = [ROOT / "fusion" / "core", ROOT / "fusion" / "rules"]
IMPURE_MODULES = {"asyncio", "aiomqtt", "paho", "socket", "time", "threading", "subprocess"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def wall_clock_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        ast.unparse(n)
        for n in ast.walk(tree)
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and n.func.attr in {"now", "utcnow", "today"}
        and isinstance(n.func.value, ast.Name | ast.Attribute) and "date" in ast.unparse(n.func.value)
    ]


def test_core_and_rules_are_pure() -> None:
    files = [p for d in PURE for p in d.rglob("*.py")]
    assert files, "no core/rules modules found"
    for path in files:
        bad = imported_roots(path) & IMPURE_MODULES
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}: the core and rules must stay pure"
        assert not wall_clock_calls(path), f"{path.relative_to(ROOT)} reads the wall clock"


def test_only_fusion_mqtt_imports_aiomqtt() -> None:
    users = sorted(
        str(p.relative_to(ROOT))
        for pkg in ("fusion", "sensors", "sim_feeds")
        for p in (ROOT / pkg).rglob("*.py")
        if {"aiomqtt", "paho"} & imported_roots(p)
    )
    assert users == ["fusion/mqtt.py"], users
