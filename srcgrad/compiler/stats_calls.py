"""Part of stage 3, normalize: calls of NumPy's statistics functions, written as the
functions of ``runtime/stats.py`` with every argument by position.

``normalize.ANF._emit_call`` asks ``lower_call`` for each call; a function of ``LOWERED``
comes back as an expression to compute instead (``np.var(x, axis=1, ddof=1)`` ->
``stats.var_axis(x, 1, 1, False)``), which the normalizer then lowers like any other.
Why: Numba's versions take no ``axis``, ``ddof`` or ``keepdims``, and the derivative rules
need each argument at a known position. A reduction over the whole array becomes one
along axis 0 of ``stats.ravel(x)`` (and ``stats.keep_all`` for ``keepdims=True``), so no
call ever holds ``axis=None``: tangent code, differentiated again for second derivatives,
may not hold None. An argument the rules do not cover is refused here, at the user's line.
"""

from __future__ import annotations

import ast
import copy
from typing import Callable

from .core import const, name_node

# NumPy's parameters, in its positional order, of the reductions written as
# stats.<name>_axis(x, [q,] axis, [ddof,] keepdims)
_REDUCTIONS = {
    "np.var": ("a", "axis", "dtype", "out", "ddof", "keepdims"),
    "np.std": ("a", "axis", "dtype", "out", "ddof", "keepdims"),
    "np.nanvar": ("a", "axis", "dtype", "out", "ddof", "keepdims"),
    "np.nanstd": ("a", "axis", "dtype", "out", "ddof", "keepdims"),
    "np.nansum": ("a", "axis", "dtype", "out", "keepdims", "initial", "where"),
    "np.nanprod": ("a", "axis", "dtype", "out", "keepdims", "initial", "where"),
    "np.nanmean": ("a", "axis", "dtype", "out", "keepdims"),
    "np.nanmax": ("a", "axis", "out", "keepdims", "initial", "where"),
    "np.nanmin": ("a", "axis", "out", "keepdims", "initial", "where"),
    "np.ptp": ("a", "axis", "out", "keepdims"),
    "np.median": ("a", "axis", "out", "overwrite_input", "keepdims"),
    "np.nanmedian": ("a", "axis", "out", "overwrite_input", "keepdims"),
    "np.quantile": ("a", "q", "axis", "out", "overwrite_input", "method", "keepdims"),
    "np.percentile": ("a", "q", "axis", "out", "overwrite_input", "method", "keepdims"),
    "np.nanquantile": ("a", "q", "axis", "out", "overwrite_input", "method", "keepdims"),
    "np.nanpercentile": ("a", "q", "axis", "out", "overwrite_input", "method", "keepdims"),
}
# arguments that change nothing srcgrad computes (NumPy may then overwrite its input)
_IGNORED = {"overwrite_input"}

# Functions written as others that have rules: what each becomes (tests/test_registry.py
# counts them as functions with a rule).
LOWERED = {
    **{name: f"stats.{name[3:]}_axis" for name in _REDUCTIONS},
    "np.average": "np.mean, np_ops.mean_axis or stats.average (with weights)",
    "np.trapezoid": "stats.trapezoid_dx or stats.trapezoid_x",
    "np.cov": "stats.cov of the variables by rows",
    "np.corrcoef": "stats.cov of the standardized variables",
    "np.histogram": "its parts stats.histogram_counts and stats.histogram_edges",
}
# np.histogram returns (counts, edges): normalize.TUPLE_PARTS writes it as these parts
TUPLE_PARTS = {"np.histogram": ("stats.histogram_counts", "stats.histogram_edges")}

Error = Callable[..., Exception]


def lower_call(fname: str, call: ast.Call, error: Error) -> ast.expr | None:
    """The expression to compute instead of `call` (a call of the canonical function
    `fname`), or None to keep the call as it is."""
    if fname in _REDUCTIONS:
        return _reduction(fname, call, error)
    lower = _LOWER.get(fname)
    return None if lower is None else lower(fname, call, error)


def _bind(fname: str, call: ast.Call, params: tuple, taken: set, error: Error) -> dict:
    """NumPy's parameters bound to the call's arguments (positional by NumPy's order,
    keywords by name); any outside `taken` is refused."""
    if len(call.args) > len(params):
        raise error(call, f"too many arguments to {fname}")
    values = dict(zip(params, call.args))
    for k in call.keywords:
        if k.arg is None or k.arg in values:
            raise error(call, f"{fname}: argument '{k.arg}' given twice or unpacked")
        values[k.arg] = k.value
    for name in values:
        if name not in taken and name not in _IGNORED:
            raise error(call, f"{fname}(..., {name}=...) is not supported",
                        hint="srcgrad's derivative rules take only "
                             + ", ".join(p for p in params if p in taken))
    return values


def _flag(fname: str, values: dict, name: str, default: bool, error: Error, call) -> bool:
    """A bool argument that must be a constant (it decides the result's shape)."""
    node = values.get(name)
    if node is None:
        return default
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    raise error(call, f"{fname}: {name} must be the constant True or False")


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    return ast.copy_location(ast.Call(name_node(name), args, []), like)


