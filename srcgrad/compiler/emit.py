"""Stage 8, emit: core-language AST to readable, deterministic Python source.

Statements carry the user's line number (``srcline``); the emitter writes a
comment quoting that line whenever it changes (``# line 14: y = sin(x) * w``)
and records, for every generated line, the user line it came from, so an
error inside generated code can be reported at the user's line.
"""

from __future__ import annotations

import ast
import copy
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._version import __version__
from .core import RUNTIME_MODULES, Loc


@dataclass
class Emitted:
    """Generated lines and, for each, the user's line it came from (or None)."""

    lines: list[str] = field(default_factory=list)
    linemap: list[int | None] = field(default_factory=list)

    def add(self, text: str, srcline: int | None = None) -> None:
        self.lines.append(text)
        self.linemap.append(srcline)

    def extend(self, other: Emitted) -> None:
        self.lines += other.lines
        self.linemap += other.linemap

    @property
    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


class _NegativeConstants(ast.NodeTransformer):
    """Write -2.0 as a unary minus so that unparse parenthesizes (-2.0) ** 2."""

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        value = node.value
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
            return ast.UnaryOp(ast.USub(), ast.Constant(-value))
        return node


def unparse(node: ast.AST) -> str:
    node = _NegativeConstants().visit(copy.deepcopy(node))
    return ast.unparse(ast.fix_missing_locations(node))


class Emitter:
    def __init__(self, line_text: Callable[[int], str] | None = None,
                 indent: str = "    ") -> None:
        self.line_text = line_text
        self.indent = indent
        self.out = Emitted()
        self._last: int | None = None

    def comment(self, srcline: int | None, depth: int) -> None:
        if srcline is None or srcline == self._last or self.line_text is None:
            return
        self._last = srcline
        if isinstance(srcline, Loc):  # inlined from another function
            where = f"{srcline.func}, {os.path.basename(srcline.file)} line {int(srcline)}"
            self.out.add(f"{self.indent * depth}# {where}: {srcline.text}".rstrip(), srcline)
            return
        text = self.line_text(srcline)
        self.out.add(f"{self.indent * depth}# line {srcline}: {text}".rstrip(), srcline)

    def function(self, fn: ast.FunctionDef, depth: int = 0, docstring: str = "") -> None:
        args = ", ".join(a.arg for a in fn.args.args)
        self.out.add(f"{self.indent * depth}def {fn.name}({args}):", None)
        if docstring:
            self.out.add(f'{self.indent * (depth + 1)}"""{docstring}"""', None)
        self._last = None
        self.block(fn.body, depth + 1)

    def block(self, body: list[ast.stmt], depth: int) -> None:
        if not body:
            self.out.add(f"{self.indent * depth}pass", None)
            return
        for stmt in body:
            self.stmt(stmt, depth)

    def stmt(self, stmt: ast.stmt, depth: int) -> None:
        pad = self.indent * depth
        line = getattr(stmt, "srcline", None)
        self.comment(line, depth)
        if isinstance(stmt, ast.If):
            self.out.add(f"{pad}if {unparse(stmt.test)}:", line)
            self.block(stmt.body, depth + 1)
            if stmt.orelse:
                self.out.add(f"{pad}else:", line)
                self.block(stmt.orelse, depth + 1)
        elif isinstance(stmt, ast.For):
            self.out.add(f"{pad}for {unparse(stmt.target)} in {unparse(stmt.iter)}:", line)
            self.block(stmt.body, depth + 1)
        elif isinstance(stmt, ast.While):
            self.out.add(f"{pad}while {unparse(stmt.test)}:", line)
            self.block(stmt.body, depth + 1)
        else:
            self.out.add(pad + unparse(stmt), line)


def emit_function(fn: ast.FunctionDef, line_text: Callable[[int], str] | None = None,
                  docstring: str = "") -> Emitted:
    emitter = Emitter(line_text)
    emitter.function(fn, docstring=docstring)
    return emitter.out


# ----------------------------------------------------------------- modules

_RUNTIME_HASH: list[str] = []


def runtime_hash() -> str:
    """A hash of the runtime modules generated code calls. It is written into every
    generated module, so that Numba's disk cache (keyed on the module file) is never
    reused after those modules change."""
    if not _RUNTIME_HASH:
        folder = Path(__file__).parent.parent / "runtime"
        digest = hashlib.sha256()
        for path in sorted(folder.glob("*.py")):
            digest.update(path.read_bytes())
        _RUNTIME_HASH.append(digest.hexdigest()[:16])
    return _RUNTIME_HASH[0]


