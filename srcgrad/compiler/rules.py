"""Stage 7, rules: one table of derivative rules, one entry per primitive.

Each entry gives, for ``ans = f(x, y, ...)``, one template per argument: the
contribution to that argument's adjoint, as a Python expression over ``g``
(the adjoint of ``ans``), ``ans`` and the argument names. ``None`` means a
zero derivative; ``MISSING`` means srcgrad has no rule for that argument (an
error if it is differentiated). Templates are ordinary source (lintable,
readable), parsed once, and substituted into the generated adjoint by name.

A rule may have a second set of templates for arrays (``array=``), used when
the operation involves an array: binary operators then sum the adjoint over
broadcast dimensions (``unbroadcast``). Functions the templates call live in
the runtime (``srcgrad/runtime/arrays.py``, ``np_ops.py``, ``special.py``).

Conventions at non-differentiable points follow JAX: ``abs`` has slope 1 at
0; builtin ``max``/``min`` send the whole adjoint to the argument Python
returns (the first one on a tie); ``np.maximum``/``np.minimum`` split it
equally on a tie; ``x ** y`` has d/dy = 0 at x = 0 (scalars).
"""

from __future__ import annotations

import ast
import copy
import math
from contextlib import contextmanager
from dataclasses import dataclass, field

from .core import MODULE_NAMES

MISSING = "<missing>"

_IGNORED_NAMES = {"g", "None", "True", "False", *MODULE_NAMES}


def _parse(templates) -> tuple:
    return tuple(None if t is None or t == MISSING else ast.parse(t, mode="eval").body
                 for t in templates)


@dataclass(frozen=True)
class Rule:
    params: tuple[str, ...]
    partials: tuple[str | None, ...]
    array_partials: tuple[str | None, ...]
    defaults: dict = field(compare=False, default_factory=dict)
    parsed: tuple = field(compare=False, default=())
    array_parsed: tuple = field(compare=False, default=())
    # why the result carries no derivative, for a function on the non-differentiable
    # list (every argument then has a zero partial); "" for a function with a rule
    nondiff: str = ""

    def template(self, index: int, array: bool) -> ast.expr | None:
        return (self.array_parsed if array else self.parsed)[index]

    def missing(self, index: int, array: bool) -> bool:
        if self.nondiff:
            return False
        return (self.array_partials if array else self.partials)[index] == MISSING

    def zero(self, index: int, array: bool) -> bool:
        if self.nondiff:
            return True
        return (self.array_partials if array else self.partials)[index] is None

    def param_index(self, name: str) -> int | None:
        """The position of parameter `name` (for a keyword argument), or None."""
        for i, p in enumerate(self.params):
            if p == name or name in self.aliases(p):
                return i
        return None

    def aliases(self, param: str) -> tuple[str, ...]:
        return tuple(self.defaults.get("aliases", {}).get(param, ()))

    def singular(self, index: int) -> bool:
        """Whether the scalar template for argument `index` can be infinite or NaN where the
        function's value is finite or its adjoint is 0 (a division by an operand, a power, a
        logarithm): sqrt and hypot at 0, arcsin at 1, x ** 0.5 at 0, and so on. The reverse
        sweep guards these contributions so that a zero adjoint adds exactly 0."""
        tree = self.parsed[index]
        return tree is not None and may_blow_up(tree)

    def needs(self, index: int, array: bool = False) -> set[str]:
        """Names the template for argument `index` reads, besides g."""
        tree = self.template(index, array)
        if tree is None:
            return set()
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - _IGNORED_NAMES \
            - RUNTIME_NAMES - EXTERNAL_NAMES


_LOGS = {"math.log", "np.log"}


def _constant(tree: ast.expr) -> bool:
    return all(isinstance(n, (ast.Constant, ast.BinOp, ast.operator, ast.Load))
               or isinstance(n, ast.Attribute) and n.attr == "pi"
               or isinstance(n, ast.Name) and n.id in ("math", "np") for n in ast.walk(tree))


def _value(tree: ast.expr) -> float:
    expr = ast.fix_missing_locations(ast.Expression(copy.deepcopy(tree)))
    return eval(compile(expr, "<rule>", "eval"), {"math": math, "np": math})


def may_blow_up(tree: ast.expr) -> bool:
    """Whether an adjoint term can be infinite or NaN at finite operands: it divides by a
    variable, raises to a variable or negative power, or takes a logarithm."""
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow) \
                and not (_constant(node.right) and _value(node.right) >= 0):
            return True
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Div, ast.FloorDiv, ast.Mod)) \
                and not _constant(node.right):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and isinstance(node.func.value, ast.Name) \
                and (f"{node.func.value.id}.{node.func.attr}" in _LOGS
                     or node.func.value.id == "special"):  # poles: digamma, logit, ...
            return True
    return False


# Functions of the runtime (srcgrad/runtime/arrays.py) that templates call by name: not
# variables of a rule. Generated code imports the ones it uses.
RUNTIME_NAMES = {
    "unbroadcast", "sum_grad", "mean_grad", "prod_grad", "max_grad", "min_grad",
    "cumsum_grad", "matmul_grad_a", "matmul_grad_b", "outer_grad_a", "outer_grad_b",
    "trace_grad", "norm_grad", "transpose_grad", "reshape_grad", "maximum_grad_x",
    "maximum_grad_y", "minimum_grad_x", "minimum_grad_y", "clip_grad", "where_grad_x",
    "where_grad_y", "abs_grad", "concatenate_grad", "stack_grad", "vjp_part",
    "greater_slope", "less_slope", "sign_slope", "clip_slope", "max_weights", "min_weights",
}

# Functions that user rules (custom.py) call: globals of the generated module.
EXTERNAL_NAMES: set[str] = set()

RULES: dict[str, Rule] = {}


def defrule(names: str | tuple[str, ...], params: str, *partials: str | None,
            array: tuple | None = None, defaults: dict | None = None) -> None:
    """Register one rule under one or several canonical names."""
    plist = tuple(p.strip() for p in params.split(","))
    array = tuple(partials) if array is None else tuple(array)
    if not len(plist) == len(partials) == len(array):
        raise ValueError(f"rule {names}: {len(plist)} params, {len(partials)} partials")
    rule = Rule(plist, tuple(partials), array, dict(defaults or {}), _parse(partials),
                _parse(array))
    for name in (names,) if isinstance(names, str) else names:
        RULES[name] = rule


def nondiff(reason: str, *names: str) -> None:
    """Put functions on the non-differentiable list: their result does not depend
    differentiably on any argument (it is an integer or a boolean, piecewise constant,
    or made from a shape alone), for the reason given. This list and the rules are
    the only ways a call escapes ``MissingRuleError``: a call is never a constant by
    default."""
    for name in names:
        RULES[name] = Rule((), (), (), nondiff=reason)


# Functions refused with a reason (no rule; MissingRuleError says why): name -> reason
REFUSED: dict[str, str] = {}


def refuse(reason: str, *names: str) -> None:
    """Refuse to differentiate calls to these functions, for the reason given (added to the
    MissingRuleError at the call)."""
    for name in names:
        REFUSED[name] = reason


NON_DIFFERENTIABLE_REASONS = {
    "int": "integer-valued: piecewise constant",
    "bool": "boolean-valued",
    "compare": "boolean-valued",
    "shape": "depends on shapes only, not on values",
    "create": "made from a shape (and constants): the values do not depend on the arguments",
    "index": "integer positions (of elements, of a sort order, of bins)",
    "user": "marked by the user with srcgrad.non_differentiable",
    "stop": "srcgrad.stop_gradient: the identity with no derivative, by definition",
    "real": "of a real number, a constant: its imaginary part is 0, its angle 0 or pi",
    "slope": "the local slope of a piecewise-linear function: piecewise constant",
}


def non_differentiable_functions() -> dict[str, str]:
    """The non-differentiable list: canonical name -> why it carries no derivative."""
    return {name: rule.nondiff for name, rule in RULES.items() if rule.nondiff}


# ----- Operators (keys are the ast operator class names) -----
defrule("Add", "x, y", "g", "g",
        array=("unbroadcast(g, x)", "unbroadcast(g, y)"))
defrule("Sub", "x, y", "g", "-g",
        array=("unbroadcast(g, x)", "unbroadcast(-g, y)"))
defrule("Mult", "x, y", "g * y", "g * x",
        array=("unbroadcast(g * y, x)", "unbroadcast(g * x, y)"))
defrule("Div", "x, y", "g / y", "-g * ans / y",
        array=("unbroadcast(g / y, x)", "unbroadcast(-g * ans / y, y)"))
defrule("Pow", "x, y", "g * y * x ** (y - 1)",
        "g * math.log(x if x != 0 else 1.0) * ans",
        array=("unbroadcast(g * y * x ** (y - 1), x)", "unbroadcast(g * np.log(x) * ans, y)"))
defrule("Mod", "x, y", "g", "-g * math.floor(x / y)",
        array=("unbroadcast(g, x)", "unbroadcast(-g * np.floor(x / y), y)"))
defrule("MatMult", "x, y", MISSING, MISSING,
        array=("matmul_grad_a(g, x, y)", "matmul_grad_b(g, x, y)"))
defrule("USub", "x", "-g")
defrule("UAdd", "x", "g")
defrule("copy", "x", "g")

# ----- Builtins -----
defrule("abs", "x", "g * (1.0 if x >= 0 else -1.0)", array=("abs_grad(g, x)",))
defrule("max", "x, y", "g * (1.0 if x >= y else 0.0)", "g * (0.0 if x >= y else 1.0)")
defrule("min", "x, y", "g * (1.0 if x <= y else 0.0)", "g * (0.0 if x <= y else 1.0)")
defrule("float", "x", "g")

# ----- math: trigonometric -----
defrule("math.sin", "x", "g * math.cos(x)")
defrule("math.cos", "x", "-g * math.sin(x)")
defrule("math.tan", "x", "g * (1.0 + ans * ans)")
defrule("math.asin", "x", "g / math.sqrt(1.0 - x * x)")
defrule("math.acos", "x", "-g / math.sqrt(1.0 - x * x)")
defrule("math.atan", "x", "g / (1.0 + x * x)")
defrule("math.atan2", "y, x", "g * x / (x * x + y * y)", "-g * y / (x * x + y * y)")
defrule("math.hypot", "x, y", "g * x / ans", "g * y / ans")
defrule("math.degrees", "x", "g * (180.0 / math.pi)")
defrule("math.radians", "x", "g * (math.pi / 180.0)")

# ----- math: hyperbolic -----
defrule("math.sinh", "x", "g * math.cosh(x)")
defrule("math.cosh", "x", "g * math.sinh(x)")
defrule("math.tanh", "x", "g * (1.0 - ans * ans)")
defrule("math.asinh", "x", "g / math.sqrt(x * x + 1.0)")
defrule("math.acosh", "x", "g / math.sqrt(x * x - 1.0)")
defrule("math.atanh", "x", "g / (1.0 - x * x)")

