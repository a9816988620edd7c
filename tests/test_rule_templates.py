"""Every derivative rule template of the table, applied and checked against finite differences.

A *template unit* is one template of ``srcgrad/rules.py`` as
``(rule key, argument index, form, mode)`` (``srcgrad.compiler.rules.template_units()``):
form "scalar" or "array" (which template set the operation used), mode "rev" (an
adjoint contribution) or "fwd" (a tangent term). Generated code notes each unit it
applies in ``srcgrad.compiler.rules.TEMPLATES_USED``.

``CASES`` below holds small functions, each checked with ``srcgrad.check_grad`` in
reverse and in forward mode (uncompiled; a few also compiled). While a case's code
is generated, the units it applies are recorded, and ``test_every_template_is_applied``
asserts that the cases together apply every unit of the table, except the few in
``UNREACHABLE`` (which no Python program can reach, each with its reason; the
claims are demonstrated by ``test_unreachable_units_are_refused`` and, in the slow
tier, ``test_unreachable_units_are_bypassed``).

Run ``pytest -s tests/test_rule_templates.py -k every_template`` to see the numbers.
"""

from __future__ import annotations

import functools
import os
import textwrap
from dataclasses import dataclass, field

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler import rules
from srcgrad.compiler.rules import RULES
from srcgrad.compiler.tangent import TangentFunction

from .test_stats import STATS_RULES


# Keys this file leaves to others: scipy.special rules (and math.gamma / math.lgamma,
# which are being added with them) get their own test file; the statistics rules
# (STATS_RULES, the keys under "NumPy: statistics") are checked by tests/test_stats.py
# (test_every_stats_template_is_applied); user rules (custom_vjp, made by other tests of
# the session) are in rules.EXTERNAL_NAMES.
def _excluded(key: str) -> bool:
    return key.startswith("special.") or key in ("math.gamma", "math.lgamma") \
        or key in STATS_RULES or key in rules.EXTERNAL_NAMES


def _units() -> set[tuple[str, int, str, str]]:
    return {u for u in rules.template_units() if not _excluded(u[0])}


# --------------------------------------------------------------------------- the cases

# Weights of the user functions: fixed, of mixed signs, so no adjoint is uniform.
USER_SOURCE = '''
import math
import numpy as np
import srcgrad

W2 = np.array([1.1, -0.6])
W3 = np.array([0.7, -1.3, 0.4])
W5 = np.array([0.5, -1.1, 0.8, 1.7, -0.3])
W6 = np.array([0.9, -0.2, 1.4, -1.6, 0.35, 0.6])
W21 = np.array([[1.2], [-0.7]])
W22 = np.array([[0.8, -1.4], [0.3, 1.1]])
W23 = np.array([[0.7, -1.2, 0.4], [1.5, 0.3, -0.8]])
W24 = np.array([[0.6, -0.9, 1.3, 0.2], [-1.5, 0.4, 0.75, -0.35]])
W32 = np.array([[1.3, -0.4], [0.6, 0.9], [-1.1, 0.5]])
W33 = np.array([[0.5, -1.2, 0.9], [1.4, 0.2, -0.6], [-0.3, 0.8, 1.1]])
W43 = np.array([[0.5, -1.2, 0.9], [1.4, 0.2, -0.6], [-0.3, 0.8, 1.1], [0.65, -0.45, 1.25]])
W234 = np.linspace(-1.0, 1.3, 24).reshape(2, 3, 4)
LO3 = np.array([-0.5, 0.2, -0.1])
'''


@dataclass(frozen=True)
class Case:
    """One user function, the point where it is checked, and what it is for.

    `body`: an expression (the function returns it) or statements with a return.
    `keys`: the rule keys the case is for, in `form`; the case must apply at least
    one of their templates in each mode it runs. `xfail`: the bug, for a template
    that is wrong (strict: the test fails once it is fixed), by mode ("rev", "fwd")
    or by mode compiled only ("rev:jit", "fwd:jit")."""

    id: str
    params: str
    body: str
    args: tuple
    wrt: tuple
    keys: tuple
    form: str
    xfail: dict = field(default_factory=dict)
    order: int = 1

    @property
    def fname(self) -> str:
        return "c_" + "".join(ch if ch.isalnum() else "_" for ch in self.id)


CASES: list[Case] = []
# ids of cases that run in the slow tier only (each section adds its own: SLOW |= {...})
SLOW: set[str] = set()


def case(id, params, body, args, wrt=(0,), *, keys, form, xfail=None, order=1):
    keys = (keys,) if isinstance(keys, str) else tuple(keys)
    CASES.append(Case(id, params, body, tuple(args), tuple(wrt), keys, form,
                      dict(xfail or {}), order))


# Values by domain: scalars, and (2, 3) arrays with distinct entries.
DOMAINS = {
    "any": (0.7, np.array([[0.7, -0.4, 1.3], [-1.1, 0.25, 0.9]])),
    "unit": (0.3, np.array([[0.3, -0.55, 0.6], [-0.2, 0.45, 0.15]])),    # |x| < 1
    "pos": (0.7, np.array([[0.7, 1.3, 0.4], [2.1, 0.9, 1.6]])),          # x > 0
    "gt1": (1.7, np.array([[1.7, 1.2, 2.5], [1.4, 3.1, 2.05]])),         # x > 1
}
A23 = DOMAINS["any"][1]
P23 = DOMAINS["pos"][1]
X3 = np.array([0.8, -0.45, 1.25])
Y3 = np.array([0.25, -0.5, 1.45])
X2 = np.array([-0.6, 1.15])
X21 = np.array([[0.7], [-1.1]])
B32 = np.array([[0.4, -1.3], [1.1, 0.35], [-0.7, 0.9]])
T234 = np.random.default_rng(7).permutation(np.linspace(-1.2, 1.5, 24)).reshape(2, 3, 4)

# ----- unary functions: the scalar form for every one, the array form for NumPy's
# (the math functions and the builtins take numbers only: see UNREACHABLE)
UNARY = {
    "math.sin": "any", "math.cos": "any", "math.tan": "any", "math.asin": "unit",
    "math.acos": "unit", "math.atan": "any", "math.sinh": "any", "math.cosh": "any",
    "math.tanh": "any", "math.asinh": "any", "math.acosh": "gt1", "math.atanh": "unit",
    "math.exp": "any", "math.expm1": "any", "math.exp2": "any", "math.log": "pos",
    "math.log1p": "pos", "math.log10": "pos", "math.log2": "pos", "math.sqrt": "pos",
    "math.fabs": "any", "math.erf": "any", "math.erfc": "any", "math.degrees": "any",
    "math.radians": "any", "abs": "any", "float": "any",
    "np.sin": "any", "np.cos": "any", "np.tan": "any", "np.arcsin": "unit",
    "np.arccos": "unit", "np.arctan": "any", "np.sinh": "any", "np.cosh": "any",
    "np.tanh": "any", "np.arcsinh": "any", "np.arccosh": "gt1", "np.arctanh": "unit",
    "np.exp": "any", "np.expm1": "any", "np.exp2": "any", "np.log": "pos",
    "np.log1p": "pos", "np.log10": "pos", "np.log2": "pos", "np.sqrt": "pos",
    "np.cbrt": "any", "np.square": "any", "np.abs": "any", "np.absolute": "any",
    "np.fabs": "any", "np.degrees": "any", "np.rad2deg": "any", "np.radians": "any",
    "np.deg2rad": "any",
}
SIGNED = {"abs", "math.fabs", "np.abs", "np.absolute", "np.fabs", "np.cbrt"}  # also at x < 0

for key, dom in UNARY.items():
    s, arr = DOMAINS[dom]
    case(f"{key}[scalar]", "x", f"1.5 * {key}(x)", (s,), keys=key, form="scalar")
    if key in SIGNED:
        case(f"{key}[scalar,negative]", "x", f"1.5 * {key}(x)", (-s,), keys=key, form="scalar")
    if key.startswith("np."):
        case(f"{key}[array]", "x", f"np.sum({key}(x) * W23)", (arr,), keys=key, form="array")

case("USub[scalar]", "x", "-x * 1.5", (0.7,), keys="USub", form="scalar")
case("USub[array]", "x", "np.sum(-x * W23)", (A23,), keys="USub", form="array")
case("copy[scalar]", "x", "y = x\n    return y * 1.5", (0.7,), keys="copy", form="scalar")
case("copy[array]", "x", "y = x\n    return np.sum(y * W23)", (A23,), keys="copy",
     form="array")

