"""The layering, read from the code's own imports: no package imports one above it, and no modules form a cycle.

    wearstream (the command's root, demo, client)            4
    producers · api · deploy  (peers: none imports another)   3
    stream_processors  (the store)                            2
    core  (settings, telemetry, topic set-up, CLI helpers)    1
    schemas  (contracts)                                      0

`bench/` sits above everything and is imported by nothing in the product (it is not in the wheel). Every
import counts: at module level, inside functions, and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYERS: dict[str, int] = {
    "schemas": 0,
    "core": 1,
    "stream_processors": 2,
    "producers": 3,
    "api": 3,
    "deploy": 3,
    "wearstream": 4,
}
PRODUCT = tuple(LAYERS)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path) -> Iterator[tuple[int, str]]:
    """(line, imported module) for every import in the file; `from a import b` names `a.b` when that is a
    module of ours, else `a`."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).rpartition(".")[0] if path.name != "__init__.py" else module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"


def product_files() -> list[Path]:
    return sorted(p for package in PRODUCT for p in (ROOT / package).rglob("*.py"))


def known_modules() -> set[str]:
    return {module_name(p) for p in [*product_files(), *(ROOT / "bench").rglob("*.py")]}


def resolve(name: str, known: set[str]) -> str | None:
    """The longest prefix of `name` that is one of our modules (None: a third-party or standard module)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def edges() -> list[tuple[str, int, str]]:
    known = known_modules()
    found = []
    for path in product_files():
        source = module_name(path)
        for line, name in imports_of(path):
            target = resolve(name, known)
            if target is not None and target != source:
                found.append((source, line, target))
    return found


def violations(found: list[tuple[str, int, str]]) -> list[str]:
    wrong = []
    for source, line, target in found:
        top_from, top_to = source.split(".")[0], target.split(".")[0]
        if top_to == "bench":
            wrong.append(f"{source}:{line} imports {target}: the benchmarks are not part of the product")
        elif top_from != top_to and LAYERS[top_to] >= LAYERS[top_from]:
            relation = "a peer" if LAYERS[top_to] == LAYERS[top_from] else "a higher layer"
            wrong.append(f"{source}:{line} imports {target}: {relation} ({top_to} over {top_from})")
    return wrong


def cycles(found: list[tuple[str, int, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for source, _, target in found:
        graph.setdefault(source, set()).add(target)
        graph.setdefault(target, set())
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_every_product_package_has_a_layer() -> None:
    tops = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench", "docs"}
    assert tops == set(LAYERS)


def test_no_import_runs_up_or_sideways() -> None:
    found = edges()
    assert len(found) > 300  # the walk sees the code's imports
    assert violations(found) == []


def test_no_modules_import_each_other_in_a_cycle() -> None:
    assert cycles(edges()) == []


@pytest.mark.parametrize(
    ("source", "target", "why"),
    [
        ("schemas.metrics", "core.settings", "a higher layer"),
        ("producers.replay", "api.app", "a peer"),
        ("wearstream.demo", "bench.runner", "not part of the product"),
    ],
)
def test_the_checks_catch_a_bad_import(source: str, target: str, why: str) -> None:
    assert why in violations([(source, 1, target)])[0]


def test_the_cycle_check_finds_a_cycle() -> None:
    assert cycles([("a.x", 1, "a.y"), ("a.y", 2, "a.z"), ("a.z", 3, "a.x"), ("a.z", 4, "a.w")]) == [
        ["a.x", "a.y", "a.z"]
    ]