# ----- math: exponentials, logarithms, powers -----
defrule("math.exp", "x", "g * ans")
defrule("math.expm1", "x", "g * (ans + 1.0)")
defrule("math.exp2", "x", "g * ans * 0.6931471805599453")
defrule("math.log", "x", "g / x")
defrule("math.log1p", "x", "g / (1.0 + x)")
defrule("math.log10", "x", "g / (x * 2.302585092994046)")
defrule("math.log2", "x", "g / (x * 0.6931471805599453)")
defrule("math.sqrt", "x", "g * 0.5 / ans")
defrule("math.pow", "x, y", "g * y * x ** (y - 1)",
        "g * math.log(x if x != 0 else 1.0) * ans")
defrule("math.fabs", "x", "g * (1.0 if x >= 0 else -1.0)")
defrule("math.erf", "x", "g * 1.1283791670955126 * math.exp(-x * x)")
defrule("math.erfc", "x", "-g * 1.1283791670955126 * math.exp(-x * x)")
defrule("math.copysign", "x, y", "g * (1.0 if (x >= 0) == (ans >= 0) else -1.0)", None)

# ----- scipy.special (srcgrad/special.py) -----
# As jax.scipy.special (and jax.lax) where JAX defines the derivative; every function
# a template calls has a rule of its own, so second derivatives work: gamma and
# gammaln call digamma, digamma calls polygamma(1, x), polygamma(n, x) calls
# polygamma(n + 1, x). np.exp/np.log/np.log1p serve scalars and arrays alike (and give
# NaN, not an exception, outside their domain when run uncompiled).
defrule("math.gamma", "x", "g * ans * special.digamma(x)")
defrule("math.lgamma", "x", "g * special.digamma(x)")
defrule("special.expit", "x", "g * ans * (1.0 - ans)")
# inf at 0 and 1, as JAX
defrule("special.logit", "x", "g / (x * (1.0 - x))")
# JAX has no log_expit; jax.nn.log_sigmoid's derivative is this one
defrule("special.log_expit", "x", "g * special.expit(-x)")
defrule("special.erf", "x", "g * 1.1283791670955126 * np.exp(-x * x)")
defrule("special.erfc", "x", "-g * 1.1283791670955126 * np.exp(-x * x)")
defrule("special.gamma", "x", "g * ans * special.digamma(x)")
defrule("special.gammaln", "x", "g * special.digamma(x)")
defrule(("special.digamma", "special.psi"), "x", "g * special.polygamma(1, x)")
# n is an integer order: zero derivative (JAX raises for a derivative with respect to n)
defrule("special.polygamma", "n, x", None, "g * special.polygamma(n + 1, x)",
        array=(None, "unbroadcast(g * special.polygamma(n + 1, x), x)"))
# JAX's jvps: log(y) and x / y even at x == 0, where the value is 0 for every y (so
# d/dx is -inf and d/dy NaN at x == y == 0, as JAX)
defrule("special.xlogy", "x, y", "g * np.log(y)", "g * x / y",
        array=("unbroadcast(g * np.log(y), x)", "unbroadcast(g * x / y, y)"))
defrule("special.xlog1py", "x, y", "g * np.log1p(y)", "g * x / (1.0 + y)",
        array=("unbroadcast(g * np.log1p(y), x)", "unbroadcast(g * x / (1.0 + y), y)"))
# -(log(x) + 1): +inf at 0 and NaN for x < 0 (where the value is the constant -inf), as
# jax.grad (JAX's jvp says 0 there)
defrule("special.entr", "x", "-g * (np.log(x) + 1.0)")
# the reductions (tangents below, under Forward mode): a scalar argument is one lane
# (logsumexp(a) = a; softmax = 1 and log_softmax = 0, constants). The gradient of
# logsumexp is softmax; all three give NaN where the value is not finite, as JAX. The
# adjoints are loops in special.py (any ndim); the tangents are calls with rules. A call
# with an axis has a name of its own (special.SCIPY_AXIS_NAMES), so that the rules of a
# call without one do not pass axis=None on (generated code has no None).
defrule("special.logsumexp", "a", "g", array=("special.logsumexp_grad(g, a, ans)",))
defrule("special.logsumexp_axis", "a, axis", "g", None,
        array=("special.logsumexp_grad(g, a, ans, axis)", None))
defrule("special.softmax", "x", None, array=("special.softmax_grad(g, ans)",))
defrule("special.softmax_axis", "x, axis", None, None,
        array=("special.softmax_grad(g, ans, axis)", None))
defrule("special.log_softmax", "x", None, array=("special.log_softmax_grad(g, ans)",))
defrule("special.log_softmax_axis", "x, axis", None, None,
        array=("special.log_softmax_grad(g, ans, axis)", None))

# ----- NumPy: elementwise (the same templates serve scalars and arrays) -----
defrule("np.sin", "x", "g * np.cos(x)")
defrule("np.cos", "x", "-g * np.sin(x)")
defrule("np.tan", "x", "g * (1.0 + ans * ans)")
defrule("np.arcsin", "x", "g / np.sqrt(1.0 - x * x)")
defrule("np.arccos", "x", "-g / np.sqrt(1.0 - x * x)")
defrule("np.arctan", "x", "g / (1.0 + x * x)")
defrule("np.arctan2", "y, x", "g * x / (x * x + y * y)", "-g * y / (x * x + y * y)",
        array=("unbroadcast(g * x / (x * x + y * y), y)",
               "unbroadcast(-g * y / (x * x + y * y), x)"))
defrule("np.hypot", "x, y", "g * x / ans", "g * y / ans",
        array=("unbroadcast(g * x / ans, x)", "unbroadcast(g * y / ans, y)"))
defrule("np.sinh", "x", "g * np.cosh(x)")
defrule("np.cosh", "x", "g * np.sinh(x)")
defrule("np.tanh", "x", "g * (1.0 - ans * ans)")
defrule("np.arcsinh", "x", "g / np.sqrt(x * x + 1.0)")
defrule("np.arccosh", "x", "g / np.sqrt(x * x - 1.0)")
defrule("np.arctanh", "x", "g / (1.0 - x * x)")
defrule("np.exp", "x", "g * ans")
defrule("np.expm1", "x", "g * (ans + 1.0)")
defrule("np.exp2", "x", "g * ans * 0.6931471805599453")
defrule("np.log", "x", "g / x")
defrule("np.log1p", "x", "g / (1.0 + x)")
defrule("np.log10", "x", "g / (x * 2.302585092994046)")
defrule("np.log2", "x", "g / (x * 0.6931471805599453)")
defrule("np.sqrt", "x", "g * 0.5 / ans")
defrule("np.cbrt", "x", "g / (3.0 * ans * ans)")  # math.cbrt: Numba cannot compile it
defrule("np.square", "x", "g * 2.0 * x")
defrule("np.power", "x, y", "g * y * x ** (y - 1)",
        "g * math.log(x if x != 0 else 1.0) * ans",
        array=("unbroadcast(g * y * x ** (y - 1), x)", "unbroadcast(g * np.log(x) * ans, y)"))
defrule(("np.abs", "np.absolute", "np.fabs"), "x", "g * (1.0 if x >= 0 else -1.0)",
        array=("abs_grad(g, x)",))
defrule("np.degrees", "x", "g * (180.0 / np.pi)")
defrule("np.rad2deg", "x", "g * (180.0 / np.pi)")
defrule(("np.radians", "np.deg2rad"), "x", "g * (np.pi / 180.0)")
defrule("np.copysign", "x, y", "g * (1.0 if (x >= 0) == (ans >= 0) else -1.0)", None,
        array=(MISSING, None))
defrule("np.fmod", "x, y", "g", "-g * math.trunc(x / y)",
        array=("unbroadcast(g, x)", "unbroadcast(-g * np.trunc(x / y), y)"))
defrule("np.maximum", "x, y", "g * (1.0 if x > y else (0.5 if x == y else 0.0))",
        "g * (1.0 if y > x else (0.5 if x == y else 0.0))",
        array=("unbroadcast(maximum_grad_x(g, x, y), x)",
               "unbroadcast(maximum_grad_y(g, x, y), y)"))
defrule("np.minimum", "x, y", "g * (1.0 if x < y else (0.5 if x == y else 0.0))",
        "g * (1.0 if y < x else (0.5 if x == y else 0.0))",
        array=("unbroadcast(minimum_grad_x(g, x, y), x)",
               "unbroadcast(minimum_grad_y(g, x, y), y)"))
# the bounds may be given by NumPy's keywords (a_min/a_max, and min/max since NumPy 2.1)
defrule("np.clip", "x, lo, hi", "clip_grad(g, x, lo, hi)", MISSING, MISSING,
        array=("unbroadcast(clip_grad(g, x, lo, hi), x)", MISSING, MISSING),
        defaults={"aliases": {"x": ("a",), "lo": ("a_min", "min"), "hi": ("a_max", "max")}})
defrule("np.where", "c, x, y", None, "unbroadcast(where_grad_x(g, c), x)",
        "unbroadcast(where_grad_y(g, c), y)")
# ----- NumPy: other elementwise functions (np.add and the other ufuncs of Python's
# operators are written as the operators: normalize._OPERATOR_UFUNCS) -----
defrule(("np.positive", "np.real", "np.conjugate"), "x", "g")   # real inputs: the identity
defrule("np.reciprocal", "x", "-g * ans * ans")
defrule("np.float_power", "x, y", "g * y * x ** (y - 1)",
        "g * math.log(x if x != 0 else 1.0) * ans",
        array=("unbroadcast(g * y * x ** (y - 1), x)", "unbroadcast(g * np.log(x) * ans, y)"))
# as np.maximum, but NaN is ignored: where y is NaN the result (and the derivative) is x's
defrule("np.fmax", "x, y", "g * (1.0 if x > y or y != y else (0.5 if x == y else 0.0))",
        "g * (1.0 if y > x or x != x else (0.5 if x == y else 0.0))",
        array=("unbroadcast(g * np.where((x > y) | (y != y), 1.0, np.where(x == y, 0.5, 0.0)), x)",
               "unbroadcast(g * np.where((y > x) | (x != x), 1.0, np.where(x == y, 0.5, 0.0)), y)"))
defrule("np.fmin", "x, y", "g * (1.0 if x < y or y != y else (0.5 if x == y else 0.0))",
        "g * (1.0 if y < x or x != x else (0.5 if x == y else 0.0))",
        array=("unbroadcast(g * np.where((x < y) | (y != y), 1.0, np.where(x == y, 0.5, 0.0)), x)",
               "unbroadcast(g * np.where((y < x) | (x != x), 1.0, np.where(x == y, 0.5, 0.0)), y)"))
defrule("np.logaddexp", "x, y", "g * np.exp(x - ans)", "g * np.exp(y - ans)",
        array=("unbroadcast(g * np.exp(x - ans), x)", "unbroadcast(g * np.exp(y - ans), y)"))