# ----- binary functions: the scalar form at two points (both branches of max, min,
# copysign), the array form with broadcasting both ways and with a float operand
BINARY = {  # key -> (expression, domain)
    "Add": ("x + y", "any"), "Sub": ("x - y", "any"), "Mult": ("x * y", "any"),
    "Div": ("x / y", "div"), "Pow": ("x ** y", "pow"), "Mod": ("x % y", "mod"),
    "math.atan2": ("math.atan2(x, y)", "any"), "math.hypot": ("math.hypot(x, y)", "any"),
    "math.pow": ("math.pow(x, y)", "pow"), "max": ("max(x, y)", "any"),
    "min": ("min(x, y)", "any"), "math.copysign": ("math.copysign(x, y)", "sign"),
    "np.arctan2": ("np.arctan2(x, y)", "any"), "np.hypot": ("np.hypot(x, y)", "any"),
    "np.power": ("np.power(x, y)", "pow"), "np.fmod": ("np.fmod(x, y)", "mod"),
    "np.maximum": ("np.maximum(x, y)", "any"), "np.minimum": ("np.minimum(x, y)", "any"),
    "np.copysign": ("np.copysign(x, y)", "sign"),
}
BINARY_SCALAR_POINTS = {
    "any": [(0.7, -1.9), (-0.8, 1.3)],
    "div": [(0.7, 1.9), (-2.3, -0.6)],
    "pow": [(0.7, 1.9), (2.3, -0.6)],
    "mod": [(2.3, 0.6), (-2.3, 0.9)],     # x / y away from integers
    "sign": [(0.7, -1.9), (-0.8, -1.3)],  # the sign flips; it does not
}
# (x, y) for the array form: x (2, 1) with y (3,), a float with a (2, 3) array, and
# a (2, 3) array with a float
BINARY_ARRAY_POINTS = {
    "any": [(X21, Y3), (0.6, A23), (A23, -0.35)],
    "div": [(X21, Y3), (0.6, A23), (A23, -0.35)],
    "pow": [(np.array([[0.7], [1.6]]), Y3), (1.3, A23), (P23, -0.6)],
    "mod": [(np.array([[2.3], [-0.8]]), np.array([0.6, 1.3, 0.9])), (2.3, P23),
            (A23, 0.6)],
}
ARRAY_BINARY = {"Add", "Sub", "Mult", "Div", "Pow", "Mod", "np.arctan2", "np.hypot",
                "np.power", "np.fmod", "np.maximum", "np.minimum"}

for key, (expr, dom) in BINARY.items():
    wrt = (0,) if key in ("math.copysign", "np.copysign") else (0, 1)  # d/dy = 0
    for k, (x, y) in enumerate(BINARY_SCALAR_POINTS[dom]):
        case(f"{key}[scalar,{k}]", "x, y", f"1.5 * ({expr})", (x, y), wrt, keys=key,
             form="scalar")
    if key in ARRAY_BINARY:
        for k, (x, y) in enumerate(BINARY_ARRAY_POINTS[dom]):
            shapes = "x".join(str(np.shape(v)).replace(" ", "") for v in (x, y))
            case(f"{key}[array,{shapes}]", "x, y", f"np.sum(({expr}) * W23)", (x, y), (0, 1),
                 keys=key, form="array")

# Ties on purpose: both arguments are x, so the derivative is smooth and the split
# (np.maximum: half each; max: all to the first) must add up to 1.
case("np.maximum[scalar,tie]", "x", "np.maximum(x, x) * 1.5", (0.7,), keys="np.maximum",
     form="scalar")
case("np.minimum[array,tie]", "x", "np.sum(np.minimum(x, x) * W23)", (A23,),
     keys="np.minimum", form="array")
case("max[scalar,tie]", "x", "max(x, x) * 1.5", (0.7,), keys="max", form="scalar")
case("min[scalar,tie]", "x", "min(x, x) * 1.5", (0.7,), keys="min", form="scalar")
# x ** c with a constant exponent (the usual use: only the base's template)
case("Pow[array,const]", "x", "np.sum(x ** 3.0 * W23)", (A23,), keys="Pow", form="array")

# ----- np.where, np.clip
case("np.where[array,broadcast]", "x, y", "np.sum(np.where(x > y, x, y) * W23)", (A23, Y3),
     (0, 1), keys="np.where", form="array")
case("np.where[array,float]", "x, s", "np.sum(np.where(x > 0.5, x, s) * W23)", (A23, -0.35),
     (0, 1), keys="np.where", form="array")
CLIP23 = np.array([[-0.9, 0.1, 1.2], [0.5, -0.3, 0.95]])
case("np.clip[array]", "x", "np.sum(np.clip(x, -0.5, 0.8) * W23)", (CLIP23,), keys="np.clip",
     form="array")
# array bounds (Numba's np.clip does not broadcast x to a larger shape)
case("np.clip[array,array bounds]", "x", "np.sum(np.clip(x, LO3, 0.8) * W23)",
     (np.array([[-0.9, 0.45, 1.2], [0.1, -0.3, 0.5]]),), keys="np.clip", form="array")

# ----- reductions: whole arrays, floats, axes and keepdims
for key in ("np.sum", "np.mean"):
    case(f"{key}[array]", "x", f"{key}(x) ** 2", (A23,), keys=key, form="array")
    case(f"{key}[scalar]", "x", f"{key}(x) * 1.5", (0.7,), keys=key, form="scalar")
case("np.sum[array,method]", "x", "x.sum() ** 2", (A23,), keys="np.sum", form="array")
case("np.prod[array]", "x", "np.prod(x) * 1.5", (A23,), keys="np.prod", form="array")
case("np.prod[array,zero]", "x", "np.prod(x) * 1.5",
     (np.array([[0.7, 0.0, 1.3], [-1.1, 0.25, 0.9]]),), keys="np.prod", form="array")
case("np.prod[scalar]", "x", "np.prod(x) * 1.5", (0.7,), keys="np.prod", form="scalar")
for key in ("np.max", "np.amax", "np.min", "np.amin"):
    case(f"{key}[array]", "x", f"{key}(x) * 1.5", (A23,), keys=key, form="array")
    case(f"{key}[scalar]", "x", f"{key}(x) * 1.5", (0.7,), keys=key, form="scalar")
case("np.cumsum[array,1d]", "x", "np.sum(np.cumsum(x) * W3)", (X3,), keys="np.cumsum",
     form="array")
case("np.cumsum[array,2d]", "x", "np.sum(np.cumsum(x) * W6)", (A23,), keys="np.cumsum",
     form="array")
# Numba's np.cumsum of a float is a float (NumPy's is an array of one element)
case("np.cumsum[scalar]", "x", "np.sum(np.cumsum(x)) * 1.5", (0.7,), keys="np.cumsum",
     form="scalar")

AXIS = {"sum": "np.sum", "mean": "np.mean", "prod": "np.prod", "max": "np.max",
        "min": "np.min"}
for name, func in AXIS.items():
    key = f"np_ops.{name}_axis"
    case(f"{key}[axis=0]", "x", f"np.sum({func}(x, axis=0) * W3)", (A23,), keys=key,
         form="array")
    case(f"{key}[axis=1,keepdims]", "x", f"np.sum({func}(x, axis=1, keepdims=True) * W21)",
         (A23,), keys=key, form="array")
    if name in ("sum", "max"):  # a 1-D reduction over its only axis: a float
        case(f"{key}[1d,axis=0]", "x", f"{func}(x, axis=0) * 1.5", (X3,), keys=key,
             form="array")
case("np_ops.max_axis[amax,3d,axis=2,keepdims]", "x",
     "np.sum(np.amax(x, axis=2, keepdims=True) * W234[:, :, :1])", (T234,),
     keys="np_ops.max_axis", form="array")
case("np_ops.prod_axis[zero]", "x", "np.sum(np.prod(x, axis=1) * W2)",
     (np.array([[0.7, 0.0, 1.3], [-1.1, 0.25, 0.9]]),), keys="np_ops.prod_axis", form="array")
case("np_ops.cumsum_axis[axis=0]", "x", "np.sum(np.cumsum(x, axis=0) * W23)", (A23,),
     keys="np_ops.cumsum_axis", form="array")
case("np_ops.cumsum_axis[axis=1]", "x", "np.sum(np.cumsum(x, axis=1) * W23)", (A23,),
     keys="np_ops.cumsum_axis", form="array")
case("np_ops.cumsum_axis[1d,axis=0]", "x", "np.sum(np.cumsum(x, axis=0) * W3)", (X3,),
     keys="np_ops.cumsum_axis", form="array")

# ----- products and norms
case("MatMult[mm]", "x, y", "np.sum((x @ y) * W22)", (A23, B32), (0, 1), keys="MatMult",
     form="array")
case("MatMult[mv]", "x, y", "np.sum((x @ y) * W2)", (A23, X3), (0, 1), keys="MatMult",
     form="array")
case("MatMult[vm]", "x, y", "np.sum((x @ y) * W3)", (X2, A23), (0, 1), keys="MatMult",
     form="array")
case("MatMult[vv]", "x, y", "(x @ y) * 1.5", (X3, Y3), (0, 1), keys="MatMult", form="array")
case("MatMult[matrix_power]", "x", "np.sum(np.linalg.matrix_power(x, 3) * W22)",
     (np.array([[0.5, 0.3], [-0.1, 0.7]]),), keys="MatMult", form="array")