def injected_globals(constants: dict) -> dict:
    """The globals of a generated module that its text cannot spell (arrays, and the
    functions and rules of custom_vjp functions): set on the module when it loads."""
    return {k: v for k, v in constants.items() if isinstance(v, np.ndarray) or callable(v)}


def emit_module(cap, constants: dict, customs: dict, functions: list[ast.FunctionDef],
                runtime: set[str], wrt: list[str]) -> Emitted:
    """The text of a generated module: a docstring saying what it is, its imports (the
    modules and runtime names `functions` use), the function's constants, then the
    functions (the last one is the adjoint or tangent; those before it it calls or
    sits beside: a primal, fused iterations' adjoints)."""
    out = Emitted()
    fn = functions[-1]
    if fn.name.endswith("_jvp"):
        doc = (f'"""Tangent (forward mode) of {cap.name} ({cap.filename}:{cap.tree.lineno}) '
               f'along {", ".join(wrt)}.\n\n'
               f"Generated by srcgrad {__version__} (runtime {runtime_hash()}); Numba compiles "
               "exactly this text.\n"
               f"{fn.name}(..., {', '.join('d_' + w for w in wrt)}) returns (value, tangent). "
               "d_v is the\ntangent of v: its derivative along the input tangents.\n"
               '"""')
    else:
        doc = (f'"""Adjoint of {cap.name} ({cap.filename}:{cap.tree.lineno}) with respect to '
               f'{", ".join(wrt)}.\n\n'
               f"Generated by srcgrad {__version__} (runtime {runtime_hash()}); Numba compiles "
               "exactly this text.\n"
               f"{fn.name}(..., _seed, tapes) returns (value, gradients, tape bytes,\n"
               "tape tops). It runs the forward sweep, then the reverse sweep. b_v is the\n"
               "adjoint of v. A tape is a buffer and its top: _tf/_nf floats, _ti/_ni\n"
               "integers, _tb/_nb booleans. If a top passed its buffer's end, the function\n"
               "returns before the reverse sweep (tape bytes -1) and the caller retries\n"
               "with more room.\n"
               + ("Checkpointed (tape_limit): a top-level loop stores its state in slots\n"
                  "(_cf/_ci rows, _ca lists) where the schedule says; the reverse sweep asks\n"
                  "ck_next what to do: restore a slot, run forward, store, or run a unit\n"
                  "taped and reverse it. _ckp carries the limit in and the counts out.\n"
                  if fn.args.args and fn.args.args[-1].arg == "_ckp" else "")
               + '"""')
    for line in doc.splitlines():
        out.add(line)
    used = {n.id for f in functions for n in ast.walk(f) if isinstance(n, ast.Name)}
    for module, line in (("math", "import math"), ("np", "import numpy as np"),
                         # what generated code calls as srcgrad.<name> (stop_gradient,
                         # broadcast_like, the slopes of tangents) lives in the runtime
                         ("srcgrad", "import srcgrad.runtime as srcgrad")):
        if module in used:
            out.add(line)
    modules = sorted(m for m in RUNTIME_MODULES if m in used)
    if modules:
        out.add(f"from srcgrad.runtime import {', '.join(modules)}")
    if runtime:
        out.add(f"from srcgrad.runtime import {', '.join(sorted(runtime))}")
    if constants:
        out.add("")
        for name in sorted(constants):
            value = constants[name]
            if isinstance(value, np.ndarray):
                digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
                out.add(f"# {name}: the {value.dtype} array of shape {value.shape} from "
                        f"{cap.name}'s module (content sha256 {digest}), set on import")
            elif callable(value):
                custom = customs.get(name) or customs.get(name[:-len("_vjp")])
                what = "its rule" if name not in customs else f"srcgrad.{custom.kind}"
                out.add(f"# {name}: {what}, {custom.fn.__module__}.{custom.fn.__qualname__} "
                        f"(source sha256 {custom.source_hash()}), set on import")
            else:
                out.add(f"{name} = {value!r}")
    out.add("")
    out.add("")
    for k, function in enumerate(functions):
        out.extend(emit_function(function, cap.line_text))
        if k < len(functions) - 1:
            out.add("")
            out.add("")
    return out