defrule("np.logaddexp2", "x, y", "g * np.exp2(x - ans)", "g * np.exp2(y - ans)",
        array=("unbroadcast(g * np.exp2(x - ans), x)", "unbroadcast(g * np.exp2(y - ans), y)"))
# np.sinc: under "statistics" (stats.sinc_deriv, exact near 0 and to any order)
defrule(("np.ldexp", "math.ldexp"), "x, i", "g * 2.0 ** i", None,
        array=("unbroadcast(g * 2.0 ** i, x)", None))
# x moved by one unit in the last place: the derivative of the identity, as JAX
defrule(("np.nextafter", "math.nextafter"), "x, y", "g", None,
        array=("unbroadcast(g + 0.0 * y, x)", None))

# ----- NumPy: reductions (np_ops.* take axis and keepdims, which Numba lacks) -----
defrule("np.sum", "x", "g")
defrule("np.mean", "x", "mean_grad(g, x, None, False)")
defrule("np.prod", "x", "prod_grad(g, x, ans, None, False)")
defrule(("np.max", "np.amax"), "x", "max_grad(g, x, ans, None, False)")
defrule(("np.min", "np.amin"), "x", "min_grad(g, x, ans, None, False)")
defrule("np_ops.sum_axis", "x, axis, keepdims", "sum_grad(g, x, axis, keepdims)", None, None)
defrule("np_ops.mean_axis", "x, axis, keepdims", "mean_grad(g, x, axis, keepdims)", None,
        None)
defrule("np_ops.prod_axis", "x, axis, keepdims", "prod_grad(g, x, ans, axis, keepdims)",
        None, None)
defrule("np_ops.max_axis", "x, axis, keepdims", "max_grad(g, x, ans, axis, keepdims)", None,
        None)
defrule("np_ops.min_axis", "x, axis, keepdims", "min_grad(g, x, ans, axis, keepdims)", None,
        None)
defrule("np.cumsum", "x", "cumsum_grad(g, x, None)")
defrule("np_ops.cumsum_axis", "x, axis", "cumsum_grad(g, x, axis)", None)

# ----- NumPy: products and norms -----
defrule(("np.dot", "np.matmul"), "x, y", "g * y", "g * x",
        array=("matmul_grad_a(g, x, y)", "matmul_grad_b(g, x, y)"))
defrule("np.outer", "x, y", MISSING, MISSING,
        array=("outer_grad_a(g, x, y)", "outer_grad_b(g, x, y)"))
# offset: the diagonal above (below, if negative) the main one; an int, no derivative
defrule("np.trace", "x, offset", "trace_grad(g, x, offset)", None, defaults={"offset": "0"})
defrule("np.linalg.norm", "x, ord", "norm_grad(g, x, ans, ord)", None,
        defaults={"ord": "None"})
defrule("np.linalg.inv", "x", MISSING, array=("-(ans.T @ (g @ ans.T))",))

# ----- NumPy: linear algebra (srcgrad/runtime/linalg.py) -----
# As jax.numpy.linalg; matrices are 2-D (Numba's np.linalg takes no stacks). Functions
# returning tuples are split into their parts (normalize.TUPLE_PARTS), each with a rule.
# The tangents (under Forward mode below) call only functions with rules, so that they
# can be differentiated again; the adjoints call helpers of linalg.py. eigh, eigvalsh and
# cholesky differentiate the symmetrized input, as JAX: their adjoints are symmetric.
# log|det A|: d = tr(A^-1 dA), so the adjoint is g A^-T; the sign is piecewise constant
defrule("linalg.slogdet_logabsdet", "x", MISSING, array=("g * np.linalg.inv(x).T",))
# d det = tr(cof(A)^T dA); the cofactor matrix comes from the SVD, so singular A is exact
defrule("np.linalg.det", "a", MISSING, array=("g * linalg.cofactor(a)",))
defrule("linalg.cofactor", "a", MISSING, array=(
    "np.sum(g * ans) * np.linalg.inv(a).T - np.linalg.inv(a).T @ g.T @ ans",))
defrule("np.linalg.solve", "a, b", MISSING, MISSING,
        array=("linalg.solve_grad_a(g, a, ans)", "np.linalg.solve(a.T, g)"))
defrule("np.linalg.cholesky", "a", MISSING, array=("linalg.cholesky_grad(g, ans)",))
defrule(("linalg.eigh_values", "np.linalg.eigvalsh"), "a", MISSING,
        array=("linalg.eigh_values_grad(g, a)",))
defrule("linalg.eigh_vectors", "a", MISSING, array=("linalg.eigh_vectors_grad(g, a)",))
# reduced QR of a square or tall matrix (a wide one raises ValueError)
defrule("linalg.qr_q", "a", MISSING, array=("linalg.qr_q_grad(g, a)",))
defrule("linalg.qr_r", "a", MISSING, array=("linalg.qr_r_grad(g, a)",))
# distinct singular values; U (Vt) of full_matrices=True for a tall (wide) matrix raises
# ValueError: its extra columns (rows) are not unique
_SVD = {"full_matrices": "True"}
defrule("linalg.svd_u", "a, full_matrices", MISSING, None,
        array=("linalg.svd_u_grad(g, a, full_matrices)", None), defaults=_SVD)
defrule("linalg.svd_s", "a, full_matrices", MISSING, None,
        array=("linalg.svd_s_grad(g, a, full_matrices)", None), defaults=_SVD)
defrule("linalg.svd_vt", "a, full_matrices", MISSING, None,
        array=("linalg.svd_vt_grad(g, a, full_matrices)", None), defaults=_SVD)
# constant rank (rcond decides the rank: piecewise constant)
defrule("np.linalg.pinv", "a, rcond", MISSING, None,
        array=("linalg.pinv_grad(g, a, ans)", None))
# the solution pinv(a) @ b; the residuals and singular values are refused, the rank is
# an int (the non-differentiable list)
defrule("linalg.lstsq_solution", "a, b, rcond", MISSING, MISSING, None,
        array=("linalg.lstsq_grad_a(g, a, b)", "np.linalg.pinv(a).T @ g", None))
refuse("only the solution of np.linalg.lstsq is differentiated: write the residuals as "
       "np.sum((a @ x - b) ** 2, axis=0), the singular values as np.linalg.svd(a, "
       "compute_uv=False)", "linalg.lstsq_residuals", "linalg.lstsq_singular_values")
defrule("np.kron", "a, b", MISSING, MISSING,
        array=("linalg.kron_grad_a(g, a, b)", "linalg.kron_grad_b(g, a, b)"))
defrule("np.cross", "a, b", MISSING, MISSING,
        array=("linalg.cross_grad_a(g, a, b)", "linalg.cross_grad_b(g, a, b)"))
defrule("linalg.vdot", "a, b", MISSING, MISSING,
        array=("linalg.vdot_grad(g, b, a)", "linalg.vdot_grad(g, a, b)"))
# np.einsum (and np.tensordot, np.inner): multilinear, so each operand's adjoint is an
# einsum of g and the other operands, and the tangent the einsum with one tangent operand
defrule("linalg.einsum1", "subscripts, a", MISSING, MISSING,
        array=(None, "linalg.einsum_grad1(subscripts, 0, g, a)"))
defrule("linalg.einsum2", "subscripts, a, b", MISSING, MISSING, MISSING,
        array=(None, "linalg.einsum_grad2(subscripts, 0, g, a, b)",
               "linalg.einsum_grad2(subscripts, 1, g, a, b)"))
# eigenvalues and eigenvectors of a general matrix are complex (Numba returns their real
# parts, and raises where they are not real)
refuse("eigenvalues and eigenvectors of a non-symmetric matrix are complex, and srcgrad "
       "differentiates real results (for a symmetric matrix use np.linalg.eigh or eigvalsh)",
       "np.linalg.eig", "np.linalg.eigvals", "linalg.eig_values",
       "linalg.eig_vectors")
# Functions the tangents call (their rules make second derivatives work): F of eigenvector
# derivatives, triangles, the vector or matrix view of a norm's argument, checks
defrule("linalg.gaps", "w", MISSING, array=(
    "np_ops.sum_axis(g * ans * ans, 1, False) - np_ops.sum_axis(g * ans * ans, 0, False)",))
defrule("linalg.lower", "x, diag", MISSING, None, array=("linalg.lower(g, diag)", None))
defrule("linalg.skew", "x", MISSING, array=("linalg.lower(g - g.T, 0.0)",))
defrule("linalg.as_matrix", "x", MISSING, array=("reshape_grad(g, x)",))
defrule(("linalg.vector", "linalg.matrix"), "x", MISSING, array=("g",))
defrule("linalg.keepdims_like", "r, x", MISSING, None, array=("np.sum(g)", None))
defrule("linalg.keep_if", "cond, t", None, MISSING, array=(None, "linalg.keep_if(cond, g)"))
defrule("linalg.qr_checked", "q, x", MISSING, None, array=("g", None))
# max and min of norms (ties split equally, as np.max's rule) with tangents that have rules
defrule(("linalg.amax", "linalg.amin"), "x", MISSING, array=("g * linalg.tie_weights(x, ans)",))
defrule(("linalg.amax_axis", "linalg.amin_axis"), "x, axis, keepdims", MISSING, None, None,
        array=("max_grad(g, x, ans, axis, keepdims)", None, None))
defrule(("linalg.unique_u", "linalg.unique_vt"), "u, x, full_matrices", MISSING, None, None,
        array=("g", None, None))

# ----- NumPy: shapes and copies -----
defrule("attr.T", "x", "transpose_grad(g)")
# axes: a permutation; the adjoint transposes g by its inverse
defrule("np.transpose", "x, axes", "transpose_grad(g, axes)", None,
        defaults={"axes": "None", "aliases": {"x": ("a",)}})
defrule("np.reshape", "x, shape", "reshape_grad(g, x)", None)
defrule("np.copy", "x", "g", array=("unbroadcast(g, x)",))  # a float gives a 0-d array
defrule("np.ascontiguousarray", "x", "g", array=("unbroadcast(g, x)",))
defrule("subscript", "x", "g")  # applied by segment.py: b_x[index] += g

# ----- NumPy: shapes and orders -----
# The normalizer writes the functions Numba lacks (or lacks arguments of) as calls to
# srcgrad/runtime/shapes.py with every argument positional (normalize.SHAPE_CALLS), and a
# few as other calls with rules (np.append as np.concatenate, np.select as np.where, ...).
# These functions take arrays: a float argument gives an array result, so only the array
# templates exist. Most copy elements to new places; the adjoint of such a gather
# (shapes.*_grad) adds g back to where each element came from, repeated sources adding up,
# and its tangent is the same function of the tangent, so every order works. Their
# tangents are under "Forward mode", below.
defrule(("np.atleast_1d", "np.atleast_2d", "np.atleast_3d"), "x", MISSING,
        array=("reshape_grad(g, x)",))
