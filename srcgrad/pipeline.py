"""The whole compiler, in order. Each stage is a module of its own.

    capture -> fence -> normalize -> types -> analyze -> reverse -> emit -> compile

``front`` runs the first two when a function is wrapped (so bad syntax fails
before anything is compiled); ``build`` runs the rest once per argument-type
signature. Set ``SRCGRAD_PRINT_AFTER=normalize,reverse`` (any stage names) to
print the source or the result after those stages.
"""

from __future__ import annotations

import ast
import os
import sys
from dataclasses import dataclass

from . import __version__
from .analyze import analyze, check_aliasing, check_calls
from .capture import Captured, capture
from .emit import Emitted, emit_function
from .errors import SrcgradError
from .fence import fence
from .infer import check_output, infer_types
from .jit import compiled
from .nested import normalize_nested
from .normalize import split_rebound
from .reverse import reverse

STAGES = ("capture", "fence", "normalize", "types", "analyze", "reverse", "forward", "emit",
          "compile")


class InternalError(SrcgradError):
    """A bug in srcgrad itself; the message names the stage that failed."""


def _print_after(stage: str) -> bool:
    wanted = os.environ.get("SRCGRAD_PRINT_AFTER", "")
    return stage in {s.strip() for s in wanted.split(",")} or wanted.strip() == "all"


def run_stage(stage: str, func, *args):
    try:
        return func(*args)
    except SrcgradError:
        raise
    except Exception as exc:  # noqa: BLE001 - report which stage broke
        raise InternalError(f"srcgrad failed in stage '{stage}': {type(exc).__name__}: "
                            f"{exc}. This is a bug in srcgrad; please report it with the "
                            "function that triggered it.") from exc


def front(fn) -> Captured:
    cap = run_stage("capture", capture, fn)
    return run_stage("fence", fence, cap)


@dataclass
class Built:
    """One specialization: generated source and the callables compiled from it."""

    source: str
    linemap: list[int | None]
    func_name: str
    fn: object
    normalized: str
    active: set[str]
    primal_name: str = ""
    primal: object = None
    tapes: str = ""  # the tape buffers fn takes after _seed: a subset of "fib", in order


@dataclass
class Generated:
    source: str
    linemap: list[int | None]
    func_name: str
    normalized: str
    active: set[str]
    primal_name: str
    tapes: str = ""


def generate(cap: Captured, arg_types: tuple, wrt: list[str], mode: str = "grad"
             ) -> Generated:
    """Stages normalize..emit: the adjoint module's source for these argument types.
    mode "vjp" allows array outputs and adds the primal function to the module."""
    norm = run_stage("normalize", normalize_nested, cap, arg_types)
    try:
        typed = run_stage("types", infer_types, norm, cap, arg_types)
        if typed.rebound:  # x = x.sum(): one variable per binding, typed again
            norm = run_stage("normalize", split_rebound, norm, typed.rebound)
            typed = run_stage("types", infer_types, norm, cap, arg_types)
    finally:  # the normalized source is shown even when typing fails
        normalized = emit_function(norm.tree, cap.line_text).text
        if _print_after("normalize"):
            print(normalized, file=sys.stderr)
    check_output(typed, cap, "vjp" if mode == "jvp" else mode)
    if _print_after("types"):
        print({k: str(v) for k, v in sorted(typed.types.items())}, file=sys.stderr)
    ret = norm.tree.body[-1].value
    parts = ret.elts if isinstance(ret, ast.Tuple) else [ret]
    output = [p.id for p in parts if isinstance(p, ast.Name)]
    run_stage("analyze", check_aliasing, norm.tree, typed, cap)
    ana = run_stage("analyze", analyze, norm.tree, typed, wrt, output)
    run_stage("analyze", check_calls, norm.tree, typed, ana, cap)
    if _print_after("analyze"):
        print(f"active: {sorted(ana.active)}", file=sys.stderr)
    if mode == "jvp":
        from .forward import forward
        fn, helpers_np = run_stage("forward", forward, norm, cap, typed, ana, wrt)
        emitted = run_stage("emit", emit_module, cap, fn, (set(), helpers_np), wrt, None)
        if _print_after("forward") or _print_after("emit"):
            print(emitted.text, file=sys.stderr)
        return Generated(emitted.text, emitted.linemap, fn.name, normalized, ana.active, "")
    primal = norm.tree if mode == "vjp" else None
    if primal is not None:
        import copy
        primal = copy.deepcopy(norm.tree)
        primal.name = f"{cap.name}_primal"
    fn, helpers, _ = run_stage("reverse", reverse, norm, cap, typed, ana, wrt)
    emitted = run_stage("emit", emit_module, cap, fn, helpers, wrt, primal)
    if _print_after("reverse") or _print_after("emit"):
        print(emitted.text, file=sys.stderr)
    params = [a.arg for a in fn.args.args]
    tapes = "".join(name[2] for name in params[params.index("_seed") + 1:])
    return Generated(emitted.text, emitted.linemap, fn.name, normalized, ana.active,
                     primal.name if primal is not None else "", tapes)