case("np.dot[mm]", "x, y", "np.sum(np.dot(x, y) * W22)", (A23, B32), (0, 1), keys="np.dot",
     form="array")
case("np.dot[vv]", "x, y", "np.dot(x, y) * 1.5", (X3, Y3), (0, 1), keys="np.dot",
     form="array")
case("np.outer[array]", "x, y", "np.sum(np.outer(x, y) * W32)", (X3, X2), (0, 1),
     keys="np.outer", form="array")
case("np.trace[square]", "x", "np.trace(x) ** 2", (A23 @ B32,), keys="np.trace", form="array")
case("np.trace[rectangular]", "x", "np.trace(x) ** 2", (A23,), keys="np.trace", form="array")
case("np.trace[offset]", "x", "np.trace(x, 1) ** 2 + np.trace(x, offset=-1)", (A23 @ B32,), keys="np.trace",
     form="array")
case("np.linalg.norm[vector]", "x", "np.linalg.norm(x) * 1.5", (X3,), keys="np.linalg.norm",
     form="array")
case("np.linalg.norm[vector,ord=2]", "x", "np.linalg.norm(x, 2) * 1.5", (X3,),
     keys="np.linalg.norm", form="array")
# ord=1 is written as sum(x * abs_slope(x)) (normalize._NORMS)
case("np.linalg.norm[vector,ord=1]", "x", "np.linalg.norm(x, ord=1) * 1.5", (X3,),
     keys="np.sum", form="array")
case("np.linalg.norm[matrix]", "x", "np.linalg.norm(x) * 1.5", (A23,),
     keys="np.linalg.norm", form="array")
case("np.linalg.inv[2x2]", "x", "np.sum(np.linalg.inv(x) * W22)",
     (np.array([[2.0, 0.3], [-0.4, 1.5]]),), keys="np.linalg.inv", form="array")
case("np.linalg.inv[3x3]", "x", "np.sum(np.linalg.inv(x) * W33)",
     (np.array([[2.0, 0.3, -0.5], [-0.4, 1.5, 0.2], [0.1, 0.6, 1.8]]),),
     keys="np.linalg.inv", form="array")

# ----- shapes and copies
case("attr.T[2d]", "x", "np.sum(x.T * W32)", (A23,), keys="attr.T", form="array")
case("attr.T[1d]", "x", "np.sum(x.T * W3)", (X3,), keys="attr.T", form="array")
case("np.transpose[2d]", "x", "np.sum(np.transpose(x) * W32)", (A23,), keys="np.transpose",
     form="array")
case("np.reshape[tuple]", "x", "np.sum(np.reshape(x, (3, 2)) * W32)", (A23,),
     keys="np.reshape", form="array")
case("np.reshape[method,flat]", "x", "np.sum(x.reshape(6) * W6)", (A23,), keys="np.reshape",
     form="array")
case("np.reshape[method,varargs]", "x", "np.sum(x.reshape(2, 3) * W23)",
     (np.array([0.9, -0.2, 1.4, -1.6, 0.35, 0.6]),), keys="np.reshape", form="array")
case("np.copy[array]", "x", "y = np.copy(x)\n    y[0, 1] = 0.0\n    return np.sum(y * W23)",
     (A23,), keys="np.copy", form="array")
case("np.copy[0d]", "x", "np.sum(np.copy(x)) * 1.5", (0.7,), keys="np.copy", form="array")
case("np.ascontiguousarray[array]", "x", "np.sum(np.ascontiguousarray(x.T) * W32)", (A23,),
     keys="np.ascontiguousarray", form="array")
case("np.ascontiguousarray[float]", "x", "np.sum(np.ascontiguousarray(x) * W2[:1]) * 1.5",
     (0.7,), keys="np.ascontiguousarray", form="array")

# ----- arrays from sequences of values
case("np.concatenate[1d]", "x, y", "np.sum(np.concatenate((x, y)) * W5)", (X3, X2), (0, 1),
     keys="np.concatenate", form="array")
case("np.concatenate[axis=1]", "x, y", "np.sum(np.concatenate((x, y), axis=1) * W24)",
     (A23, X21), (0, 1), keys="np.concatenate", form="array")
case("np.concatenate[axis=0,const]", "x, y",
     "np.sum(np.concatenate((x, W23[:1], y), axis=0) * W43)", (A23, X3.reshape(1, 3)), (0, 1),
     keys="np.concatenate", form="array")
case("np.stack[axis=0]", "x, y", "np.sum(np.stack((x, y)) * W23)", (X3, Y3), (0, 1),
     keys="np.stack", form="array")
case("np.stack[axis=1]", "x, y", "np.sum(np.stack((x, y), axis=1) * W32)", (X3, Y3), (0, 1),
     keys="np.stack", form="array")
case("np.hstack[1d]", "x, y", "np.sum(np.hstack((x, y)) * W5)", (X3, X2), (0, 1),
     keys="np.hstack", form="array")
case("np.hstack[2d]", "x, y", "np.sum(np.hstack((x, y)) * W24)", (A23, X21), (0, 1),
     keys="np.hstack", form="array")
case("np.vstack[1d]", "x, y", "np.sum(np.vstack((x, y)) * W23)", (X3, Y3), (0, 1),
     keys="np.vstack", form="array")
case("np.vstack[2d]", "x, y", "np.sum(np.vstack((x, y)) * W33)", (A23, X3.reshape(1, 3)),
     (0, 1), keys="np.vstack", form="array")
case("np.column_stack[1d]", "x, y", "np.sum(np.column_stack((x, y)) * W32)", (X3, Y3), (0, 1),
     keys="np.column_stack", form="array")
case("np.column_stack[2d,1d]", "x, y", "np.sum(np.column_stack((x, y)) * W33)", (B32, Y3),
     (0, 1), keys="np.column_stack", form="array")
case("np_ops.array[floats]", "a, b, c", "np.sum(np.array([a, b, 1.0, c, b]) * W5)",
     (0.7, -0.4, 1.3), (0, 1, 2), keys="np_ops.array", form="array")
case("np_ops.array[nested]", "a, b, c", "np.sum(np.array([[a, b, 0.5], [c, a, b]]) * W23)",
     (0.7, -0.4, 1.3), (0, 1, 2), keys="np_ops.array", form="array")
case("np_ops.array[rows]", "x, y", "np.sum(np.asarray([x, y]) * W23)", (X3, Y3), (0, 1),
     keys="np_ops.array", form="array")
case("np_ops.array_copy[array]", "x", "y = np.array(x)\n    y[1] = 0.0\n"
     "    return np.sum(y * W23)", (A23,), keys="np_ops.array_copy", form="array")
case("np_ops.array_copy[float]", "x", "np.sum(np.array(x)) * 1.5", (0.7,),
     keys="np_ops.array_copy", form="array")
case("np_ops.asarray[array]", "x", "np.sum(np.asarray(x) * W23)", (A23,),
     keys="np_ops.asarray", form="array")
case("np_ops.asarray[float]", "x", "np.sum(np.asarray(x)) * 1.5", (0.7,),
     keys="np_ops.asarray", form="array")

# ----- arrays from a shape and a value
case("np.full[1d]", "s", "np.sum(np.full(3, s) * W3)", (0.7,), keys="np.full", form="array")
case("np.full[2d]", "s", "np.sum(np.full((2, 3), s) * W23) * s", (0.7,), keys="np.full",
     form="array")
case("np.full_like[array]", "x, s", "np.sum(np.full_like(x, s) * W23) + np.sum(x * W23)",
     (A23, 0.7), (0, 1), keys="np.full_like", form="array")

# ----- the forward-mode helper, in user code and in generated tangents
case("srcgrad.broadcast_like[scalar]", "s, t", "srcgrad.broadcast_like(s, t) * 1.5",
     (0.7, -0.2), keys="srcgrad.broadcast_like", form="scalar")
case("srcgrad.broadcast_like[array]", "x, y",
     "np.sum(srcgrad.broadcast_like(x, y) * W23)", (X3, A23), keys="srcgrad.broadcast_like",
     form="array")
case("srcgrad.broadcast_like[float,array]", "s, y",
     "np.sum(srcgrad.broadcast_like(s, y) * W23)", (0.7, A23),
     keys="srcgrad.broadcast_like", form="array")
# a second derivative: hvp (reverse over forward) and forward over forward
# differentiate the generated tangent, which calls broadcast_like
case("srcgrad.broadcast_like[order=2]", "x", "np.sum(np.tanh(x * W23) * W23)", (X3,),
     keys="srcgrad.broadcast_like", form="array", order=2)