defrule("np.ravel", "a", MISSING, array=("reshape_grad(g, a)",))
defrule("np.expand_dims", "a, axis", MISSING, None, array=("reshape_grad(g, a)", None))
defrule("shapes.squeeze", "x, axis", MISSING, None, array=("reshape_grad(g, x)", None))
defrule("np.swapaxes", "a, axis1, axis2", MISSING, None, None,
        array=("np.swapaxes(g, axis1, axis2)", None, None))
defrule("shapes.moveaxis", "x, source, destination", MISSING, None, None,
        array=("shapes.moveaxis(g, destination, source)", None, None))
defrule("np.broadcast_to", "array, shape", MISSING, None, array=("unbroadcast(g, array)", None))
defrule("np.flip", "m", MISSING, array=("np.flip(g)",))  # every axis
defrule("shapes.flip", "x, axis", MISSING, None, array=("shapes.flip_grad(g, x, axis)", None))
defrule("shapes.rot90", "x, k, axes", MISSING, None, None,
        array=("shapes.rot90_grad(g, x, k, axes)", None, None))
defrule("shapes.roll", "x, shift, axis", MISSING, None, None,
        array=("shapes.roll_grad(g, x, shift, axis)", None, None))
defrule("shapes.repeat", "x, repeats, axis", MISSING, None, None,
        array=("shapes.repeat_grad(g, x, repeats, axis)", None, None))
defrule("shapes.tile", "x, reps", MISSING, None, array=("shapes.tile_grad(g, x, reps)", None))
defrule("np.resize", "a, new_shape", MISSING, None, array=("shapes.resize_grad(g, a)", None))
defrule("shapes.delete", "x, obj, axis", MISSING, None, None,
        array=("shapes.delete_grad(g, x, obj, axis)", None, None))
defrule("shapes.insert", "x, obj, values, axis", MISSING, None, MISSING, None,
        array=("shapes.insert_grad(g, x, obj, values, axis)", None,
               "shapes.insert_values_grad(g, x, obj, values, axis)", None))
defrule("shapes.take", "x, indices, axis", MISSING, None, None,
        array=("shapes.take_grad(g, x, indices, axis)", None, None))
defrule("shapes.take_along_axis", "x, indices, axis", MISSING, None, None,
        array=("shapes.take_along_axis_grad(g, x, indices, axis)", None, None))
defrule("np.extract", "condition, arr", None, MISSING,
        array=(None, "shapes.extract_grad(g, condition, arr)"))
defrule("np.diag", "v, k", MISSING, None, array=("shapes.diag_grad(g, v, k)", None),
        defaults={"k": "0"})
defrule("np.diagflat", "v, k", MISSING, None, array=("shapes.diagflat_grad(g, v, k)", None),
        defaults={"k": "0"})
defrule("shapes.diagonal", "x, offset, axis1, axis2", MISSING, None, None, None,
        array=("shapes.diagonal_grad(g, x, offset, axis1, axis2)", None, None, None))
# tril and triu of a vector are matrices: unbroadcast sums the rows back
defrule("np.tril", "m, k", MISSING, None, array=("unbroadcast(np.tril(g, k), m)", None),
        defaults={"k": "0"})
defrule("np.triu", "m, k", MISSING, None, array=("unbroadcast(np.triu(g, k), m)", None),
        defaults={"k": "0"})
# a, b = np.split(x, 2): each part unpacked is a call of its own (normalize.py)
defrule("shapes.split_part", "x, sections, axis, kind, k, count", MISSING, None, None, None,
        None, None,
        array=("shapes.split_part_grad(g, x, sections, axis, kind, k, count)", None, None,
               None, None, None))
# np.trim_zeros(x) is trim_zeros(x, x): the second argument only says where the zeros are
defrule("shapes.trim_zeros", "x, like", MISSING, None,
        array=("shapes.trim_zeros_grad(g, x, like)", None))
defrule("shapes.diff", "x, n, axis", MISSING, None, None,
        array=("shapes.diff_grad(g, x, n, axis)", None, None))
# sort and partition: g goes back through the permutation (stable: tied elements keep
# their order, as JAX's sort); np.argsort and the like are on the non-differentiable list
defrule("shapes.sort", "x, axis", MISSING, None,
        array=("shapes.take_along_axis_grad(g, x, shapes.source_index(x, ans, axis), axis)",
               None))
defrule("shapes.partition", "x, kth, axis", MISSING, None, None,
        array=("shapes.take_along_axis_grad(g, x, shapes.source_index(x, ans, axis), axis)",
               None, None))
# cumprod's adjoint and tangent are linear recurrences with no division: exact where x
# holds zeros (as JAX's); linrec (cumprod's tangent) and shift differentiate again
defrule("shapes.cumprod", "x, axis", MISSING, None,
        array=("shapes.linrec_adj(g, x, axis) * shapes.shift(ans, 1.0, axis)", None))
defrule("shapes.linrec", "a, b, axis", MISSING, MISSING, None,
        array=("shapes.linrec_adj(g, a, axis) * shapes.shift(ans, 0.0, axis)",
               "shapes.linrec_adj(g, a, axis)", None))
defrule("shapes.shift", "x, fill, axis", MISSING, MISSING, None,
        array=("shapes.shift_grad(g, x, axis)", MISSING, None))
# np.nancumsum and np.nancumprod: of nan_fill(x, x, 0.0 or 1.0), elementwise (as JAX's:
# no derivative at the NaNs)
defrule("shapes.nan_fill", "x, like, fill", MISSING, None, MISSING,
        array=("shapes.nan_fill(g, like, 0.0)", None, MISSING))
# np.vander: powers(x, exponents, 1.0); exact at x = 0 (JAX's gives NaN there)
defrule("shapes.powers", "x, p, c", MISSING, None, None,
        array=("shapes.powers_grad(g, x, p, c)", None, None))
# np.unique and the set functions: each value's adjoint goes to its first occurrence in
# (a, b), as jax.grad of jnp.unique, jnp.union1d, ... gives; b's values that a also holds
# get none (intersect1d's and setdiff1d's values come from a)
defrule("np.unique", "ar", MISSING, array=("shapes.occurrence_grad(g, ar, ans)",))
defrule(("shapes.union1d", "shapes.setxor1d"), "a, b", MISSING, MISSING,
        array=("shapes.occurrence_grad(g, a, ans)", "shapes.occurrence_grad(g, b, ans, a)"))
defrule(("shapes.intersect1d", "shapes.setdiff1d"), "a, b", MISSING, None,
        array=("shapes.occurrence_grad(g, a, ans)", None))
# occurrence_take(v, x, u, before): u, the sorted values whose occurrences in x are looked
# up, must not be called `ans`, which in an adjoint template is the call's result (v's
# picked values: found nowhere in x, they made the hvp through np.unique 0)
defrule("shapes.occurrence_take", "v, x, u, before", MISSING, None, None, None,
        array=("shapes.occurrence_grad(g, x, u, before)", None, None, None))
# x.astype(dtype) of floats: the identity with a cast (to ints: the result is no float,
# so nothing flows)
defrule("shapes.astype", "x, dtype", MISSING, None, array=("unbroadcast(g, x)", None))
defrule("shapes.item", "x", MISSING, array=("reshape_grad(g, x)",))

# ----- NumPy: statistics -----
# srcgrad/runtime/stats.py, and compiler/stats_calls.py, which writes np.var(x, axis=1,
# ddof=1), x.std(), np.median(x), np.quantile(x, q, axis=0), np.cov(m), ... as the stats
# functions below with every argument by position: a whole-array reduction is one along
# axis 0 of stats.ravel(x), so axis is an int here, and tangent code (differentiated again
# for second derivatives) holds no None. Conventions as JAX (stats.py's docstring). The
# tangents are calls with rules of their own: the order statistics (median, quantiles,
# nanmax, nanmin, ptp, histogram edges) through stats.pick(x, v, q, axis, keepdims, kind),
# the weights x's order gives (kind: 0 QUANTILE, 1 NANQUANTILE, 2 MAX, 3 MIN, 4 PTP,
# 5 NANMAX, 6 NANMIN) applied to v, linear in v and piecewise constant in x.
defrule("stats.ravel", "x", MISSING, array=("reshape_grad(g, x)",))
defrule("stats.keep_all", "r, x", MISSING, None, array=("np.sum(g)", None))
defrule("stats.var_axis", "x, axis, ddof, keepdims", MISSING, None, None, None,
        array=("sum_grad(g, x, axis, keepdims) * (2.0 * (x - np_ops.mean_axis(x, axis, True)))"
               " / stats.dof(x, axis, ddof)", None, None, None))
defrule("stats.std_axis", "x, axis, ddof, keepdims", MISSING, None, None, None,
        array=("sum_grad(g / ans, x, axis, keepdims) * (x - np_ops.mean_axis(x, axis, True))"
               " / stats.dof(x, axis, ddof)", None, None, None))
# NaN entries: zero gradient, selected (so also in a lane whose value is NaN or infinite)
defrule("stats.nanvar_axis", "x, axis, ddof, keepdims", MISSING, None, None, None,
        array=("np.where(np.isnan(x), 0.0, sum_grad(g, x, axis, keepdims) * (2.0 * "
               "stats.nan_center(x, x, axis)) / stats.nan_dof(x, axis, ddof, True))",
               None, None, None))
defrule("stats.nanstd_axis", "x, axis, ddof, keepdims", MISSING, None, None, None,
        array=("np.where(np.isnan(x), 0.0, sum_grad(g / ans, x, axis, keepdims) * "
               "stats.nan_center(x, x, axis) / stats.nan_dof(x, axis, ddof, True))",
               None, None, None))
defrule("stats.nansum_axis", "x, axis, keepdims", MISSING, None, None,
        array=("np.where(np.isnan(x), 0.0, sum_grad(g, x, axis, keepdims))", None, None))
defrule("stats.nanmean_axis", "x, axis, keepdims", MISSING, None, None,
        array=("np.where(np.isnan(x), 0.0, sum_grad(g, x, axis, keepdims) * "
               "stats.nan_weights(x, axis))", None, None))
defrule("stats.nanprod_axis", "x, axis, keepdims", MISSING, None, None,
        array=("np.where(np.isnan(x), 0.0, sum_grad(g, x, axis, keepdims) * "
               "stats.prod_others(stats.nan_one(x), axis))", None, None))
defrule("stats.nanmax_axis", "x, axis, keepdims", MISSING, None, None,
        array=("stats.pick_grad(g, x, 0.0, axis, keepdims, 5)", None, None))
defrule("stats.nanmin_axis", "x, axis, keepdims", MISSING, None, None,
        array=("stats.pick_grad(g, x, 0.0, axis, keepdims, 6)", None, None))
