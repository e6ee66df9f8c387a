"""The package layout is enforced: layers (import-linter), no import cycle, small modules."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

import calib_async

PACKAGE = Path(calib_async.__file__).parent
ROOT = PACKAGE.parent.parent


def test_layers_contract_is_kept() -> None:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert exe is not None, "import-linter is a test dependency: pip install -e '.[test]'"
    proc = subprocess.run(
        [exe, "--config", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 kept, 0 broken" in proc.stdout
    assert "RunConfig is imported by cli, config and pipeline only KEPT" in proc.stdout


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    imported = graph.find_modules_directly_imported_by(child)
                    work.append((child, iter(sorted(imported))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_no_import_cycle_even_under_type_checking() -> None:
    graph = grimp.build_graph("calib_async", exclude_type_checking_imports=False)
    assert _cycles(graph) == []


def test_cycle_finder_finds_a_cycle() -> None:
    graph = grimp.ImportGraph()
    for name in ("a", "a.x", "a.y", "a.z"):
        graph.add_module(name)
    graph.add_import(importer="a.x", imported="a.y")
    graph.add_import(importer="a.y", imported="a.x")
    graph.add_import(importer="a.y", imported="a.z")
    assert _cycles(graph) == [["a.x", "a.y"]]


def _all_modules() -> list[Path]:
    """Every Python module of the package, the tests and the benchmark scripts."""
    found = [*PACKAGE.rglob("*.py")]
    for top in ("tests", "scripts"):
        found += [p for p in (ROOT / top).rglob("*.py") if ".venv" not in p.parts]
    return sorted(found)


@pytest.mark.parametrize("path", _all_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_over_400_lines(path: Path) -> None:
    assert len(path.read_text().splitlines()) <= 400


def test_at_most_eight_modules_directly_under_the_package() -> None:
    assert len(list(PACKAGE.glob("*.py"))) <= 8


def _public_async_functions() -> list[tuple[str, str, str]]:
    """(module path, name, docstring) of every public async def at module or class level."""
    import ast

    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        scopes = [tree] + [n for n in tree.body if isinstance(n, ast.ClassDef)]
        for scope in scopes:
            for node in scope.body:
                if isinstance(node, ast.AsyncFunctionDef) and not node.name.startswith("_"):
                    rel = str(path.relative_to(PACKAGE))
                    out.append((rel, node.name, ast.get_docstring(node) or ""))
    return out


def test_every_public_async_function_states_its_cancellation() -> None:
    functions = _public_async_functions()
    assert len(functions) > 10  # the walk found the API
    missing = [f"{path}:{name}" for path, name, doc in functions if "**Cancellation:**" not in doc]
    assert missing == []