def _whole(func: str, data: list[ast.expr], middle: list[ast.expr], values: dict,
           keep: bool, tail: list[ast.expr], call: ast.Call) -> ast.expr:
    """func(data..., middle..., axis, tail..., keepdims): along the given axis, or along
    axis 0 of the raveled data (then shaped (1, ..., 1) for keepdims)."""
    if "axis" in values:
        return _call(func, data + middle + [values["axis"]] + tail + [const(keep)], call)
    flat = [_call("stats.ravel", [d], call) for d in data]
    result = _call(func, flat + middle + [const(0)] + tail + [const(False)], call)
    return _call("stats.keep_all", [result, copy.deepcopy(data[0])], call) if keep else result


def _reduction(fname: str, call: ast.Call, error: Error) -> ast.expr:
    params = _REDUCTIONS[fname]
    taken = {"a", "q", "axis", "ddof", "keepdims"} & set(params)
    values = _bind(fname, call, params, taken, error)
    for name in ("a", "q"):
        if name in params and name not in values:
            raise error(call, f"{fname}: argument '{name}' is missing")
    keep = _flag(fname, values, "keepdims", False, error, call)
    middle = [values["q"]] if "q" in params else []
    tail = [values.get("ddof", const(0))] if "ddof" in params else []
    return _whole(f"stats.{fname[3:]}_axis", [values["a"]], middle, values, keep, tail, call)


def _average(fname: str, call: ast.Call, error: Error) -> ast.expr:
    values = _bind(fname, call, ("a", "axis", "weights", "returned", "keepdims"),
                   {"a", "axis", "weights", "returned", "keepdims"}, error)
    if _flag(fname, values, "returned", False, error, call):
        raise error(call, "np.average(..., returned=True) is not supported",
                    hint="compute the sum of the weights with np.sum")
    keep = _flag(fname, values, "keepdims", False, error, call)
    a = values["a"]
    if "weights" in values:
        return _whole("stats.average", [a, values["weights"]], [], values, keep, [], call)
    if "axis" in values:
        return _call("np_ops.mean_axis", [a, values["axis"], const(keep)], call)
    mean = _call("np.mean", [a], call)
    return _call("stats.keep_all", [mean, copy.deepcopy(a)], call) if keep else mean


def _trapezoid(fname: str, call: ast.Call, error: Error) -> ast.expr:
    values = _bind(fname, call, ("y", "x", "dx", "axis"), {"y", "x", "dx", "axis"}, error)
    axis = values.get("axis", const(-1))
    if "x" in values:
        return _call("stats.trapezoid_x", [values["y"], values["x"], axis], call)
    return _call("stats.trapezoid_dx", [values["y"], values.get("dx", const(1.0)), axis], call)


def _variables(values: dict, first: str) -> ast.expr:
    """np.cov's variables as the rows of one array."""
    m = values[first]
    rowvar = values.get("rowvar", const(True))
    if "y" in values:
        return _call("stats.cov_stack", [m, values["y"], rowvar], m)
    if "rowvar" in values:
        return _call("stats.variables", [m, rowvar], m)
    return m


def _cov(fname: str, call: ast.Call, error: Error) -> ast.expr:
    values = _bind(fname, call, ("m", "y", "rowvar", "bias", "ddof"),
                   {"m", "y", "rowvar", "bias", "ddof"}, error)
    ddof = values.get("ddof")
    if ddof is None:
        ddof = const(0 if _flag(fname, values, "bias", False, error, call) else 1)
    return _call("stats.cov", [_variables(values, "m"), ddof], call)


def _corrcoef(fname: str, call: ast.Call, error: Error) -> ast.expr:
    values = _bind(fname, call, ("x", "y", "rowvar"), {"x", "y", "rowvar"}, error)
    rows = _call("stats.standardize", [_variables(values, "x")], call)
    return _call("stats.cov", [rows, const(1)], call)


def _arange(fname: str, call: ast.Call, error: Error) -> ast.expr | None:
    """np.arange(stop) as np.arange(0, stop): its rules take start first."""
    if len(call.args) == 1 and not any(k.arg in ("start", "stop", "step") for k in call.keywords):
        return ast.copy_location(ast.Call(call.func, [const(0), call.args[0]], call.keywords), call)
    return None


def _nan_to_num(fname: str, call: ast.Call, error: Error) -> None:
    values = _bind(fname, call, ("x", "copy", "nan", "posinf", "neginf"),
                   {"x", "copy", "nan", "posinf", "neginf"}, error)
    if not _flag(fname, values, "copy", True, error, call):
        raise error(call, "np.nan_to_num(..., copy=False) is not supported",
                    hint="assign the result: x = np.nan_to_num(x)")
    return None


def _histogram_edges(fname: str, call: ast.Call, error: Error) -> ast.expr | None:
    """The edges of np.histogram(a, bins, range=(lo, hi)): stats.histogram_edges_range."""
    values = _bind("np.histogram", call, ("a", "bins", "range"), {"a", "bins", "range"}, error)
    if "range" not in values:
        return None
    span = values["range"]
    if not (isinstance(span, ast.Tuple) and len(span.elts) == 2):
        raise error(call, "np.histogram: range must be written as a pair (lo, hi)")
    args = [values["a"], values.get("bins", const(10)), *span.elts]
    return _call("stats.histogram_edges_range", args, call)


_LOWER = {
    "np.average": _average,
    "np.trapezoid": _trapezoid,
    "np.cov": _cov,
    "np.corrcoef": _corrcoef,
    "np.arange": _arange,
    "np.nan_to_num": _nan_to_num,
    "stats.histogram_edges": _histogram_edges,
}
