"""The whole compiler, in order. Each stage is a module of its own.

    capture -> fence -> normalize -> types -> scalarize -> analyze -> reverse | forward -> emit -> compile

``front`` runs the first two when a function is wrapped (so bad syntax fails
before anything is compiled); ``generate`` runs normalize..emit for one
argument-type signature, and ``build`` compiles what it generates. Set
``SRCGRAD_PRINT_AFTER=normalize,reverse`` (any stage names, or ``all``) to print
the source or the result after those stages.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import os
import sys
from dataclasses import dataclass

from numba.core import types as nbtypes

from ..errors import InternalError, SrcgradError
from . import cache
from .analyze import analyze, check_aliasing, check_calls
from .capture import Captured, capture
from .emit import emit_function, emit_module, injected_globals
from .fence import fence
from .forward import forward
from .infer import check_output, infer_types
from .jit import compiled
from .nested import TangentSource, normalize_nested
from .normalize import split_rebound
from .reverse import reverse
from .scalarize import enabled as scalarize_enabled
from .scalarize import scalarize
from .rules import TEMPLATES_USED, noting_templates

STAGES = ("capture", "fence", "normalize", "types", "scalarize", "analyze", "reverse", "forward", "emit",
          "compile")


def _print_after(stage: str) -> bool:
    wanted = os.environ.get("SRCGRAD_PRINT_AFTER", "")
    return stage in {s.strip() for s in wanted.split(",")} or wanted.strip() == "all"


def run_stage(stage: str, func, *args):
    """`func(*args)`; an unexpected exception becomes an InternalError naming the stage."""
    try:
        return func(*args)
    except SrcgradError:
        raise
    except Exception as exc:  # noqa: BLE001 - report which stage broke
        raise InternalError(f"srcgrad failed in stage '{stage}': {type(exc).__name__}: "
                            f"{exc}. This is a bug in srcgrad; please report it with the "
                            "function that triggered it.") from exc


def front(fn) -> Captured:
    """Stages capture and fence: the function parsed, its names resolved, checked."""
    cap = run_stage("capture", capture, fn)
    return run_stage("fence", fence, cap)


@dataclass
class Generated:
    """A generated module's source for one argument-type signature."""

    source: str
    linemap: list[int | None]
    func_name: str
    normalized: str
    active: set[str]
    primal_name: str
    tapes: str = ""  # the tape buffers the adjoint takes after _seed: a subset of "fib"
    injected: dict | None = None   # globals set on the module when it loads
    params: tuple = ()             # the generated function's parameters (leaves flat)
    output: object = None          # a returned container's structure (containers.py)
    arg_types: tuple = ()          # the types of `params`
    wrt: tuple = ()                # the differentiated parameters among `params`
    templates: frozenset = frozenset()   # the rule templates it applied (rules.TEMPLATES_USED)


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
    tapes: str = ""
    params: tuple = ()
    output: object = None
    checkpointed: bool = False   # the adjoint takes the checkpoint array _ckp last


def generate(cap: Captured, arg_types: tuple, wrt: list[str], mode: str = "grad",
             tangents: TangentSource | None = None, checkpoint: bool = False) -> Generated:
    """Stages normalize..emit: the module's source for these argument types. mode "grad"
    (an adjoint), "vjp" (array outputs allowed; the primal function is in the module too)
    or "jvp" (the tangent function). `tangents` gives tangent code for derivatives the
    function calls (nested.py). `checkpoint`: the adjoint runs its top-level loops
    checkpointed (tape_limit; checkpoint.py) and takes the array `_ckp` last."""
    norm = run_stage("normalize", normalize_nested, cap, arg_types, tangents)
    key = None
    if not os.environ.get("SRCGRAD_PRINT_AFTER"):   # a hit would print no stage
        key = cache.key_for(emit_function(norm.tree, cap.line_text).text, cap.filename,
                            norm.constants, norm.customs, arg_types, wrt,
                            mode + ("+checkpoint" if checkpoint else "")
                            + ("" if scalarize_enabled() else "+unscalarized"))
        hit = cache.load(key)
        if isinstance(hit, Generated):
            hit.injected = injected_globals(norm.constants)
            TEMPLATES_USED.update(hit.templates)   # as if generated again: the template tests
            return hit
    with noting_templates() as noted:
        gen = _generate(cap, norm, arg_types, wrt, mode, checkpoint)
    gen.templates = frozenset(noted)
    cache.store(key, dataclasses.replace(gen, injected=None))
    return gen