# ----- linear algebra (srcgrad/runtime/linalg.py)
# Matrices with well-separated eigenvalues and singular values (and stable signs of the
# vectors LAPACK returns near them); eigh symmetrizes its argument in the user code, and
# cholesky gets x x^T + I. order=2 cases reach the functions tangents call (cofactor,
# gaps, lower, skew, the checks).
M33 = np.array([[3.0, 0.4, -0.2], [0.3, 1.6, 0.5], [-0.1, 0.2, 0.7]])
M43 = np.array([[3.0, 0.4, -0.2], [0.3, 1.6, 0.5], [-0.1, 0.2, 0.7], [0.45, -0.3, 0.25]])
C33 = np.array([[2.6, -0.3, 0.4], [0.2, 1.5, -0.9], [-0.6, 0.35, 1.1]])  # no ties in |.| sums
case("linalg.slogdet_logabsdet[3x3]", "x", "np.linalg.slogdet(x)[1] * 1.5",
     (np.array([[1.2, 0.3, -0.2], [0.1, 0.9, 0.4], [0.5, -0.3, 1.1]]),),
     keys="linalg.slogdet_logabsdet", form="array")
case("np.linalg.det[3x3]", "x", "np.linalg.det(x) * 1.5", (M33,), keys="np.linalg.det",
     form="array")
case("np.linalg.det[order=2]", "x", "np.linalg.det(x) * 1.5", (M33,),
     keys=("np.linalg.det", "linalg.cofactor"), form="array", order=2)
case("np.linalg.solve[matrix]", "x, y", "np.sum(np.linalg.solve(x, y) * W33)", (M33, C33),
     (0, 1), keys="np.linalg.solve", form="array")
case("np.linalg.solve[vector]", "x, y", "np.sum(np.linalg.solve(x, y) * W3)", (M33, X3),
     (0, 1), keys="np.linalg.solve", form="array")
case("np.linalg.cholesky[order=2]", "x",
     "np.sum(np.linalg.cholesky(x @ x.T + np.eye(3)) * W33)", (C33,),
     keys=("np.linalg.cholesky", "linalg.lower"), form="array", order=2)
case("linalg.eigh_values[tuple]", "x", "w, v = np.linalg.eigh(x + x.T)\n"
     "    return np.sum(w * W3)", (M33,), keys="linalg.eigh_values", form="array")
case("linalg.eigh_vectors[order=2]", "x", "w, v = np.linalg.eigh(x + x.T)\n"
     "    return np.sum(v * W33)", (M33,), keys=("linalg.eigh_vectors", "linalg.gaps"),
     form="array", order=2)
case("np.linalg.eigvalsh[symmetric]", "x", "np.sum(np.linalg.eigvalsh(x + x.T) * W3)",
     (M33,), keys="np.linalg.eigvalsh", form="array")
case("linalg.qr_q[tall,order=2]", "x", "q, r = np.linalg.qr(x)\n    return np.sum(q * W43)",
     (M43,), keys=("linalg.qr_q", "linalg.skew", "linalg.qr_checked"), form="array", order=2)
case("linalg.qr_r[square]", "x", "np.sum(np.linalg.qr(x)[1] * W33)", (M33,),
     keys="linalg.qr_r", form="array")
case("linalg.svd_s[tuple]", "x", "u, s, vt = np.linalg.svd(x)\n    return np.sum(s * W3)",
     (M33,), keys="linalg.svd_s", form="array")
case("linalg.svd_u[tall,thin,order=2]", "x",
     "u, s, vt = np.linalg.svd(x, full_matrices=False)\n    return np.sum(u * W43)", (M43,),
     keys=("linalg.svd_u", "linalg.unique_u", "linalg.keep_if"), form="array", order=2)
case("linalg.svd_vt[wide,thin,order=2]", "x",
     "u, s, vt = np.linalg.svd(x, False)\n    return np.sum(vt * W43.T)", (M43.T,),
     keys=("linalg.svd_vt", "linalg.unique_vt", "linalg.keep_if"), form="array", order=2)
case("linalg.svd_u[square]", "x", "np.sum(np.linalg.svd(x)[0] * W33)", (M33,),
     keys="linalg.svd_u", form="array")
case("linalg.svd_vt[square]", "x", "np.sum(np.linalg.svd(x)[2] * W33)", (M33,),
     keys="linalg.svd_vt", form="array")
case("linalg.svd_s[cond]", "x", "np.linalg.cond(x) * 1.5", (M33,), keys="linalg.svd_s",
     form="array")
case("np.linalg.pinv[tall]", "x", "np.sum(np.linalg.pinv(x) * W43.T)", (M43,),
     keys="np.linalg.pinv", form="array")
case("linalg.lstsq_solution[vector]", "x, y",
     "s, res, rank, sv = np.linalg.lstsq(x, y)\n    return np.sum(s * W3)",
     (M43, np.array([0.7, -1.3, 0.4, 0.9])), (0, 1), keys="linalg.lstsq_solution",
     form="array")
case("np.kron[2d]", "x, y", "np.sum(np.kron(x, y) * np.kron(W22, W23))",
     (np.array([[0.9, -1.3], [0.4, 1.2]]), A23),
     (0, 1), keys="np.kron", form="array")
case("np.cross[batch]", "x, y", "np.sum(np.cross(x, y) * W23)", (A23, Y3), (0, 1),
     keys="np.cross", form="array")
case("linalg.vdot[2d,1d]", "x, y", "np.vdot(x, y) * 1.5", (A23, X3.repeat(2) - 0.3), (0, 1),
     keys="linalg.vdot", form="array")
case("linalg.einsum2[ij,jk->ik]", "x, y", "np.sum(np.einsum('ij,jk->ik', x, y) * W22)",
     (A23, B32), (0, 1), keys="linalg.einsum2", form="array")
case("linalg.einsum1[ii->]", "x", "np.einsum('ii->', x) ** 2", (M33,), keys="linalg.einsum1",
     form="array")
case("linalg.einsum2[tensordot]", "x, y", "np.sum(np.tensordot(x, y, axes=([1], [0])) * W22)",
     (A23, B32), (0, 1), keys="linalg.einsum2", form="array")
case("linalg.einsum2[inner]", "x, y", "np.sum(np.inner(x, y) * W22)", (A23, A23 * 0.5 - 0.2),
     (0, 1), keys="linalg.einsum2", form="array")
# np.linalg.norm: the operations NumPy computes each ord with (normalize._NORMS)
case("linalg.amax[norm,vector,inf]", "x", "np.linalg.norm(x, np.inf) * 1.5", (X3,),
     keys="linalg.amax", form="array")
case("linalg.amin[norm,vector,-inf]", "x", "np.linalg.norm(x, -np.inf) * 1.5", (X3,),
     keys="linalg.amin", form="array")
case("linalg.as_matrix[norm,matrix,ord=1]", "x", "np.linalg.norm(x, 1) * 1.5", (C33,),
     keys=("linalg.as_matrix", "linalg.amax"), form="array")
case("linalg.amin[norm,matrix,-inf]", "x", "np.linalg.norm(x, -np.inf) * 1.5", (C33,),
     keys="linalg.amin", form="array")
case("linalg.amax_axis[norm,axis=1,inf]", "x", "np.sum(np.linalg.norm(x, np.inf, 1) * W2)",
     (A23,), keys="linalg.amax_axis", form="array")
case("linalg.amin_axis[norm,axis=0,-inf]", "x",
     "np.sum(np.linalg.norm(x, -np.inf, axis=0, keepdims=True) * W3)", (A23,),
     keys="linalg.amin_axis", form="array")
case("linalg.vector[norm,ord=3]", "x", "np.linalg.norm(x, 3) * 1.5", (X3,),
     keys="linalg.vector", form="array")
case("linalg.matrix[norm,fro]", "x", "np.linalg.norm(x, 'fro') * 1.5", (A23,),
     keys="linalg.matrix", form="array")
case("linalg.keepdims_like[norm]", "x", "np.sum(np.linalg.norm(x, keepdims=True) * W21[:1])",
     (A23,), keys="linalg.keepdims_like", form="array")
SLOW |= {"np.linalg.det[3x3]", "linalg.svd_u[square]", "linalg.svd_vt[square]",
         "np.linalg.solve[vector]", "linalg.einsum2[tensordot]", "linalg.einsum2[inner]",
         "linalg.amin[norm,matrix,-inf]"}