def build(cap: Captured, arg_types: tuple, wrt: list[str], jit: bool,
          mode: str = "grad") -> Built:
    gen = generate(cap, arg_types, wrt, mode)
    arrays = array_constants(cap)
    fn = run_stage("compile", compiled, cap.name, gen.source, gen.func_name, jit, arrays)
    primal = None
    if gen.primal_name:
        primal = run_stage("compile", compiled, cap.name, gen.source, gen.primal_name, jit,
                           arrays)
    return Built(source=gen.source, linemap=gen.linemap, func_name=gen.func_name, fn=fn,
                 normalized=gen.normalized, active=gen.active, primal_name=gen.primal_name,
                 primal=primal, tapes=gen.tapes)


_RUNTIME_HASH: list[str] = []


def runtime_hash() -> str:
    """A hash of the runtime modules generated code calls. It is written into every
    generated module, so that Numba's disk cache (keyed on the module file) is never
    reused after those modules change."""
    if not _RUNTIME_HASH:
        import hashlib
        from pathlib import Path
        here = Path(__file__).parent
        digest = hashlib.sha256()
        for name in ("runtime.py", "runtime_np.py", "np_ops.py", "special.py"):
            path = here / name
            if path.exists():
                digest.update(path.read_bytes())
        _RUNTIME_HASH.append(digest.hexdigest()[:16])
    return _RUNTIME_HASH[0]


def array_constants(cap: Captured) -> dict:
    """Global arrays the function reads: set on the generated module when it loads."""
    import numpy as np
    return {k: v for k, v in cap.constants.items()
            if isinstance(v, np.ndarray) or callable(v)}


def emit_module(cap: Captured, fn, helpers, wrt: list[str], primal=None) -> Emitted:
    out = Emitted()
    if fn.name.endswith("_jvp"):
        doc = (f'"""Tangent (forward mode) of {cap.name} ({cap.filename}:{cap.tree.lineno}) '
               f'along {", ".join(wrt)}.\n\n'
               f"Generated by srcgrad {__version__} (runtime {runtime_hash()}); Numba compiles "
               "exactly this text.\n"
               f"{fn.name}(..., {', '.join('d_' + w for w in wrt)}) returns (value, tangent). "
               "d_v is the\ntangent of v: its derivative along the input tangents.\n"
               '"""')
    else:
        doc = None
    doc = doc or (f'"""Adjoint of {cap.name} ({cap.filename}:{cap.tree.lineno}) with respect to '
           f'{", ".join(wrt)}.\n\n'
           f"Generated by srcgrad {__version__} (runtime {runtime_hash()}); Numba compiles "
           "exactly this text.\n"
           f"{fn.name}(..., _seed, tapes) returns (value, gradients, tape bytes,\n"
           "tape tops). It runs the forward sweep, then the reverse sweep. b_v is the\n"
           "adjoint of v. A tape is a buffer and its top: _tf/_nf floats, _ti/_ni\n"
           "integers, _tb/_nb booleans. If a top passed its buffer's end, the function\n"
           "returns before the reverse sweep (tape bytes -1) and the caller retries\n"
           "with more room.\n"
           '"""')
    for line in doc.splitlines():
        out.add(line)
    import ast as _ast
    used = {n.id for n in _ast.walk(fn) if isinstance(n, _ast.Name)}
    for helper in getattr(fn, "outlined", ()):
        used |= {n.id for n in _ast.walk(helper) if isinstance(n, _ast.Name)}
    if primal is not None:
        used |= {n.id for n in _ast.walk(primal) if isinstance(n, _ast.Name)}
    imports = [line for module, line in (("math", "import math"),
                                         ("np", "import numpy as np"),
                                         ("srcgrad", "import srcgrad")) if module in used]
    for line in imports:
        out.add(line)
    runtime, runtime_np = helpers
    for module in ("np_ops", "special"):
        if module in used:
            out.add(f"from srcgrad import {module}")
    if runtime:
        out.add(f"from srcgrad.runtime import {', '.join(sorted(runtime))}")
    if runtime_np:
        out.add(f"from srcgrad.runtime_np import {', '.join(sorted(runtime_np))}")
    if cap.constants:
        import hashlib

        import numpy as np
        out.add("")
        for name in sorted(cap.constants):
            value = cap.constants[name]
            if isinstance(value, np.ndarray):
                digest = hashlib.sha256(np.ascontiguousarray(value).tobytes()).hexdigest()[:16]
                out.add(f"# {name}: the {value.dtype} array of shape {value.shape} from "
                        f"{cap.name}'s module (content sha256 {digest}), set on import")
            elif callable(value):
                custom = cap.customs.get(name) or cap.customs.get(name[:-len("_vjp")])
                what = "its rule" if name not in cap.customs else f"srcgrad.{custom.kind}"
                out.add(f"# {name}: {what}, {custom.fn.__module__}.{custom.fn.__qualname__} "
                        f"(source sha256 {custom.source_hash()}), set on import")
            else:
                out.add(f"{name} = {value!r}")
    out.add("")
    out.add("")
    if primal is not None:
        out.extend(emit_function(primal, cap.line_text))
        out.add("")
        out.add("")
    for helper in getattr(fn, "outlined", ()):
        out.extend(emit_function(helper, cap.line_text))
        out.add("")
        out.add("")
    out.extend(emit_function(fn, cap.line_text))
    return out