defrule("stats.ptp_axis", "x, axis, keepdims", MISSING, None, None,
        array=("stats.pick_grad(g, x, 0.0, axis, keepdims, 4)", None, None))
defrule("stats.median_axis", "x, axis, keepdims", MISSING, None, None,
        array=("stats.pick_grad(g, x, 0.5, axis, keepdims, 0)", None, None))
defrule("stats.nanmedian_axis", "x, axis, keepdims", MISSING, None, None,
        array=("stats.pick_grad(g, x, 0.5, axis, keepdims, 1)", None, None))
# q: the derivative of the interpolation weight, (count - 1) times the step between the two
# order statistics (0 where q * (count - 1) is an integer, as JAX)
defrule("stats.quantile_axis", "x, q, axis, keepdims", MISSING, MISSING, None, None,
        array=("stats.pick_grad(g, x, q, axis, keepdims, 0)",
               "stats.pick_grad_q(g, x, x, q, axis, keepdims, 0)", None, None))
defrule("stats.nanquantile_axis", "x, q, axis, keepdims", MISSING, MISSING, None, None,
        array=("stats.pick_grad(g, x, q, axis, keepdims, 1)",
               "stats.pick_grad_q(g, x, x, q, axis, keepdims, 1)", None, None))
defrule("stats.percentile_axis", "x, q, axis, keepdims", MISSING, MISSING, None, None,
        array=("stats.pick_grad(g, x, q / 100.0, axis, keepdims, 0)",
               "stats.pick_grad_q(g, x, x, q / 100.0, axis, keepdims, 0) / 100.0", None, None))
defrule("stats.nanpercentile_axis", "x, q, axis, keepdims", MISSING, MISSING, None, None,
        array=("stats.pick_grad(g, x, q / 100.0, axis, keepdims, 1)",
               "stats.pick_grad_q(g, x, x, q / 100.0, axis, keepdims, 1) / 100.0", None, None))
defrule("stats.average", "a, weights, axis, keepdims", MISSING, MISSING, None, None,
        array=("sum_grad(g, a, axis, keepdims) * stats.weights_like(weights, a, axis)"
               " / np_ops.sum_axis(stats.weights_like(weights, a, axis), axis, True)",
               "stats.weights_grad(sum_grad(g, a, axis, keepdims) * (a - sum_grad(ans, a, axis, "
               "keepdims)) / np_ops.sum_axis(stats.weights_like(weights, a, axis), axis, True), "
               "weights, a, axis)", None, None))
defrule("stats.trapezoid_dx", "y, dx, axis", MISSING, MISSING, None,
        array=("sum_grad(g, y, axis, False) * stats.trapezoid_weights(y, axis) * dx",
               "np.sum(g * stats.trapezoid_dx(y, 1.0, axis))", None))
defrule("stats.trapezoid_x", "y, x, axis", MISSING, MISSING, None,
        array=("stats.trapezoid_grad_y(g, y, x, axis)", "stats.trapezoid_grad_x(g, y, x, axis)",
               None))
# np.cov(m, ...) is stats.cov of the variables as rows (stats.variables, stats.cov_stack for
# y); np.corrcoef(x, ...) is stats.cov(stats.standardize(rows), 1). cov_jvp is cov's
# tangent, bilinear and symmetric in (m, v), so its rules are itself and cov_grad.
defrule("stats.cov", "m, ddof", MISSING, None, array=("stats.cov_grad(g, m, ddof)", None))
defrule("stats.cov_jvp", "m, v, ddof", MISSING, MISSING, None,
        array=("stats.cov_grad(g, v, ddof)", "stats.cov_grad(g, m, ddof)", None))
defrule("stats.variables", "m, rowvar", MISSING, None,
        array=("stats.variables_grad(g, m, rowvar)", None))
defrule("stats.cov_stack", "m, y, rowvar", MISSING, MISSING, None,
        array=("stats.cov_unstack(g, m, y, rowvar, 0)", "stats.cov_unstack(g, m, y, rowvar, 1)",
               None))
# rows (v - mean) / std with ddof 1: d = (dv - mean(dv) - ans * sum(ans * dv) / (n - 1)) / std,
# a symmetric map, so the adjoint is the same expression in g
defrule("stats.standardize", "m", MISSING,
        array=("(g - np_ops.mean_axis(g, -1, True) - ans * np_ops.sum_axis(ans * g, -1, True)"
               " / stats.dof(m, -1, 1)) / stats.std_axis(m, -1, 1, True)",))
defrule("stats.histogram_edges", "a, bins", MISSING, MISSING,
        array=("stats.histogram_edges_t(g, a, bins)", MISSING), defaults={"bins": "10"})
defrule("stats.histogram_edges_range", "a, bins, lo, hi", MISSING, MISSING, MISSING, MISSING,
        array=(None, MISSING, MISSING, MISSING))
defrule("np.convolve", "a, v", MISSING, MISSING,
        array=("np.correlate(g, v)", "np.correlate(g, a)"))
defrule("np.correlate", "a, v", MISSING, MISSING,
        array=("stats.correlate_grad_a(g, a, v)", "stats.correlate_grad_v(g, a, v)"))
# interp: slope in x; in fp the interpolation weights; in xp -slope times them (the knots
# move the interval under a fixed x), 0 outside [xp[0], xp[-1]]
defrule("np.interp", "x, xp, fp", MISSING, MISSING, MISSING,
        array=("g * stats.interp_slope(x, xp, fp)",
               "stats.interp_weights_t(-g * stats.interp_slope(x, xp, fp), x, xp)",
               "stats.interp_weights_t(g, x, xp)"))
defrule("stats.interp_slope", "x, xp, fp", MISSING, MISSING, MISSING,
        array=(None, "stats.interp_slope_t(-g * ans, x, xp)", "stats.interp_slope_t(g, x, xp)"))
defrule("np.linspace", "start, stop, num", MISSING, MISSING, None,
        array=("np.sum(g * np.linspace(1.0, 0.0, num))", "np.sum(g * np.linspace(0.0, 1.0, num))",
               None), defaults={"num": "50"})
# the length (from stop) is piecewise constant; start + k * step
defrule("np.arange", "start, stop, step", MISSING, None, MISSING,
        array=("np.sum(g)", None, "np.sum(g * np.arange(np.size(g)))"))
defrule("np.geomspace", "start, stop, num", MISSING, MISSING, None,
        array=("np.sum(g * ans * np.linspace(1.0, 0.0, num)) / start",
               "np.sum(g * ans * np.linspace(0.0, 1.0, num)) / stop", None),
        defaults={"num": "50"})
defrule("np.logspace", "start, stop, num", MISSING, MISSING, None,
        array=("np.sum(g * ans * np.linspace(1.0, 0.0, num)) * 2.302585092994046",
               "np.sum(g * ans * np.linspace(0.0, 1.0, num)) * 2.302585092994046", None),
        defaults={"num": "50"})
# kaiser: I0(beta r) / I0(beta), r = stats.kaiser_r(M)
defrule("np.kaiser", "M, beta", None, MISSING,
        array=(None, "np.sum(g * (stats.kaiser_r(M) * stats.bessel_i(1, beta * stats.kaiser_r(M))"
                     " - ans * stats.bessel_i(1, beta))) / stats.bessel_i(0, beta)"))
defrule("stats.bessel_i", "n, x", None, "g * 0.5 * (stats.bessel_i(n - 1, x) + stats.bessel_i(n + 1, x))",
        array=(None, "unbroadcast(g * 0.5 * (stats.bessel_i(n - 1, x) + stats.bessel_i(n + 1, x)), x)"))
defrule("np.bincount", "x, weights, minlength", None, MISSING, None, array=(None, "g[x]", None),
        defaults={"minlength": "0"})
defrule("np.sinc", "x", "g * stats.sinc_deriv(1, x)")
defrule("stats.sinc_deriv", "n, x", None, "g * stats.sinc_deriv(n + 1, x)",
        array=(None, "unbroadcast(g * stats.sinc_deriv(n + 1, x), x)"))
# nan_to_num: the identity where x is finite; each replacement value where it is used
defrule("np.nan_to_num", "x, copy, nan, posinf, neginf", "g if math.isfinite(x) else 0.0", None,
        "g if math.isnan(x) else 0.0", "g if x == math.inf else 0.0",
        "g if x == -math.inf else 0.0",
        array=("np.where(np.isfinite(x), g, 0.0)", None,
               "unbroadcast(np.where(np.isnan(x), g, 0.0), nan)",
               "unbroadcast(np.where(np.isposinf(x), g, 0.0), posinf)",
               "unbroadcast(np.where(np.isneginf(x), g, 0.0), neginf)"))
# unwrap adds whole periods: the identity in p; in period, how many it added
defrule("np.unwrap", "p, discont, axis, period", MISSING, None, None, MISSING,
        array=("g", None, None, "unbroadcast(g * np.round((ans - p) / period), period)"),
        defaults={"period": "6.283185307179586"})
# the helpers of the tangents, with rules for second derivatives
defrule("stats.pick", "x, v, q, axis, keepdims, kind", MISSING, MISSING, MISSING, None, None,
        None, array=(None, "stats.pick_grad(g, x, q, axis, keepdims, kind)",
                     "stats.pick_grad_q(g, x, v, q, axis, keepdims, kind)", None, None, None))
defrule("stats.pick_dq", "x, v, q, w, axis, keepdims, kind", MISSING, MISSING, MISSING, MISSING,
        None, None, None,
        array=(None, "stats.pick_dq_grad(g, x, q, w, axis, keepdims, kind)", None,
               "stats.pick_grad_q(g, x, v, q, axis, keepdims, kind)", None, None, None))
defrule("stats.nan_center", "v, x, axis", MISSING, None, None,
        array=("stats.nan_center(g, x, axis)", None, None))
defrule("stats.nan_one", "x", MISSING, array=("g * stats.nan_mask(x)",))
defrule("stats.prod_others", "y, axis", MISSING, None,
        array=("stats.prod_others_grad(g, y, axis)", None))
defrule("stats.weights_like", "w, a, axis", MISSING, None, None,
        array=("stats.weights_grad(g, w, a, axis)", None, None))
defrule("stats.histogram_edges_jvp", "a, v, bins", MISSING, MISSING, None,
        array=(None, "stats.histogram_edges_t(g, a, bins)", None))
_R0 = NON_DIFFERENTIABLE_REASONS
nondiff(_R0["shape"], "stats.dof", "stats.trapezoid_weights")
nondiff(_R0["bool"], "stats.nan_mask")
nondiff(_R0["int"], "stats.nan_weights", "stats.nan_dof")
nondiff(_R0["create"], "stats.kaiser_r")
nondiff(_R0["index"], "stats.histogram_counts")

# ----- NumPy: arrays from sequences of values -----
# The first argument is a tuple whose elements each carry a derivative (the adjoint of
# element k is the block of g it became); segment.py and forward.py apply these element
# by element. Layout: how the elements are laid out in the result.
SEQUENCE_RULES: dict[str, str] = {}