# ----- shapes and orders
# Each function of the section, at points away from ties (sort, unique and the set
# functions are piecewise linear; tests/test_shapes.py checks the ties against JAX); the
# helpers that only tangents call (linrec, shift, occurrence_take) through second
# derivatives, where the tangent they act on depends on x.
X5 = np.array([0.6, -1.3, 0.45, 1.1, -0.2])
SHAPE_CASES = [  # (id, params, body, args, wrt, keys, order)
    ("np.atleast_1d[array]", "x", "np.sum(np.atleast_1d(x) * W3)", (X3,), (0,), "np.atleast_1d", 1),
    ("np.atleast_2d[1d]", "x", "np.sum(np.atleast_2d(x) * W3)", (X3,), (0,), "np.atleast_2d", 1),
    ("np.atleast_3d[2d]", "x", "np.sum(np.atleast_3d(x)[:, :, 0] * W23)", (A23,), (0,),
     "np.atleast_3d", 1),
    ("np.ravel[2d]", "x", "np.sum(np.ravel(x) * W6)", (A23,), (0,), "np.ravel", 1),
    ("np.ravel[method]", "x", "np.sum(x.T.ravel() * W6)", (A23,), (0,), "np.ravel", 1),
    ("np.expand_dims[axis=0]", "x", "np.sum(np.expand_dims(x, 0) * W23)", (A23,), (0,),
     "np.expand_dims", 1),
    ("shapes.squeeze[axis=0]", "x", "np.sum(np.squeeze(x[:1], axis=0) * W3)", (A23,), (0,),
     "shapes.squeeze", 1),
    ("np.swapaxes[2d]", "x", "np.sum(np.swapaxes(x, 0, 1) * W32)", (A23,), (0,), "np.swapaxes",
     1),
    ("shapes.moveaxis[2d]", "x", "np.sum(np.moveaxis(x, 0, -1) * W32)", (A23,), (0,),
     "shapes.moveaxis", 1),
    ("np.broadcast_to[1d]", "x", "np.sum(np.broadcast_to(x, (2, 3)) * W23)", (X3,), (0,),
     "np.broadcast_to", 1),
    ("np.flip[2d]", "x", "np.sum(np.flip(x) * W23)", (A23,), (0,), "np.flip", 1),
    ("shapes.flip[axis=1]", "x", "np.sum(np.flip(x, axis=1) * W23)", (A23,), (0,),
     "shapes.flip", 1),
    ("shapes.flip[fliplr,flipud]", "x", "np.sum(np.fliplr(x) * W22) + np.sum(np.flipud(x) * W22.T)",
     (A23[:, :2],), (0,), "shapes.flip", 1),
    ("shapes.rot90[k=1]", "x", "np.sum(np.rot90(x) * W32)", (A23,), (0,), "shapes.rot90", 1),
    ("shapes.rot90[3d,k=3,axes]", "x", "np.sum(np.rot90(x, 3, (2, 0)) * W234.T)",
     (T234,), (0,), "shapes.rot90", 1),
    ("shapes.roll[axis=1]", "x", "np.sum(np.roll(x, 1, axis=1) * W23)", (A23,), (0,),
     "shapes.roll", 1),
    ("shapes.roll[flat]", "x", "np.sum(np.roll(x, -2) * W23)", (A23,), (0,), "shapes.roll", 1),
    ("shapes.repeat[axis=0]", "x", "np.sum(np.repeat(x, 2, axis=0) * W43)", (A23,), (0,),
     "shapes.repeat", 1),
    ("shapes.repeat[flat,array,method]", "x", "np.sum(x.repeat(np.array([2, 0, 1])) * W3)",
     (X3,), (0,), "shapes.repeat", 1),
    ("shapes.tile[1d]", "x", "np.sum(np.tile(x, 2) * W6)", (X3,), (0,), "shapes.tile", 1),
    ("shapes.tile[2d,reps]", "x", "np.sum(np.tile(x, (2, 1)) * W23)", (X3,), (0,),
     "shapes.tile", 1),
    ("np.resize[1d]", "x", "np.sum(np.resize(x, (2, 3)) * W23)", (X2,), (0,), "np.resize", 1),
    ("shapes.delete[axis=1]", "x", "np.sum(np.delete(x, 1, axis=1) * W22)", (A23,), (0,),
     "shapes.delete", 1),
    ("shapes.delete[flat,ints]", "x", "np.sum(np.delete(x, [0, -1]) * W24[0])", (A23,), (0,),
     "shapes.delete", 1),
    ("shapes.insert[float]", "x, s", "np.sum(np.insert(x, [1, 3], s) * W5)", (X3, 0.7), (0, 1),
     "shapes.insert", 1),
    ("shapes.insert[axis=1,column]", "x, y", "np.sum(np.insert(x, 1, y, axis=1) * W24)",
     (A23, X2), (0, 1), "shapes.insert", 1),
    ("shapes.take[axis=1,repeated]", "x", "np.sum(np.take(x, np.array([0, 2, 2]), axis=1) * W23)",
     (A23,), (0,), "shapes.take", 1),
    ("shapes.take[int,method]", "x", "x.take(4) * 1.5 + np.sum(np.take(x, [1, 1]) * W2)", (A23,),
     (0,), "shapes.take", 1),
    ("shapes.take_along_axis[argsort]", "x",
     "np.sum(np.take_along_axis(x, np.argsort(x, axis=1), axis=1) * W23)", (A23,), (0,),
     "shapes.take_along_axis", 1),
    ("np.extract[mask]", "x", "np.sum(np.extract(x > 0.0, x) * W24[0])", (A23,), (0,),
     "np.extract", 1),
    ("np.diag[vector]", "x", "np.sum(np.diag(x) * W33)", (X3,), (0,), "np.diag", 1),
    ("np.diag[matrix,k=1]", "x", "np.sum(np.diag(x, 1) * W2)", (A23,), (0,), "np.diag", 1),
    ("np.diagflat[k=-1]", "x", "np.sum(np.diagflat(x, -1) * W33)", (X2,), (0,), "np.diagflat",
     1),
    ("shapes.diagonal[offset]", "x", "np.sum(np.diagonal(x, 1) * W2) + x.diagonal()[1] * 1.5",
     (A23,), (0,), "shapes.diagonal", 1),
    ("np.tril[k=-1]", "x", "np.sum(np.tril(x, -1) * W23)", (A23,), (0,), "np.tril", 1),
    ("np.triu[2d]", "x", "np.sum(np.triu(x) * W23)", (A23,), (0,), "np.triu", 1),
    ("np.triu[vector]", "x", "np.sum(np.triu(x, k=1) * W33)", (X3,), (0,), "np.triu", 1),
    ("shapes.split_part[indices,axis=1]", "x",
     "a, b = np.split(x, [1], axis=1)\n    return np.sum(a * W21) + np.sum(b * b * W22)",
     (A23,), (0,), "shapes.split_part", 1),
    ("shapes.split_part[array_split]", "x",
     "a, b = np.array_split(x, 2)\n    return np.sum(a * W3) - np.sum(b * W2)", (X5,), (0,),
     "shapes.split_part", 1),
    ("shapes.trim_zeros[1d]", "x",
     "return np.sum(np.trim_zeros(x * np.array([0.0, 1.0, 1.0, 1.0, 0.0])) * W3)", (X5,), (0,),
     "shapes.trim_zeros", 1),
    ("shapes.diff[n=2,axis=1]", "x", "np.sum(np.diff(x, 2, axis=1) * W21)", (A23,), (0,),
     "shapes.diff", 1),
    ("shapes.diff[ediff1d]", "x", "np.sum(np.ediff1d(x) * W5)", (A23,), (0,), "shapes.diff", 1),
    ("shapes.sort[axis=0]", "x", "np.sum(np.sort(x, axis=0) * W23)", (A23,), (0,), "shapes.sort",
     1),
    ("shapes.sort[method,in place]", "x", "y = x * 1.0\n    y.sort()\n    return np.sum(y * W23)",
     (A23,), (0,), "shapes.sort", 1),
    ("shapes.partition[kth=1]", "x", "np.sum(np.partition(x, 1) * W3)", (X3,), (0,),
     "shapes.partition", 1),
    ("shapes.cumprod[axis=1]", "x", "np.sum(np.cumprod(x, axis=1) * W23)", (A23,), (0,),
     "shapes.cumprod", 1),
    ("shapes.cumprod[flat,zero]", "x", "np.sum(np.cumprod(x) * W5)",
     (np.array([0.6, 0.0, 1.3, -0.7, 0.0]),), (0,), "shapes.cumprod", 1),
    ("shapes.cumprod[order=2]", "x", "np.sum(np.cumprod(x, axis=1) * W23)", (A23,), (0,),
     ("shapes.cumprod", "shapes.linrec", "shapes.shift"), 2),
    ("shapes.nan_fill[nancumsum,nancumprod]", "x",
     "y = x + np.array([[0.0, np.nan, 0.0], [0.0, 0.0, np.nan]])\n"
     "    return np.sum(np.nancumsum(y) * W6) + np.sum(np.nancumprod(y, axis=0) * W23)",
     (A23,), (0,), "shapes.nan_fill", 1),
    ("shapes.powers[vander]", "x", "np.sum(np.vander(x) * W33)", (X3,), (0,), "shapes.powers",
     1),
    ("shapes.powers[vander,order=2]", "x", "np.sum(np.vander(x, 4, increasing=True) * W43.T)",
     (np.array([0.0, 0.8, -1.2]),), (0,), "shapes.powers", 2),
    ("np.unique[distinct]", "x", "np.sum(np.unique(x) * W3)", (X3,), (0,), "np.unique", 1),
    ("np.unique[order=2]", "x", "np.sum(np.unique(x * x) * W3)", (X3,), (0,),
     ("np.unique", "shapes.occurrence_take"), 2),
    ("shapes.union1d[distinct]", "x, y", "np.sum(np.union1d(x, y) * W6)", (X3, Y3), (0, 1),
     "shapes.union1d", 1),
    ("shapes.setxor1d[distinct]", "x, y", "np.sum(np.setxor1d(x, y) * W6)", (X3, Y3), (0, 1),
     "shapes.setxor1d", 1),
    ("shapes.intersect1d[shared]", "x", "np.sum(np.intersect1d(x, x[:2] * 1.0) * W2)", (X3,),
     (0,), "shapes.intersect1d", 1),
    ("shapes.setdiff1d[distinct]", "x, y", "np.sum(np.setdiff1d(x, y) * W3)", (X3, Y3), (0, 1),
     "shapes.setdiff1d", 1),
    ("shapes.astype[float64]", "x", "np.sum(x.astype(np.float64) * x.astype(float) * W23)",
     (A23,), (0,), "shapes.astype", 1),
    ("shapes.item[method]", "x", "x[1:2].item() * 1.5 + x.item(2) * x.item(0)", (X3,), (0,),
     "shapes.item", 1),
]
for _id, _params, _body, _args, _wrt, _keys, _order in SHAPE_CASES:
    case(_id, _params, _body, _args, _wrt, keys=_keys, form="array", order=_order)
