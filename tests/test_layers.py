"""The package's imports run one way: every ``dspnewton`` import (at module level or inside a
function) goes to the importing module's own layer or a lower one, in the order written in
docs/architecture.md; and there is no import cycle between layers."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "dspnewton"


def _layers() -> list[list[str]]:
    text = (REPO / "docs" / "architecture.md").read_text()
    block = re.search(r"```layers\n(.*?)```", text, re.S).group(1)
    return [line.split() for line in block.strip().splitlines()]


def _modules() -> dict:
    mods = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        mods[name] = p
    return mods


def _imports(name: str, path: Path, mods: dict) -> set:
    pkg = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                mod = ".".join(base) + ("." + node.module if node.module else "")
            else:
                mod = node.module or ""
            if not mod.startswith("dspnewton"):
                continue
            for a in node.names:
                cand = f"{mod}.{a.name}"
                out.add(cand if cand in mods else mod)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("dspnewton")}
    return {m for m in out if m in mods and m != name}


def _layer_of(module: str, layers) -> int | None:
    best = None
    for i, names in enumerate(layers):
        for prefix in names:
            if module == prefix or (prefix != "dspnewton" and module.startswith(prefix + ".")):
                if best is None or len(prefix) > best[1]:
                    best = (i, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_layer():
    layers = _layers()
    unplaced = sorted(m for m in _modules() if _layer_of(m, layers) is None)
    assert not unplaced, f"add these modules to the layers block of docs/architecture.md: {unplaced}"


def test_imports_run_one_way():
    layers, mods = _layers(), _modules()
    upward = []
    for name, path in mods.items():
        mine = _layer_of(name, layers)
        for dep in _imports(name, path, mods):
            if _layer_of(dep, layers) > mine:
                upward.append(f"{name} -> {dep}")
    assert not upward, "imports from a higher layer:\n" + "\n".join(sorted(upward))