def defsequence(name: str, params: str, layout: str) -> None:
    plist = [p.strip() for p in params.split(",")]
    defrule(name, params, "g", *([None] * (len(plist) - 1)))
    SEQUENCE_RULES[name] = layout


defsequence("np.concatenate", "arrays, axis", "concatenate")
defsequence("np.stack", "arrays, axis", "stack")
defsequence("np.hstack", "tup", "hstack")
defsequence("np.vstack", "tup", "vstack")
defsequence("np.column_stack", "tup", "column_stack")
defsequence("np_ops.array", "seq, dtype", "stack")  # np.array / np.asarray of a literal
defrule(("np_ops.array_copy", "np_ops.asarray"), "x, dtype", "g", None,
        array=("unbroadcast(g, x)", None))

# ----- NumPy: creation from values -----
defrule("np.full", "shape, fill_value", None, "np.sum(g)")
defrule("np.full_like", "x, fill_value", None, "np.sum(g)")

# ----- The non-differentiable list: no derivative, with the reason -----
# Every other call with an active argument has a rule above or raises MissingRuleError.
_R = NON_DIFFERENTIABLE_REASONS
nondiff(_R["compare"], "compare", "Not", "Invert", "BitAnd", "BitOr", "BitXor", "LShift",
        "RShift")
nondiff(_R["int"], "FloorDiv", "int", "round", "len", "np.spacing",
        "math.floor", "math.ceil", "math.trunc", "math.gcd",
        "np.floor", "np.ceil", "np.trunc", "np.fix", "np.rint", "np.round", "np.around",
        "np.sign", "np.floor_divide", "np.gcd", "np.lcm", "np.bitwise_and",
        "np.bitwise_or", "np.bitwise_xor", "np.bitwise_not", "np.bitwise_invert",
        "np.invert", "np.left_shift", "np.right_shift", "np.bitwise_left_shift",
        "np.bitwise_right_shift", "np.count_nonzero", "np.signbit")
nondiff(_R["bool"], "bool", "math.isnan", "math.isinf", "math.isfinite", "np.isnan", "np.isinf",
        "np.isfinite", "np.isneginf", "np.isposinf", "np.isclose", "np.allclose",
        "np.array_equal", "np.equal", "np.not_equal", "np.less", "np.less_equal",
        "np.greater", "np.greater_equal", "np.logical_and", "np.logical_or",
        "np.logical_not", "np.logical_xor", "np.any", "np.all", "np.isin", "np.isreal",
        "np.iscomplex", "np.isrealobj", "np.iscomplexobj", "np.isnat", "np.isscalar")
nondiff(_R["index"], "np.argmax", "np.argmin", "np.argsort", "np.argpartition",
        "np.argwhere", "np.nonzero", "np.flatnonzero", "np.nanargmax", "np.nanargmin",
        "np.searchsorted", "np.digitize", "np.tril_indices_from", "np.triu_indices_from")
nondiff(_R["shape"], "attr.shape", "attr.size", "attr.ndim", "np.shape", "np.size",
        "np.ndim")
nondiff(_R["create"], "np.zeros", "np.ones", "np.empty", "np.zeros_like", "np.ones_like",
        "np.empty_like", "np.eye", "np.identity", "np_ops.eye_like")
nondiff(_R["stop"], "srcgrad.stop_gradient")
nondiff(_R["slope"], "srcgrad.greater_slope", "srcgrad.less_slope", "srcgrad.sign_slope",
        "srcgrad.clip_slope", "srcgrad.max_weights", "srcgrad.min_weights")
nondiff(_R["real"], "np.imag", "np.angle")
nondiff(_R["int"], "linalg.slogdet_sign", "np.linalg.matrix_rank", "linalg.lstsq_rank",
        "linalg.nonzero", "linalg.abs_slope", "linalg.tie_weights", "linalg.tie_weights_axis")

nondiff(_R["index"], "shapes.source_index", "shapes.argsort")
nondiff(_R["shape"], "shapes.vander_powers", "shapes.slice_lo", "shapes.slice_len",
        "shapes.wrap_index", "shapes.bcast_len", "shapes.bstride_to")


def rule_for(key: str) -> Rule | None:
    """The rule for a canonical name, or for the NumPy function it is another name of
    (`np.mod` is `np.remainder`, `np.true_divide` is `np.divide`)."""
    rule = RULES.get(key)
    if rule is None and key.startswith("np."):
        alias = numpy_name(key)
        if alias != key:
            rule = RULES.get(alias)
    return rule


_NUMPY_NAMES: dict[str, str] = {}


def numpy_name(key: str) -> str:
    """The canonical name of the NumPy function `key` names: `np.` (or `np.linalg.`)
    and the function object's own name."""
    if key not in _NUMPY_NAMES:
        import numpy as np
        obj = np
        for part in key.split(".")[1:]:
            obj = getattr(obj, part, None)
        name = getattr(obj, "__name__", None)
        module = getattr(obj, "__module__", None) or "numpy"
        prefix = "np.linalg." if module == "numpy.linalg" else "np."
        _NUMPY_NAMES[key] = prefix + name if isinstance(name, str) else key
    return _NUMPY_NAMES[key]


# ----- Which templates generated code used (for tests/test_rule_templates.py) -----
# A template is identified by (rule key, argument index, form, mode): form "scalar" or
# "array" (the template set the operation's operands chose), mode "rev" (an adjoint
# contribution) or "fwd" (a tangent term). segment.py and forward.py note each one they
# apply, so a test can assert that its cases, checked against finite differences, apply
# every template of the table.
TEMPLATES_USED: set[tuple[str, int, str, str]] = set()


def note_template(key: str, index: int, array: bool, mode: str) -> None:
    TEMPLATES_USED.add((key, index, "array" if array else "scalar", mode))


@contextmanager
def noting_templates():
    """``with noting_templates() as noted:`` the units noted inside the block are added to
    `noted` when it ends (raising or not), and TEMPLATES_USED keeps them and what it held
    before, so blocks nest."""
    kept = set(TEMPLATES_USED)
    TEMPLATES_USED.clear()
    noted: set[tuple[str, int, str, str]] = set()
    try:
        yield noted
    finally:
        noted |= TEMPLATES_USED
        TEMPLATES_USED.update(kept)


def template_units() -> set[tuple[str, int, str, str]]:
    """Every template of the table as (key, argument index, form, mode): the adjoint
    templates of each form, and the tangent each one gives (an explicit JVPS template
    for arrays where there is one). User rules (custom_vjp) are left out."""
    units = set()
    for key, rule in RULES.items():
        if rule.nondiff or key in EXTERNAL_NAMES:
            continue
        for i in range(len(rule.params)):
            for array, partials in ((False, rule.partials), (True, rule.array_partials)):
                if partials[i] is None or partials[i] == MISSING:
                    continue
                form = "array" if array else "scalar"
                units.add((key, i, form, "rev"))
                explicit = JVPS.get(key) if array else None
                if explicit is not None and (i >= len(explicit) or explicit[i] is None):
                    continue
                if explicit is None and array and key in NOT_ELEMENTWISE \
                        and key not in SEQUENCE_RULES and key != "np.linalg.norm":
                    continue
                units.add((key, i, form, "fwd"))
    return units


# ----- The forward-mode helper, for derivatives of generated tangent code -----
defrule("srcgrad.broadcast_like", "d, ans", "g", None,
        array=("unbroadcast(g, d)", None))

# ----- Forward mode (forward.py) -----
# An elementwise rule's tangent is its adjoint template with g replaced by the
# operand's tangent (broadcast to the result's shape for arrays; unbroadcast
# dropped): for scalars d(ans) = sum_i (d ans / d x_i) dx_i, and the adjoint
# templates are g times that partial. The operations below are not elementwise
# (or their adjoint sums or transposes), so their tangents are written out, one
# template per argument over `ans`, the arguments and `dx` (the tangent of the
# argument x). They apply to arrays; scalar cases use the adjoint templates.
JVPS: dict[str, tuple] = {}

NOT_ELEMENTWISE = {
    "MatMult", "np.dot", "np.matmul", "np.outer", "np.trace", "np.linalg.norm", "np.sum",
    "np.linalg.inv", "linalg.slogdet_logabsdet",
    "np.mean", "np.prod", "np.max", "np.amax", "np.min", "np.amin", "np_ops.sum_axis",
    "np_ops.mean_axis", "np_ops.prod_axis", "np_ops.max_axis", "np_ops.min_axis",
    "np.cumsum", "np_ops.cumsum_axis", "attr.T", "np.transpose", "np.reshape", "np.full",
    "np.full_like", "subscript", "np.concatenate", "np.stack", "np.arange", "np.linspace",
    "special.logsumexp", "special.softmax", "special.log_softmax", "special.logsumexp_axis",
    "special.softmax_axis", "special.log_softmax_axis",
}


def defjvp(names: str | tuple[str, ...], *templates: str | None) -> None:
    """Register the tangent templates of a non-elementwise primitive."""
    parsed = _parse(templates)
    for name in (names,) if isinstance(names, str) else names:
        JVPS[name] = parsed


defjvp("MatMult", "dx @ y", "x @ dy")
defjvp("np.dot", "np.dot(dx, y)", "np.dot(x, dy)")
defjvp("np.matmul", "dx @ y", "x @ dy")
defjvp("np.outer", "np.outer(dx, y)", "np.outer(x, dy)")
defjvp("np.trace", "np.trace(dx, offset)", None)
defjvp("np.linalg.inv", "-(ans @ (dx @ ans))")
defjvp("linalg.slogdet_logabsdet", "np.sum(np.linalg.inv(x).T * dx)")
# np.linalg.norm: forward.py picks "np.sum(x * dx) / ans" (L2, Frobenius) or
# "np.sum(np.sign(x) * dx)" (ord=1) by the constant ord, so the tangent is again
# differentiable
defjvp("np.sum", "np.sum(dx)")
defjvp("np.mean", "np.mean(dx)")
defjvp("np.prod", "np.sum(prod_grad(1.0, x, ans, None, False) * dx)")
# the tangents of piecewise-linear functions: a piecewise-constant local slope (on the
# non-differentiable list, as srcgrad.<name>) times the tangent, so that the tangent
# code differentiates again (second derivatives: zero second derivative away from kinks)
defjvp(("np.max", "np.amax"), "np.sum(max_weights(x, ans, None, False) * dx)")
defjvp(("np.min", "np.amin"), "np.sum(min_weights(x, ans, None, False) * dx)")
defjvp("np.maximum", "greater_slope(x, y) * dx", "greater_slope(y, x) * dy")
defjvp("np.minimum", "less_slope(x, y) * dx", "less_slope(y, x) * dy")
defjvp(("np.abs", "np.absolute", "np.fabs"), "sign_slope(x) * dx")
defjvp("np.clip", "clip_slope(x, lo, hi) * dx", None, None)
defjvp("np.where", None, "np.where(c, dx, 0.0)", "np.where(c, 0.0, dy)")
defjvp("np_ops.sum_axis", "np_ops.sum_axis(dx, axis, keepdims)", None, None)
defjvp("np_ops.mean_axis", "np_ops.mean_axis(dx, axis, keepdims)", None, None)
defjvp("np_ops.prod_axis", "np_ops.sum_axis(prod_grad(np.ones_like(ans), x, ans, axis, "
       "keepdims) * dx, axis, keepdims)", None, None)
