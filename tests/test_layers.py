"""The package's three layers, read from its imports (ast, not by running anything).

    srcgrad/            the face: what users call (grad, vjp, jvp, hessian, custom_vjp,
                        check_grad, the CLI), the derivative objects, the errors
    srcgrad/compiler/   the stages, in order, with pipeline.py as the recipe
    srcgrad/runtime/    what generated code imports: tape, array adjoints, NumPy and
                        scipy.special functions

Each layer imports only the layers below it: the runtime nothing of srcgrad's, the
compiler the runtime (and the face's errors and version, which import nothing), the face
both. No module imports another module's underscore names, and no import cycle runs
between modules (a package's ``__init__`` that only gathers names is not a module of a
cycle: importing ``srcgrad.compiler.x`` imports ``srcgrad/__init__.py`` first by Python's
rules, not by srcgrad's design).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "srcgrad"
# face modules the lower layers may import: they import nothing of srcgrad themselves
LEAVES = {"srcgrad.errors", "srcgrad._version"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_package(name: str) -> bool:
    return MODULES[name].name == "__init__.py"


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> list[tuple[str, list[str]]]:
    """(imported srcgrad module, names taken from it) for every import in `module`, at
    any depth (lazy imports inside functions count)."""
    tree = ast.parse(MODULES[module].read_text())
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(a.name, []) for a in node.names if a.name.split(".")[0] == "srcgrad"]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            if target.split(".")[0] != "srcgrad":
                continue
            names = [a.name for a in node.names]
            submodules = [n for n in names if f"{target}.{n}" in MODULES]
            for n in submodules:   # from . import runtime: the module srcgrad.runtime
                out.append((f"{target}.{n}", []))
            others = [n for n in names if n not in submodules]
            if others or not submodules:
                out.append((target, others))
    return out


def layer(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in ("compiler", "runtime"):
        return parts[1]
    return "face"


ORDER = {"runtime": 0, "compiler": 1, "face": 2}


def test_modules_found():
    assert {"srcgrad.api", "srcgrad.compiler.pipeline", "srcgrad.runtime.tape"} <= set(MODULES)


def test_runtime_imports_nothing_of_the_rest():
    bad = [(m, t) for m in MODULES if layer(m) == "runtime"
           for t, _ in imports(m) if layer(t) != "runtime"]
    assert not bad, bad


def test_compiler_never_imports_the_face():
    bad = [(m, t) for m in MODULES if layer(m) == "compiler"
           for t, _ in imports(m) if layer(t) == "face" and t not in LEAVES]
    assert not bad, bad


def test_leaves_import_nothing():
    assert not [(m, t) for m in LEAVES for t, _ in imports(m)]


def test_each_layer_imports_only_below_it():
    bad = [(m, t) for m in MODULES for t, _ in imports(m)
           if t not in LEAVES and ORDER[layer(t)] > ORDER[layer(m)]]
    assert not bad, bad


def test_no_underscore_names_across_modules():
    bad = [(m, t, n) for m in MODULES for t, names in imports(m) if t != m
           for n in names if n.startswith("_") and not n.startswith("__")]
    assert not bad, bad


def _graph() -> dict[str, set[str]]:
    """module -> the modules it imports (packages' gathering __init__ files left out)."""
    graph = {m: set() for m in MODULES if not _is_package(m)}
    for m in graph:
        for t, _ in imports(m):
            if t in graph and t != m:
                graph[m].add(t)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
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

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    assert cycles(_graph()) == []


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("package", ["srcgrad.compiler", "srcgrad.runtime"])
def test_packages_have_a_docstring(package):
    assert ast.get_docstring(ast.parse(MODULES[package].read_text()))


def test_every_package_is_installed():
    """A regular (non-editable) install ships each package directory: pyproject lists them all."""
    import tomllib

    root = Path(__file__).resolve().parents[1]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(root).parts) for p in (root / "srcgrad").rglob("__init__.py")}
    assert found == listed