SLOW |= {
    "np.ravel[method]", "shapes.flip[fliplr,flipud]", "shapes.rot90[3d,k=3,axes]",
    "shapes.roll[flat]", "shapes.repeat[flat,array,method]", "shapes.tile[2d,reps]",
    "shapes.delete[flat,ints]", "shapes.insert[axis=1,column]", "shapes.take[int,method]",
    "np.diag[matrix,k=1]", "np.triu[vector]", "shapes.split_part[array_split]",
    "shapes.diff[ediff1d]", "shapes.sort[method,in place]", "shapes.cumprod[flat,zero]",
    "shapes.powers[vander,order=2]",
}

# ----- statistics: the rules under "NumPy: statistics" (STATS_RULES) are left to
# tests/test_stats.py, which checks that its cases apply every template of them

# ----- NumPy's ufunc names and other elementwise functions (np.sinc's rule is under
# statistics: its cases here check it against finite differences, test_stats.py counts it)
for key, dom in {"np.positive": "any", "np.real": "any", "np.conjugate": "any",
                 "np.reciprocal": "pos", "np.sinc": "any"}.items():
    s, arr = DOMAINS[dom]
    case(f"{key}[scalar]", "x", f"1.5 * {key}(x)", (s,), keys=key, form="scalar")
    case(f"{key}[array]", "x", f"np.sum({key}(x) * W23)", (arr,), keys=key, form="array")
case("np.sinc[array,zero]", "x", "np.sum(np.sinc(x) * W23)",
     (np.array([[0.0, -0.4, 1.3], [-1.1, 0.25, 0.9]]),), keys="np.sinc", form="array")
for key in ("np.float_power", "np.fmax", "np.fmin", "np.logaddexp", "np.logaddexp2"):
    dom = "pow" if key == "np.float_power" else "any"
    for k, (x, y) in enumerate(BINARY_SCALAR_POINTS[dom]):
        case(f"{key}[scalar,{k}]", "x, y", f"1.5 * {key}(x, y)", (x, y), (0, 1), keys=key,
             form="scalar")
    x, y = BINARY_ARRAY_POINTS[dom][0]
    case(f"{key}[array,broadcast]", "x, y", f"np.sum({key}(x, y) * W23)", (x, y), (0, 1),
         keys=key, form="array")
case("np.fmax[array,nan]", "x, y", "np.sum(np.fmax(x, y) * W23)",
     (A23, np.array([0.2, np.nan, -0.3])), keys="np.fmax", form="array")
for key in ("np.ldexp", "math.ldexp"):
    case(f"{key}[scalar]", "x", f"{key}(x, 3) * 1.5", (0.7,), keys=key, form="scalar")
    if key.startswith("np."):
        case(f"{key}[array]", "x", f"np.sum({key}(x, 2) * W23)", (A23,), keys=key,
             form="array")
for key in ("np.nextafter", "math.nextafter"):
    case(f"{key}[scalar]", "x", f"{key}(x, 2.0) * 1.5", (0.7,), keys=key, form="scalar")
    if key.startswith("np."):
        case(f"{key}[array]", "x", f"np.sum({key}(x, x + 1.0) * W23)", (A23,), keys=key,
             form="array")
# the ufuncs of Python's operators are the operators (normalize._OPERATOR_UFUNCS)
case("np.add[lowered]", "x, y", "np.sum(np.multiply(np.add(x, y), np.subtract(x, y)) * W23) "
     "+ np.sum(np.divide(x, 2.0 + y * y)) + np.sum(np.negative(x) * np.mod(x, 3.0))",
     (A23, Y3), (0, 1), keys=("Add", "Mult", "Sub", "Div", "USub", "Mod"), form="array")
SLOW |= {"np.fmax[array,nan]", "np.sinc[array,zero]"}

# Further variants of the non-elementwise functions. Each makes Numba type (and so compile)
# another specialization of a NumPy or np_ops function, 0.3 to 2 s apiece, so they run in
# the slow tier: the fast tier keeps at least one case for every template unit
# (test_every_template_is_applied counts the fast cases only).
SLOW |= {
    "np.where[array,float]", "np.clip[array,array bounds]", "np.cumsum[array,2d]",
    "np_ops.sum_axis[1d,axis=0]", "np_ops.mean_axis[axis=1,keepdims]",
    "np_ops.prod_axis[axis=1,keepdims]", "np_ops.min_axis[axis=1,keepdims]",
    "np_ops.max_axis[amax,3d,axis=2,keepdims]", "np_ops.prod_axis[zero]",
    "np_ops.cumsum_axis[axis=1]", "np_ops.cumsum_axis[1d,axis=0]",
    "MatMult[mv]", "MatMult[vm]", "MatMult[matrix_power]", "np.dot[vv]",
    "np.trace[rectangular]", "np.linalg.norm[vector,ord=2]", "np.linalg.inv[3x3]",
    "np.reshape[method,flat]", "np.reshape[method,varargs]", "np.copy[0d]",
    "np.concatenate[axis=1]", "np.concatenate[axis=0,const]", "np.stack[axis=1]",
    "np.hstack[2d]", "np.vstack[2d]", "np.column_stack[2d,1d]", "np_ops.array[nested]",
    "np_ops.array_copy[float]", "np_ops.asarray[float]", "np.full[2d]",
    "srcgrad.broadcast_like[float,array]", "srcgrad.broadcast_like[array]",
    "np_ops.max_axis[axis=1,keepdims]", "np_ops.max_axis[1d,axis=0]",
}
FAST_CASES = [c for c in CASES if c.id not in SLOW]

_ids = [c.id for c in CASES]
assert len(set(_ids)) == len(_ids), "case ids must be unique"
assert SLOW <= set(_ids), sorted(SLOW - set(_ids))
CASE_BY_ID = {c.id: c for c in CASES}


# --------------------------------------------------------------------------- unreachable units

def _with_templates(key: str, form: str) -> list[int]:
    """The argument indices of `key` that have a template in `form`."""
    rule = RULES[key]
    partials = rule.partials if form == "scalar" else rule.array_partials
    return [i for i, p in enumerate(partials) if p is not None and p != rules.MISSING]