defjvp("np_ops.max_axis", "np_ops.sum_axis(max_weights(x, ans, axis, keepdims) * dx, axis, "
       "keepdims)", None, None)
defjvp("np_ops.min_axis", "np_ops.sum_axis(min_weights(x, ans, axis, keepdims) * dx, axis, "
       "keepdims)", None, None)
defjvp("np.cumsum", "np.cumsum(dx)")
defjvp("np_ops.cumsum_axis", "np_ops.cumsum_axis(dx, axis)", None)
defjvp("attr.T", "dx.T")
defjvp("np.transpose", "np.transpose(dx, axes)", None)
defjvp("np.reshape", "np.reshape(dx, shape)", None)
defjvp("np.full", None, "np.full(shape, dfill_value)")
defjvp("np.full_like", None, "np.full_like(x, dfill_value)")
# scipy.special's reductions: calls that have rules again, for second derivatives
defjvp("special.logsumexp", "np.sum(special.softmax(a) * da)")
defjvp("special.softmax", "ans * (dx - np.sum(ans * dx))")
defjvp("special.log_softmax", "dx - np.sum(np.exp(ans) * dx)")
defjvp("special.logsumexp_axis",
       "np_ops.sum_axis(special.softmax_axis(a, axis) * da, axis, False)", None)
defjvp("special.softmax_axis", "ans * (dx - np_ops.sum_axis(ans * dx, axis, True))", None)
defjvp("special.log_softmax_axis", "dx - np_ops.sum_axis(np.exp(ans) * dx, axis, True)", None)

# linear algebra (srcgrad/runtime/linalg.py): every function these call has a rule
NOT_ELEMENTWISE |= {
    "np.linalg.det", "linalg.cofactor", "np.linalg.solve", "np.linalg.cholesky",
    "linalg.eigh_values", "np.linalg.eigvalsh", "linalg.eigh_vectors", "linalg.qr_q",
    "linalg.qr_r", "linalg.svd_u", "linalg.svd_s", "linalg.svd_vt", "np.linalg.pinv",
    "linalg.lstsq_solution", "np.kron", "np.cross", "linalg.vdot", "linalg.einsum1",
    "linalg.einsum2", "linalg.gaps", "linalg.lower", "linalg.skew", "linalg.as_matrix",
    "linalg.vector", "linalg.matrix", "linalg.keepdims_like", "linalg.keep_if",
    "linalg.qr_checked", "linalg.unique_u", "linalg.unique_vt", "linalg.amax", "linalg.amin",
    "linalg.amax_axis", "linalg.amin_axis",
}
defjvp("np.linalg.det", "np.sum(linalg.cofactor(a) * da)")
defjvp("linalg.cofactor",
       "ans * np.sum(np.linalg.inv(a).T * da) - ans @ da.T @ np.linalg.inv(a).T")
defjvp("np.linalg.solve", "-np.linalg.solve(a, da @ ans)", "np.linalg.solve(a, db)")
# dL = L Phi(L^-1 sym(dA) L^-T)
defjvp("np.linalg.cholesky",
       "ans @ linalg.lower(np.linalg.solve(ans, np.linalg.solve(ans, 0.5 * (da + da.T)).T), 0.5)")
# dw = diag(V^T dA V); dV = V (F * (V^T sym(dA) V))
defjvp(("linalg.eigh_values", "np.linalg.eigvalsh"),
       "np_ops.sum_axis(linalg.eigh_vectors(a) * (da @ linalg.eigh_vectors(a)), 0, False)")
defjvp("linalg.eigh_vectors", "ans @ (linalg.gaps(linalg.eigh_values(a)) * "
       "(ans.T @ (0.5 * (da + da.T)) @ ans))")
# X = dA R^-1, M = Q^T X: dQ = Q (skew(M) - M) + X, dR = (M - skew(M)) R
_QR_X = "(da @ np.linalg.inv(linalg.qr_r(a)))"
_QR_M = "(linalg.qr_checked(linalg.qr_q(a), a).T @ (da @ np.linalg.inv(ans)))"
defjvp("linalg.qr_q", f"linalg.qr_checked(ans, a) @ (linalg.skew(ans.T @ {_QR_X}) - ans.T @ "
       f"{_QR_X}) + {_QR_X}")
defjvp("linalg.qr_r", f"({_QR_M} - linalg.skew({_QR_M})) @ ans")
# thin factors U, s, V; dS = U^T dA V, F = gaps(s^2): ds = diag(dS),
# dU = U (F * (dS S + S dS^T)) + (I - U U^T) dA V / s (tall a), likewise dV
_S = "linalg.svd_s(a, False)"
_U = "linalg.svd_u(a, False)"
_V = "linalg.svd_vt(a, False).T"
_F = f"linalg.gaps({_S} * {_S})"
defjvp("linalg.svd_s", f"np_ops.sum_axis({_U} * (da @ {_V}), 0, False)", None)
_DS_U = f"(ans.T @ da @ {_V})"
defjvp("linalg.svd_u", f"linalg.unique_u(ans, a, full_matrices) @ ({_F} * ({_DS_U} * {_S} + "
       f"({_DS_U} * {_S}).T)) + linalg.keep_if(a.shape[0] > a.shape[1], (da @ {_V} - ans @ "
       f"(ans.T @ (da @ {_V}))) / {_S})", None)
_DS_V = f"({_U}.T @ da @ ans.T)"
defjvp("linalg.svd_vt", f"(linalg.unique_vt(ans, a, full_matrices).T @ ({_F} * (({_DS_V}.T * "
       f"{_S}).T + {_DS_V}.T * {_S})) + linalg.keep_if(a.shape[1] > a.shape[0], (da.T @ {_U} "
       f"- ans.T @ (ans @ (da.T @ {_U}))) / {_S})).T", None)
defjvp("np.linalg.pinv", "-(ans @ da @ ans) + ans @ ans.T @ (da.T - da.T @ a @ ans) "
       "+ (da.T - ans @ (a @ da.T)) @ ans.T @ ans", None)
_P = "np.linalg.pinv(a)"
defjvp("linalg.lstsq_solution", f"-({_P} @ (da @ ans)) + {_P} @ ({_P}.T @ (da.T @ (b - a @ ans)))"
       f" + da.T @ ({_P}.T @ ans) - {_P} @ (a @ (da.T @ ({_P}.T @ ans)))", f"{_P} @ db", None)
defjvp("np.kron", "np.kron(da, b)", "np.kron(a, db)")
defjvp("np.cross", "np.cross(da, b)", "np.cross(a, db)")
defjvp("linalg.vdot", "linalg.vdot(da, b)", "linalg.vdot(a, db)")
defjvp("linalg.einsum1", None, "linalg.einsum1(subscripts, da)")
defjvp("linalg.einsum2", None, "linalg.einsum2(subscripts, da, b)",
       "linalg.einsum2(subscripts, a, db)")
# dF[i, j] = F[i, j]^2 (dw[i] - dw[j])
defjvp("linalg.gaps", "ans * ans * (np.reshape(dw, (-1, 1)) - dw)")
defjvp("linalg.lower", "linalg.lower(dx, diag)", None)
defjvp("linalg.skew", "linalg.skew(dx)")
defjvp("linalg.as_matrix", "linalg.as_matrix(dx)")
defjvp("linalg.vector", "linalg.vector(dx)")
defjvp("linalg.matrix", "linalg.matrix(dx)")
defjvp("linalg.keepdims_like", "linalg.keepdims_like(dr, x)", None)
defjvp("linalg.keep_if", None, "linalg.keep_if(cond, dt)")
defjvp("linalg.qr_checked", "dq", None)
defjvp(("linalg.unique_u", "linalg.unique_vt"), "du", None, None)
defjvp(("linalg.amax", "linalg.amin"), "np.sum(linalg.tie_weights(x, ans) * dx)")
defjvp(("linalg.amax_axis", "linalg.amin_axis"),
       "np_ops.sum_axis(linalg.tie_weights_axis(x, ans, axis, keepdims) * dx, axis, keepdims)",
       None, None)


# statistics (the rules under "NumPy: statistics")
NOT_ELEMENTWISE |= {
    "stats.ravel", "stats.keep_all", "stats.var_axis", "stats.std_axis", "stats.nanvar_axis",
    "stats.nanstd_axis", "stats.nansum_axis", "stats.nanmean_axis", "stats.nanprod_axis",
    "stats.nanmax_axis", "stats.nanmin_axis", "stats.ptp_axis", "stats.median_axis",
    "stats.nanmedian_axis", "stats.quantile_axis", "stats.nanquantile_axis",
    "stats.percentile_axis", "stats.nanpercentile_axis", "stats.average", "stats.trapezoid_dx",
    "stats.trapezoid_x", "stats.cov", "stats.cov_jvp", "stats.variables", "stats.cov_stack",
    "stats.standardize", "stats.histogram_edges", "stats.histogram_edges_jvp", "np.convolve",
    "np.correlate", "np.interp", "stats.interp_slope", "np.geomspace", "np.logspace",
    "np.kaiser", "np.bincount", "stats.pick", "stats.pick_dq", "stats.nan_center",
    "stats.prod_others", "stats.weights_like",
}
defjvp("stats.ravel", "stats.ravel(dx)")
defjvp("stats.keep_all", "stats.keep_all(dr, x)", None)
defjvp("stats.var_axis", "2.0 * np_ops.sum_axis((x - np_ops.mean_axis(x, axis, True)) * dx, axis, "
       "keepdims) / stats.dof(x, axis, ddof)", None, None, None)
defjvp("stats.std_axis", "np_ops.sum_axis((x - np_ops.mean_axis(x, axis, True)) * dx, axis, "
       "keepdims) / (stats.dof(x, axis, ddof) * ans)", None, None, None)
defjvp("stats.nanvar_axis", "2.0 * np_ops.sum_axis(stats.nan_center(x, x, axis) * dx, axis, "
       "keepdims) / stats.nan_dof(x, axis, ddof, keepdims)", None, None, None)
defjvp("stats.nanstd_axis", "np_ops.sum_axis(stats.nan_center(x, x, axis) * dx, axis, keepdims)"
       " / (stats.nan_dof(x, axis, ddof, keepdims) * ans)", None, None, None)
