"""Stage 7, rules: one table of derivative rules, one entry per primitive.

Each entry gives, for ``ans = f(x, y, ...)``, one template per argument: the
contribution to that argument's adjoint, as a Python expression over ``g``
(the adjoint of ``ans``), ``ans`` and the argument names. ``None`` means a
zero derivative. Templates are ordinary source (lintable, readable), parsed
once, and substituted into the generated adjoint by name.

Conventions at non-differentiable points follow JAX: ``abs`` has slope 1 at
0; builtin ``max``/``min`` send the whole adjoint to the argument Python
returns (the first one on a tie); ``x ** y`` has d/dy = 0 at x = 0.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    params: tuple[str, ...]
    partials: tuple[str | None, ...]
    parsed: tuple[ast.expr | None, ...] = field(compare=False, default=())

    def needs(self, index: int) -> set[str]:
        """Names the template for argument `index` reads, besides g."""
        tree = self.parsed[index]
        if tree is None:
            return set()
        return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} \
            - {"g", "math", "np"}


RULES: dict[str, Rule] = {}


def defrule(names: str | tuple[str, ...], params: str, *partials: str | None) -> None:
    """Register one rule under one or several canonical names."""
    plist = tuple(p.strip() for p in params.split(","))
    if len(plist) != len(partials):
        raise ValueError(f"rule {names}: {len(plist)} params, {len(partials)} partials")
    parsed = tuple(None if p is None else ast.parse(p, mode="eval").body for p in partials)
    rule = Rule(plist, tuple(partials), parsed)
    for name in (names,) if isinstance(names, str) else names:
        RULES[name] = rule


def defzero(*names: str) -> None:
    """Functions with a zero derivative everywhere it exists (piecewise constant)."""
    for name in names:
        RULES[name] = Rule(("x",), (None,), (None,))


# ----- Operators (keys are the ast operator class names) -----
defrule("Add", "x, y", "g", "g")
defrule("Sub", "x, y", "g", "-g")
defrule("Mult", "x, y", "g * y", "g * x")
defrule("Div", "x, y", "g / y", "-g * ans / y")
defrule("Pow", "x, y", "g * y * x ** (y - 1)",
        "g * math.log(x if x != 0 else 1.0) * ans")
defrule("Mod", "x, y", "g", "-g * math.floor(x / y)")
defrule("FloorDiv", "x, y", None, None)
defrule("USub", "x", "-g")
defrule("UAdd", "x", "g")
defrule("copy", "x", "g")

# ----- Builtins -----
defrule("abs", "x", "g * (1.0 if x >= 0 else -1.0)")
defrule("max", "x, y", "g * (1.0 if x >= y else 0.0)", "g * (0.0 if x >= y else 1.0)")
defrule("min", "x, y", "g * (1.0 if x <= y else 0.0)", "g * (0.0 if x <= y else 1.0)")
defrule("float", "x", "g")
defzero("int", "round", "len", "bool")
RULES["round"] = Rule(("x", "n"), (None, None), (None, None))

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

# ----- piecewise constant -----
defzero("math.floor", "math.ceil", "math.trunc", "math.isnan", "math.isinf",
        "math.isfinite")

# ----- srcgrad -----
defrule("srcgrad.stop_gradient", "x", None)

# ----- NumPy on scalars: the same rules under NumPy's names -----
_NP_ALIASES = {
    "sin": "sin", "cos": "cos", "tan": "tan", "arcsin": "asin", "arccos": "acos",
    "arctan": "atan", "arctan2": "atan2", "hypot": "hypot", "sinh": "sinh",
    "cosh": "cosh", "tanh": "tanh", "arcsinh": "asinh", "arccosh": "acosh",
    "arctanh": "atanh", "exp": "exp", "expm1": "expm1", "exp2": "exp2", "log": "log",
    "log1p": "log1p", "log10": "log10", "log2": "log2", "sqrt": "sqrt",
    "power": "pow", "fabs": "fabs", "abs": "fabs", "absolute": "fabs", "floor": "floor",
    "ceil": "ceil", "trunc": "trunc", "degrees": "degrees", "radians": "radians",
    "deg2rad": "radians", "rad2deg": "degrees", "copysign": "copysign",
    "isnan": "isnan", "isinf": "isinf", "isfinite": "isfinite",
}
for _np_name, _math_name in _NP_ALIASES.items():
    RULES[f"np.{_np_name}"] = RULES[f"math.{_math_name}"]
defrule("np.square", "x", "g * 2.0 * x")
defrule("np.cbrt", "x", "g / (3.0 * ans * ans)")  # math.cbrt: Numba cannot compile it
defrule("np.fmod", "x, y", "g", "-g * math.trunc(x / y)")
defrule("np.sign", "x", None)


def rule_for(key: str) -> Rule | None:
    return RULES.get(key)