# (keys, forms, modes, reason): the units no Python program can reach.
_UNREACHABLE_GROUPS = [
    # Numba types every function srcgrad differentiates, even with jit=False
    (tuple(k for k in RULES if k.startswith("math.") and not RULES[k].nondiff
           and not _excluded(k)), ("array",), ("rev", "fwd"),
     "the math functions take numbers: Numba has none of an array (not even a 0-d one), "
     "and NumPy refuses math.f of an array of several elements"),
    (("abs", "max", "min", "float"), ("array",), ("rev", "fwd"),
     "Numba has no builtin abs, max, min or float of an array (np.abs, np.maximum, ... are "
     "the array functions)"),
    (("np_ops.sum_axis", "np_ops.mean_axis", "np_ops.prod_axis", "np_ops.max_axis",
      "np_ops.min_axis", "np_ops.cumsum_axis"), ("scalar",), ("rev", "fwd"),
     "np.sum(s, axis=...) and the like of a float: srcgrad's np_ops reductions take arrays "
     "(NumPy has no axis 0 of a 0-d value, and axis=None cannot be written: srcgrad refuses "
     "the None constant)"),
    (("np.linalg.norm", "np.dot", "np.transpose", "np.reshape", "np.clip"), ("scalar",),
     ("rev", "fwd"), "Numba has no version of this function for floats"),
    (("np.trace",), ("scalar",), ("rev", "fwd"),
     "NumPy refuses the trace of a float (it needs 2 dimensions), and so does Numba"),
    (("attr.T",), ("scalar",), ("rev", "fwd"), "a float has no .T (Numba: unknown attribute)"),
    (("np.copy", "np.ascontiguousarray", "np.where", "np.full", "np.full_like",
      "np_ops.array", "np_ops.array_copy", "np_ops.asarray", "np.concatenate", "np.stack",
      "np.hstack", "np.vstack", "np.column_stack"), ("scalar",), ("rev", "fwd"),
     "the result is always an array, so the array templates apply (for a float: a 0-d "
     "array, or shape (1,) from np.ascontiguousarray; Numba's np.concatenate, np.stack, "
     "np.hstack, np.vstack and np.column_stack take no floats at all)"),
    (("np.matmul",), ("scalar", "array"), ("rev", "fwd"),
     "normalize.py rewrites np.matmul(a, b) as a @ b (rule MatMult), and NumPy's np.matmul "
     "takes its operands only positionally, so no call keeps the name"),
    (("UAdd",), ("scalar", "array"), ("rev", "fwd"),
     "normalize.py drops unary plus (+x is x: the copy rule)"),
    (("copy",), ("scalar", "array"), ("fwd",),
     "forward.py gives a copy its operand's tangent directly (d_y = d_x), not through the "
     "template"),
    (("subscript",), ("scalar",), ("rev", "fwd"),
     "segment.py and forward.py apply x[i] directly (b_x[i] += g; d_x[i]), not through "
     "the template"),
    (("subscript",), ("array",), ("rev",),
     "segment.py applies x[i] directly (b_x[i] += g), not through the template"),
]

UNREACHABLE: dict[tuple[str, int, str, str], str] = {
    (key, i, form, mode): reason
    for keys, forms, modes, reason in _UNREACHABLE_GROUPS
    for key in keys for form in forms for i in _with_templates(key, form) for mode in modes}


# Programs that try to reach the unreachable units, one or more for each
# (key, form, mode) of UNREACHABLE: (key, form, params, body, args, wrt, expect).
# expect: "refused" (srcgrad raises TypeInferenceError while generating), "array" (the
# array form of the key is applied instead), or "bypassed" (the code is generated and
# applies no template of the key in that mode).
_ARR = np.array([0.3, -0.2, 0.5])
DEMOS: list[tuple] = []
for _key in _UNREACHABLE_GROUPS[0][0] + _UNREACHABLE_GROUPS[1][0]:
    _n = len(RULES[_key].params)
    DEMOS.append((_key, "array", "x, y", f"np.sum({_key}(x{', y' if _n == 2 else ''}))",
                  (_ARR, _ARR + 1.0), (0, 1), "refused"))
for _key, _body in {
        "np_ops.sum_axis": "np.sum(s, axis=0)", "np_ops.mean_axis": "np.mean(s, axis=0)",
        "np_ops.prod_axis": "np.prod(s, axis=0)", "np_ops.max_axis": "np.max(s, axis=0)",
        "np_ops.min_axis": "np.min(s, axis=0, keepdims=True)",
        "np_ops.cumsum_axis": "np.sum(np.cumsum(s, axis=0))",
        "np.linalg.norm": "np.linalg.norm(s)", "np.dot": "np.dot(s, t)",
        "np.transpose": "np.transpose(s)", "np.reshape": "np.sum(np.reshape(s, (1,)))",
        "np.clip": "np.clip(s, -0.5, 0.5)", "np.trace": "np.trace(s)", "attr.T": "s.T",
        }.items():
    DEMOS.append((_key, "scalar", "s, t", f"{_body} * t", (0.3, 0.7), (0, 1), "refused"))
for _key, _body in {
        "np.copy": "np.sum(np.copy(s))", "np.ascontiguousarray": "np.sum(np.ascontiguousarray(s))",
        "np.where": "np.where(s > t, s, t) * 1.5", "np.full": "np.sum(np.full(1, s))",
        "np.full_like": "np.sum(np.full_like(t, s))", "np_ops.array": "np.sum(np.array([s, t]))",
        "np_ops.array_copy": "np.sum(np.array(s))", "np_ops.asarray": "np.sum(np.asarray(s))",
        }.items():
    DEMOS.append((_key, "scalar", "s, t", _body, (0.3, 0.7), (0, 1), "array"))
for _key in ("np.concatenate", "np.stack", "np.hstack", "np.vstack", "np.column_stack"):
    DEMOS.append((_key, "scalar", "s, t", f"np.sum({_key}((s, t)))", (0.3, 0.7), (0, 1),
                  "refused"))
    DEMOS.append((_key, "scalar", "s, t", f"np.sum({_key}((np.array([s]), np.array([t]))))",
                  (0.3, 0.7), (0, 1), "array"))
DEMOS += [
    ("np.matmul", "array", "x, y", "np.sum(np.matmul(x, y) * W22)", (A23, B32), (0, 1),
     "bypassed"),
    ("np.matmul", "array", "x, y", "np.sum(np.matmul(x, y))", (X3, Y3), (0, 1), "bypassed"),
    ("np.matmul", "scalar", "s, t", "np.matmul(s, t) * 1.5", (0.3, 0.7), (0, 1), "refused"),
    ("UAdd", "scalar", "s, t", "+s * t", (0.3, 0.7), (0, 1), "bypassed"),
    ("UAdd", "array", "x, y", "np.sum(+x * y)", (X3, Y3), (0, 1), "bypassed"),
    ("copy", "scalar", "s, t", "u = s\n    return u * t", (0.3, 0.7), (0, 1), "bypassed"),
    ("copy", "array", "x, y", "u = x\n    return np.sum(u * y)", (X3, Y3), (0, 1), "bypassed"),
    ("subscript", "scalar", "x, t", "x[1] * t", (X3, 0.7), (0, 1), "bypassed"),
    ("subscript", "array", "x, y", "np.sum(x[1] * y) + np.sum(x[:, 1:] * W22)", (A23, Y3),
     (0, 1), "bypassed"),
]


# --------------------------------------------------------------------------- the runs

def _source(functions) -> str:
    parts = [USER_SOURCE]
    for name, params, body in functions:
        body = body if "return" in body else f"return {body}"
        parts.append(f"\ndef {name}({params}):\n    {body}\n")
    return "".join(parts)


@pytest.fixture(scope="module")
def user(make_module):
    """The module holding every case's function (and the demos': d_0, d_1, ...). The
    templates are what these tests check, so elementwise expressions stay array
    operations here (SRCGRAD_SCALARIZE=0): scalarize.py would run the scalar templates
    of an array case instead (tests/test_scalarize.py checks that stage)."""
    functions = [(c.fname, c.params, c.body) for c in CASES]
    functions += [(f"d_{k}", d[2], d[3]) for k, d in enumerate(DEMOS)]
    saved = os.environ.get("SRCGRAD_SCALARIZE")
    os.environ["SRCGRAD_SCALARIZE"] = "0"
    try:
        yield make_module(textwrap.dedent(_source(functions)))
    finally:
        if saved is None:
            del os.environ["SRCGRAD_SCALARIZE"]
        else:
            os.environ["SRCGRAD_SCALARIZE"] = saved


@dataclass(frozen=True)
class Outcome:
    units: frozenset      # the template units generated code applied
    error: BaseException | None


def _recording(run) -> Outcome:
    """Run `run()`; the template units it noted, and what it raised."""
    error = None
    with rules.noting_templates() as noted:
        try:
            run()
        except Exception as exc:  # noqa: BLE001 - kept, and raised by the test that owns it
            error = exc
    return Outcome(frozenset(noted), error)


@functools.cache
def _checked(module, case_id: str, mode: str) -> Outcome:
    """The finite-difference check of one case in one mode (uncompiled), once per session:
    the parametrized tests and the coverage test share it."""
    c = CASE_BY_ID[case_id]
    f = getattr(module, c.fname)
    return _recording(lambda: srcgrad.check_grad(f, *c.args, wrt=c.wrt, modes=(mode,), jit=False,
                                                 order=c.order))


def _generated(module, k: int, mode: str) -> Outcome:
    """Generate (not run, not compile) demo k's adjoint or tangent."""
    _key, _form, _params, _body, args, wrt, _expect = DEMOS[k]
    f = getattr(module, f"d_{k}")
    if mode == "rev":
        return _recording(lambda: srcgrad.grad(f, wrt=wrt, jit=False).source_for(*args))
    return _recording(lambda: TangentFunction(f, jit=False).source_for(*args, wrt=wrt))


# --------------------------------------------------------------------------- the tests