defjvp("stats.nansum_axis", "np_ops.sum_axis(stats.nan_mask(x) * dx, axis, keepdims)", None, None)
defjvp("stats.nanmean_axis", "np_ops.sum_axis(stats.nan_weights(x, axis) * dx, axis, keepdims)",
       None, None)
defjvp("stats.nanprod_axis", "np_ops.sum_axis(stats.prod_others(stats.nan_one(x), axis) * "
       "stats.nan_mask(x) * dx, axis, keepdims)", None, None)
defjvp("stats.nanmax_axis", "stats.pick(x, dx, 0.0, axis, keepdims, 5)", None, None)
defjvp("stats.nanmin_axis", "stats.pick(x, dx, 0.0, axis, keepdims, 6)", None, None)
defjvp("stats.ptp_axis", "stats.pick(x, dx, 0.0, axis, keepdims, 4)", None, None)
defjvp("stats.median_axis", "stats.pick(x, dx, 0.5, axis, keepdims, 0)", None, None)
defjvp("stats.nanmedian_axis", "stats.pick(x, dx, 0.5, axis, keepdims, 1)", None, None)
defjvp("stats.quantile_axis", "stats.pick(x, dx, q, axis, keepdims, 0)",
       "stats.pick_dq(x, x, q, dq, axis, keepdims, 0)", None, None)
defjvp("stats.nanquantile_axis", "stats.pick(x, dx, q, axis, keepdims, 1)",
       "stats.pick_dq(x, x, q, dq, axis, keepdims, 1)", None, None)
defjvp("stats.percentile_axis", "stats.pick(x, dx, q / 100.0, axis, keepdims, 0)",
       "stats.pick_dq(x, x, q / 100.0, dq / 100.0, axis, keepdims, 0)", None, None)
defjvp("stats.nanpercentile_axis", "stats.pick(x, dx, q / 100.0, axis, keepdims, 1)",
       "stats.pick_dq(x, x, q / 100.0, dq / 100.0, axis, keepdims, 1)", None, None)
defjvp("stats.average",
       "np_ops.sum_axis(da * stats.weights_like(weights, a, axis), axis, keepdims)"
       " / np_ops.sum_axis(stats.weights_like(weights, a, axis), axis, keepdims)",
       "np_ops.sum_axis((a - stats.average(a, weights, axis, True)) * stats.weights_like("
       "dweights, a, axis), axis, keepdims) / np_ops.sum_axis(stats.weights_like(weights, a, "
       "axis), axis, keepdims)", None, None)
defjvp("stats.trapezoid_dx", "stats.trapezoid_dx(dy, dx, axis)", "stats.trapezoid_dx(y, ddx, axis)",
       None)
defjvp("stats.trapezoid_x", "stats.trapezoid_x(dy, x, axis)", "stats.trapezoid_x(y, dx, axis)", None)
defjvp("stats.cov", "stats.cov_jvp(m, dm, ddof)", None)
defjvp("stats.cov_jvp", "stats.cov_jvp(dm, v, ddof)", "stats.cov_jvp(m, dv, ddof)", None)
defjvp("stats.variables", "stats.variables(dm, rowvar)", None)
defjvp("stats.cov_stack", "stats.cov_stack(dm, np.zeros_like(y), rowvar)",
       "stats.cov_stack(np.zeros_like(m), dy, rowvar)", None)
defjvp("stats.standardize", "(dm - np_ops.mean_axis(dm, -1, True) - ans * np_ops.sum_axis(ans * dm,"
       " -1, True) / stats.dof(m, -1, 1)) / stats.std_axis(m, -1, 1, True)")
defjvp("stats.histogram_edges", "stats.histogram_edges_jvp(a, da, bins)", None)
defjvp("stats.histogram_edges_jvp", None, "stats.histogram_edges_jvp(a, dv, bins)", None)
defjvp("np.convolve", "np.convolve(da, v)", "np.convolve(a, dv)")
defjvp("np.correlate", "np.correlate(da, v)", "np.correlate(a, dv)")
defjvp("np.interp", "stats.interp_slope(x, xp, fp) * dx",
       "-stats.interp_slope(x, xp, fp) * np.interp(x, xp, dxp)", "np.interp(x, xp, dfp)")
defjvp("stats.interp_slope", None, "-ans * stats.interp_slope(x, xp, dxp)",
       "stats.interp_slope(x, xp, dfp)")
defjvp("np.linspace", "np.linspace(dstart, 0.0, num)", "np.linspace(0.0, dstop, num)", None)
defjvp("np.arange", "np.full_like(ans, dstart)", None, "dstep * np.arange(np.size(ans))")
defjvp("np.geomspace", "ans * np.linspace(1.0, 0.0, num) * (dstart / start)",
       "ans * np.linspace(0.0, 1.0, num) * (dstop / stop)", None)
defjvp("np.logspace", "ans * np.linspace(dstart, 0.0, num) * 2.302585092994046",
       "ans * np.linspace(0.0, dstop, num) * 2.302585092994046", None)
defjvp("np.kaiser", None, "(stats.kaiser_r(M) * stats.bessel_i(1, beta * stats.kaiser_r(M)) - ans "
       "* stats.bessel_i(1, beta)) * (dbeta / stats.bessel_i(0, beta))")
defjvp("np.bincount", None, "np.bincount(x, dweights, minlength)", None)
defjvp("stats.pick", None, "stats.pick(x, dv, q, axis, keepdims, kind)",
       "stats.pick_dq(x, v, q, dq, axis, keepdims, kind)", None, None, None)
defjvp("stats.pick_dq", None, "stats.pick_dq(x, dv, q, w, axis, keepdims, kind)", None,
       "stats.pick_dq(x, v, q, dw, axis, keepdims, kind)", None, None, None)
defjvp("stats.nan_center", "stats.nan_center(dv, x, axis)", None, None)
defjvp("stats.prod_others", "stats.prod_others_grad(dy, y, axis)", None)
defjvp("stats.weights_like", "stats.weights_like(dw, a, axis)", None, None)

# ----- NumPy: shapes and orders (tangents) -----
# Linear functions: the same function of the tangent. The others call functions that have
# rules, so that their tangents differentiate again.
NOT_ELEMENTWISE |= {
    "np.atleast_1d", "np.atleast_2d", "np.atleast_3d", "np.ravel", "np.expand_dims", "np.flip",
    "shapes.squeeze", "np.swapaxes", "shapes.moveaxis", "np.broadcast_to", "shapes.flip",
    "shapes.rot90", "shapes.roll", "shapes.repeat", "shapes.tile", "np.resize",
    "shapes.delete", "shapes.insert", "shapes.take", "shapes.take_along_axis", "np.extract",
    "np.diag", "np.diagflat", "shapes.diagonal", "np.tril", "np.triu", "shapes.split_part",
    "shapes.trim_zeros", "shapes.diff", "shapes.sort", "shapes.partition", "shapes.cumprod",
    "shapes.linrec", "shapes.shift", "shapes.powers", "np.unique", "shapes.union1d",
    "shapes.setxor1d", "shapes.intersect1d", "shapes.setdiff1d", "shapes.occurrence_take",
    "shapes.astype", "shapes.item",
}
defjvp("np.atleast_1d", "np.atleast_1d(dx)")
defjvp("np.atleast_2d", "np.atleast_2d(dx)")
defjvp("np.atleast_3d", "np.atleast_3d(dx)")
defjvp("np.ravel", "np.ravel(da)")
defjvp("np.expand_dims", "np.expand_dims(da, axis)", None)
defjvp("shapes.squeeze", "shapes.squeeze(dx, axis)", None)
defjvp("np.swapaxes", "np.swapaxes(da, axis1, axis2)", None, None)
defjvp("shapes.moveaxis", "shapes.moveaxis(dx, source, destination)", None, None)
defjvp("np.broadcast_to", "np.broadcast_to(darray, shape)", None)
defjvp("np.flip", "np.flip(dm)")
defjvp("shapes.flip", "shapes.flip(dx, axis)", None)
defjvp("shapes.rot90", "shapes.rot90(dx, k, axes)", None, None)
defjvp("shapes.roll", "shapes.roll(dx, shift, axis)", None, None)
defjvp("shapes.repeat", "shapes.repeat(dx, repeats, axis)", None, None)
defjvp("shapes.tile", "shapes.tile(dx, reps)", None)
defjvp("np.resize", "np.resize(da, new_shape)", None)
defjvp("shapes.delete", "shapes.delete(dx, obj, axis)", None, None)
defjvp("shapes.insert", "shapes.insert(dx, obj, 0.0, axis)", None,
       "shapes.insert(np.zeros_like(x), obj, dvalues, axis)", None)
defjvp("shapes.take", "shapes.take(dx, indices, axis)", None, None)
defjvp("shapes.take_along_axis", "shapes.take_along_axis(dx, indices, axis)", None, None)
defjvp("np.extract", None, "np.extract(condition, darr)")
defjvp("np.diag", "np.diag(dv, k)", None)
defjvp("np.diagflat", "np.diagflat(dv, k)", None)
defjvp("shapes.diagonal", "shapes.diagonal(dx, offset, axis1, axis2)", None, None, None)
defjvp("np.tril", "np.tril(dm, k)", None)
defjvp("np.triu", "np.triu(dm, k)", None)
defjvp("shapes.split_part", "shapes.split_part(dx, sections, axis, kind, k, count)", None,
       None, None, None, None)
defjvp("shapes.trim_zeros", "shapes.trim_zeros(dx, like)", None)
defjvp("shapes.diff", "shapes.diff(dx, n, axis)", None, None)
defjvp(("shapes.sort", "shapes.partition"),
       "shapes.take_along_axis(dx, shapes.source_index(x, ans, axis), axis)", None, None)
defjvp("shapes.cumprod", "shapes.linrec(x, dx * shapes.shift(ans, 1.0, axis), axis)", None)
defjvp("shapes.linrec", "shapes.linrec(a, da * shapes.shift(ans, 0.0, axis), axis)",
       "shapes.linrec(a, db, axis)", None)
defjvp("shapes.shift", "shapes.shift(dx, 0.0, axis)", None, None)
defjvp("shapes.powers",
       "np.expand_dims(dx, -1) * shapes.powers(x, np.maximum(p - 1, 0), c * p)", None, None)
# ans[:0]: no values before x (generated code has no None)
defjvp("np.unique", "shapes.occurrence_take(dar, ar, ans, ans[:0])")
defjvp(("shapes.union1d", "shapes.setxor1d"), "shapes.occurrence_take(da, a, ans, ans[:0])",
       "shapes.occurrence_take(db, b, ans, a)")
defjvp(("shapes.intersect1d", "shapes.setdiff1d"),
       "shapes.occurrence_take(da, a, ans, ans[:0])", None)
defjvp("shapes.occurrence_take", "shapes.occurrence_take(dv, x, u, before)", None, None, None)
defjvp("shapes.astype", "shapes.astype(dx, dtype)", None)
defjvp("shapes.item", "shapes.item(dx)")