def _generate(cap: Captured, norm, arg_types: tuple, wrt: list[str], mode: str,
              checkpoint: bool = False) -> Generated:
    """Stages types..emit of `generate`, on the normalized function `norm`."""
    if norm.leaves:   # container arguments: one parameter per leaf (containers.py)
        arg_types = norm.flat_types(arg_types, cap.params)
        wrt = norm.flat_wrt(wrt, arg_types)
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
    norm, typed = run_stage("scalarize", scalarize, norm, typed)
    if os.environ.get("SRCGRAD_CHECK_SCALARIZE"):   # its types against Numba's own
        again = infer_types(norm, cap, arg_types)
        def same(a, b) -> bool:
            if isinstance(a, nbtypes.Array) or isinstance(b, nbtypes.Array):
                return isinstance(a, nbtypes.Array) and isinstance(b, nbtypes.Array) \
                    and a.ndim == b.ndim and a.dtype == b.dtype
            return type(nbtypes.unliteral(a)) is type(nbtypes.unliteral(b))
        wrong = {k: (str(v), str(again.types[k])) for k, v in typed.types.items()
                 if k in again.types and not same(v, again.types[k])}
        if wrong:
            raise InternalError(f"scalarize typed {wrong} unlike Numba")
    if _print_after("scalarize"):
        print(emit_function(norm.tree, cap.line_text).text, file=sys.stderr)
    if _print_after("types"):
        print({k: str(v) for k, v in sorted(typed.types.items())}, file=sys.stderr)
    ret = norm.tree.body[-1].value
    output = [p.id for p in (ret.elts if isinstance(ret, ast.Tuple) else [ret])
              if isinstance(p, ast.Name)]
    run_stage("analyze", check_aliasing, norm.tree, typed, cap)
    ana = run_stage("analyze", analyze, norm.tree, typed, wrt, output)
    run_stage("analyze", check_calls, norm.tree, typed, ana, cap)
    if _print_after("analyze"):
        print(f"active: {sorted(ana.active)}", file=sys.stderr)
    if mode == "jvp":
        fn, runtime = run_stage("forward", forward, norm, cap, typed, ana, wrt)
        functions, tapes, primal_name = [fn], "", ""
    else:
        adjoint = run_stage("reverse", reverse, norm, cap, typed, ana, wrt, checkpoint)
        functions, runtime, tapes = adjoint.outlined + [adjoint.fn], adjoint.runtime, \
            adjoint.tapes
        primal_name = ""
        if mode == "vjp":
            primal = copy.deepcopy(norm.tree)
            primal.name = primal_name = f"{cap.name}_primal"
            functions = [primal] + functions
    emitted = run_stage("emit", emit_module, cap, norm.constants, norm.customs, functions,
                        runtime, wrt)
    if _print_after("reverse") or _print_after("forward") or _print_after("emit"):
        print(emitted.text, file=sys.stderr)
    return Generated(emitted.text, emitted.linemap, functions[-1].name, normalized,
                     ana.active, primal_name, tapes, injected_globals(norm.constants),
                     tuple(norm.params), norm.output, tuple(arg_types), tuple(wrt))


def build(cap: Captured, arg_types: tuple, wrt: list[str], jit: bool, mode: str = "grad",
          tangents: TangentSource | None = None, checkpoint: bool = False) -> Built:
    """`generate`, then stage compile: the module imported, its functions compiled."""
    gen = generate(cap, arg_types, wrt, mode, tangents, checkpoint)
    fn = run_stage("compile", compiled, cap.name, gen.source, gen.func_name, jit,
                   gen.injected)
    primal = None
    if gen.primal_name:
        primal = run_stage("compile", compiled, cap.name, gen.source, gen.primal_name, jit,
                           gen.injected)
    return Built(source=gen.source, linemap=gen.linemap, func_name=gen.func_name, fn=fn,
                 normalized=gen.normalized, active=gen.active, primal_name=gen.primal_name,
                 primal=primal, tapes=gen.tapes, params=gen.params, output=gen.output,
                 checkpointed=checkpoint)