def _xfail(c: Case, mode: str, jit: bool) -> list:
    reason = c.xfail.get(mode) or (c.xfail.get(f"{mode}:jit") if jit else None)
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _case_params():
    for c in CASES:
        for mode in ("rev", "fwd"):
            marks = [pytest.mark.slow] if c.id in SLOW else []
            yield pytest.param(c.id, mode, marks=marks + _xfail(c, mode, False),
                               id=f"{c.id}-{mode}")


@pytest.mark.parametrize("case_id, mode", list(_case_params()))
def test_template_against_finite_differences(user, case_id, mode):
    c = CASE_BY_ID[case_id]
    out = _checked(user, case_id, mode)
    if mode == "fwd" and isinstance(out.error, srcgrad.MissingRuleError):
        # forward mode only where srcgrad has it: then the table must have no tangent
        # template for what the case is for
        claimed = {u for u in _units() if u[0] in c.keys and u[2] == c.form and u[3] == "fwd"}
        assert not claimed, f"forward mode refuses {c.id}, but the table has {sorted(claimed)}"
        pytest.skip(f"no forward-mode rule: {out.error}")
    if out.error is not None:
        raise out.error
    reachable = {u for u in _units() if u[0] in c.keys and u[2] == c.form and u[3] == mode}
    if reachable - set(UNREACHABLE):
        applied = {u for u in out.units if u in reachable}
        assert applied, (f"{c.id} applied no {c.form} {mode} template of {', '.join(c.keys)}; "
                         f"it applied {sorted(out.units)}")


@pytest.mark.slow   # it re-runs every case's check in its worker (the cases run in the fast tier)
def test_every_template_is_applied(user):
    units = _units()
    covered: set = set()
    dead = []
    for c in FAST_CASES:
        noted = _checked(user, c.id, "rev").units | _checked(user, c.id, "fwd").units
        if not noted:
            dead.append(c.id)
        covered |= noted
    covered &= units
    unreachable = set(UNREACHABLE)
    missing = units - covered - unreachable
    xfailed = sorted(f"{c.id}-{m}" for c in CASES for m in c.xfail if not m.endswith(":jit"))
    print(f"\nrule templates: {len(units)} units, {len(covered)} covered by {len(FAST_CASES)} cases "
          f"checked against finite differences, {len(unreachable)} unreachable, "
          f"{len(missing)} missing; xfail (rule bugs): {', '.join(xfailed) or 'none'}")
    assert not dead, f"cases that applied no template: {dead}"
    assert not missing, f"template units no case applies: {sorted(missing)}"
    stale = unreachable - units
    assert not stale, f"UNREACHABLE lists units the table does not have: {sorted(stale)}"
    reached = unreachable & covered
    assert not reached, f"UNREACHABLE units a case applies (not unreachable): {sorted(reached)}"


def _demonstrate(user, expects: set[str]) -> tuple[set, list]:
    """Run the demos whose expectation is in `expects`: the (key, form, mode) triples
    of UNREACHABLE they demonstrate, and the problems found."""
    demonstrated: set = set()
    problems: list[str] = []
    for k, (key, form, _params, body, _args, _wrt, expect) in enumerate(DEMOS):
        if expect not in expects:
            continue
        modes = [m for m in ("rev", "fwd")
                 if any(u[0] == key and u[2] == form and u[3] == m for u in UNREACHABLE)]
        assert modes, f"demo {k} ({key} {form}) demonstrates nothing UNREACHABLE claims"
        if expect == "refused":
            # type inference of the function precedes both modes: refused in one, in both
            out = _generated(user, k, modes[0])
            if isinstance(out.error, srcgrad.TypeInferenceError) and not out.units:
                demonstrated |= {(key, form, m) for m in modes}
            else:
                problems.append(f"demo {k} ({key} {form}: {body!r}) was not refused by type "
                                f"inference: {out.error!r}, {sorted(out.units)}")
            continue
        for mode in modes:
            out = _generated(user, k, mode)
            of_key = {u for u in out.units if u[0] == key and u[3] == mode}
            where = f"demo {k} ({key} {form} {mode}: {body!r})"
            if out.error is not None:
                problems.append(f"{where} was not generated: {out.error!r}")
            elif any(u[2] == form for u in of_key):
                problems.append(f"{where} applies {sorted(of_key)}: reachable")
            elif expect == "array" and not of_key:
                problems.append(f"{where} did not apply the array form: {sorted(out.units)}")
            elif expect == "bypassed" and (of_key or not out.units):
                problems.append(f"{where} was not generated without the template: "
                                f"{sorted(out.units)}")
            else:
                demonstrated.add((key, form, mode))
    return demonstrated, problems


_REFUSED = {(d[0], d[1]) for d in DEMOS if d[6] == "refused"}


def test_unreachable_units_are_refused(user):
    """The units UNREACHABLE claims for programs Numba cannot type: each (key, form) has a
    program that tries to reach it, and type inference refuses it."""
    demonstrated, problems = _demonstrate(user, {"refused"})
    assert not problems, "\n".join(problems)
    claimed = {(u[0], u[2], u[3]) for u in UNREACHABLE if (u[0], u[2]) in _REFUSED}
    assert claimed <= demonstrated, f"no demonstration for {sorted(claimed - demonstrated)}"


@pytest.mark.slow
def test_unreachable_units_are_bypassed(user):
    """The other units of UNREACHABLE: each (key, form, mode) has a program that tries to
    reach it, and srcgrad applies the array form instead, or no template of the key."""
    demonstrated, problems = _demonstrate(user, {"array", "bypassed"})
    assert not problems, "\n".join(problems)
    claimed = {(u[0], u[2], u[3]) for u in UNREACHABLE if (u[0], u[2]) not in _REFUSED}
    assert claimed <= demonstrated, f"no demonstration for {sorted(claimed - demonstrated)}"


def test_case_table_names_real_rules():
    """Every case is for keys of the table, in a form they have templates in."""
    for c in CASES:
        for key in c.keys:
            assert key in RULES and _with_templates(key, c.form), (c.id, key)


# ----- compiled: one case per family in the fast tier, the others in the slow tier
# Numba compiles srcgrad's runtime helpers once per process for each type signature: the
# first compiled array adjoint costs about 12 s, each further family 5 to 20 s (binary
# with broadcasting, reductions with an axis, products, shapes, stacking: about 65 s
# together, cold). So the fast tier compiles one scalar and one array case, and the
# slow tier compiles every template once: the first case of each rule key and form
# (and the family representatives and known bugs below); every case compiled would
# take about 20 minutes.
COMPILED_FAST = [
    "math.atan2[scalar,0]",               # scalar math
    "np.tanh[array]",                     # elementwise unary on arrays
]
COMPILED_SLOW_EXTRA = [
    "np_ops.max_axis[axis=1,keepdims]",   # a reduction keeping its axis
    "np.stack[axis=1]",                   # stacking along the last axis
    "np.where[array,float]",              # a float operand unbroadcast
    "np.copy[0d]",                        # a bug seen compiled only
]


def _compiled_slow_ids() -> list[str]:
    seen = {(CASE_BY_ID[i].keys, CASE_BY_ID[i].form) for i in COMPILED_FAST}
    ids = []
    for c in CASES:
        if (c.keys, c.form) not in seen or c.id in COMPILED_SLOW_EXTRA:
            seen.add((c.keys, c.form))
            ids.append(c.id)
    return ids


def _compiled_params(fast: bool):
    for case_id in (COMPILED_FAST if fast else _compiled_slow_ids()):
        c = CASE_BY_ID[case_id]
        for mode in ("rev", "fwd"):
            marks = [] if fast else [pytest.mark.slow]
            yield pytest.param(c.id, mode, marks=marks + _xfail(c, mode, True),
                               id=f"{c.id}-{mode}")


def _check_compiled(user, case_id, mode):
    c = CASE_BY_ID[case_id]
    if mode == "fwd" and isinstance(_checked(user, case_id, mode).error, srcgrad.MissingRuleError):
        pytest.skip("no forward-mode rule (see the uncompiled test)")
    srcgrad.check_grad(getattr(user, c.fname), *c.args, wrt=c.wrt, modes=(mode,), jit=True,
                       order=c.order)


@pytest.mark.parametrize("case_id, mode", list(_compiled_params(fast=True)))
def test_template_compiled(user, case_id, mode):
    _check_compiled(user, case_id, mode)


@pytest.mark.parametrize("case_id, mode", list(_compiled_params(fast=False)))
def test_template_compiled_slow(user, case_id, mode):
    _check_compiled(user, case_id, mode)


def test_compiled_subset_exists():
    named = set(COMPILED_FAST) | set(COMPILED_SLOW_EXTRA)
    assert named <= set(CASE_BY_ID), sorted(named - set(CASE_BY_ID))
    # every case with a bug seen compiled only is compiled
    assert {c.id for c in CASES if any(m.endswith(":jit") for m in c.xfail)} \
        <= set(COMPILED_FAST) | set(_compiled_slow_ids())
