"""The package's shape: no import cycle, no cross-module private names, package imports at module top,
no module much over 500 lines, and the contributor guide's module map lists every module.

The import graph is read from the module tops (``ast``), so it is what a reader sees.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hma_mascon"
ROOT = PKG.parent

#: Modules allowed over the size limit, with the reason (kept short on purpose).
LARGE_MODULES: dict[str, str] = {}
MAX_LINES = 560


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _package_of(name: str) -> str:
    path = MODULES[name]
    return name if path.name == "__init__.py" else name.rsplit(".", 1)[0]


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """Package modules an ``ImportFrom`` node brings in (the module and imported submodules)."""
    if node.level:
        base = _package_of(module).split(".")
        base = base[: len(base) - (node.level - 1)]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("hma_mascon"):
        return []
    found = [target] if target in MODULES else []
    for alias in node.names:
        sub = f"{target}.{alias.name}"
        if sub in MODULES:
            found.append(sub)
    return found


def _imports(module: str, tree: ast.Module, top_only: bool):
    nodes = tree.body if top_only else ast.walk(tree)
    for node in nodes:
        if isinstance(node, ast.ImportFrom):
            yield node, _resolve(module, node)
        elif isinstance(node, ast.Import):
            yield node, [a.name for a in node.names if a.name in MODULES]


TREES = {name: ast.parse(path.read_text()) for name, path in MODULES.items()}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for name, tree in TREES.items():
        deps = set()
        for _, targets in _imports(name, tree, top_only=True):
            for t in targets:
                # importing hma_mascon.a.b runs hma_mascon.a/__init__ first
                parts = t.split(".")
                deps.update(".".join(parts[:k]) for k in range(2, len(parts) + 1))
        parts = name.split(".")
        deps -= {".".join(parts[:k]) for k in range(1, len(parts) + 1)}  # own package: initialised first
        graph[name] = {d for d in deps if d in MODULES}
    return graph


def _cycles(graph):
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    cycles = _cycles(_graph())
    assert not cycles, f"import cycles between package modules: {cycles}"


def test_the_cycle_detector_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_cross_module_private_import():
    bad = []
    for name, tree in TREES.items():
        aliases = {}
        for node, targets in _imports(name, tree, top_only=False):
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    private = alias.name.startswith("_") and not alias.name.startswith("__")
                    if private and targets and f"{targets[0]}" != name:
                        bad.append(f"{name}: from {targets[0]} import {alias.name}")
                    if targets and f"{targets[0]}.{alias.name}" in MODULES:
                        aliases[alias.asname or alias.name] = f"{targets[0]}.{alias.name}"
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in aliases and node.attr.startswith("_") and not node.attr.startswith("__")):
                bad.append(f"{name}: {aliases[node.value.id]}.{node.attr}")
    assert not bad, "private names used across modules:\n" + "\n".join(sorted(set(bad)))


def test_package_imports_sit_at_module_top():
    bad = []
    for name, tree in TREES.items():
        top = {id(n) for n in tree.body}
        for node, targets in _imports(name, tree, top_only=False):
            if id(node) in top or not targets:
                continue
            bad.append(f"{MODULES[name].relative_to(ROOT)}:{node.lineno}: imports {', '.join(targets)}")
    assert not bad, "function-level imports of package modules:\n" + "\n".join(bad)


def test_the_import_checks_can_fail(tmp_path):
    src = "def f():\n    from .x import _y\n    return _y\n"
    tree = ast.parse(src)
    inner = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert inner and inner[0] not in tree.body and inner[0].names[0].name.startswith("_")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_size(name):
    n = len(MODULES[name].read_text().splitlines())
    if name in LARGE_MODULES:
        return
    assert n <= MAX_LINES, f"{MODULES[name].relative_to(ROOT)} has {n} lines (split it, or say why in LARGE_MODULES)"


def test_module_map_lists_every_module():
    text = (ROOT / "CONTRIBUTING.md").read_text()
    missing = []
    for name, path in MODULES.items():
        if name == "hma_mascon" or ".synthetic." in name or path.name.startswith("_"):
            continue
        rel = path.relative_to(PKG)
        if len(rel.parts) == 1:
            listed = f"`{rel}`" in text
        else:  # a sub-package module: the package's row names the file
            listed = f"`{rel.parts[0]}/`" in text and (rel.name == "__init__.py" or f"`{rel.name}`" in text)
        if not listed:
            missing.append(str(rel))
    assert not missing, f"CONTRIBUTING.md's module map omits: {missing}"
