"""User-defined derivative rules: ``custom_vjp`` and ``non_differentiable``.

    @srcgrad.custom_vjp
    def logsumexp(x):
        m = np.max(x)
        return m + np.log(np.sum(np.exp(x - m)))

    @logsumexp.defvjp
    def logsumexp_vjp(g, ans, x):
        return g * np.exp(x - ans)

A decorated function stays callable from Python. In a function srcgrad
differentiates, a call to it is not looked into: it is called as it is
(compiled with ``numba.njit``), and the reverse sweep calls the rule with the
output's adjoint ``g``, the output ``ans`` and the inputs. The rule returns one
cotangent per positional input (a tuple when there are several), ``None`` for
an input that gets no gradient.

Both register an entry in ``rules.RULES``, the table that holds srcgrad's own
rules: a custom rule is a rule whose template calls the user's function
(``logsumexp_vjp(g, ans, x)``) instead of an expression. The generated module
names the function and its rule as globals, set when the module is loaded.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import re

from .compiler.capture import CUSTOM, unwrap
from .compiler.rules import EXTERNAL_NAMES, MISSING, NON_DIFFERENTIABLE_REASONS, defrule, nondiff
from .errors import UsageError

_KEYS: dict[str, object] = {}  # canonical name -> CustomFunction


class CustomFunction:
    """A function with a user-given derivative (or none)."""

    kind = "custom_vjp"
    srcgrad_role = CUSTOM   # what compiler.capture recognises

    def __init__(self, fn) -> None:
        self.fn = unwrap(fn)
        if not callable(self.fn):
            raise UsageError(f"{self.kind} needs a function, got {fn!r}")
        functools.update_wrapper(self, self.fn)
        self.params = list(inspect.signature(self.fn).parameters)
        self.rule = None
        self._jitted: dict[object, object] = {}
        base = re.sub(r"\W", "_", getattr(self.fn, "__name__", "custom"))
        key, n = base, 1
        while key in _KEYS:
            n += 1
            key = f"{base}_{n}"
        self.key = key  # the name generated code calls it by
        _KEYS[key] = self
        self._register()

    def __call__(self, *args, **kwargs):
        return self.fn(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<srcgrad.{self.kind} {self.fn.__qualname__}>"

    @property
    def rule_key(self) -> str:
        return f"{self.key}_vjp"

    def defvjp(self, rule):
        """Register `rule(g, ans, *inputs)` as this function's vector-Jacobian product."""
        if not callable(rule):
            raise UsageError(f"defvjp needs a function, got {rule!r}")
        n = len(inspect.signature(rule).parameters)
        if n != len(self.params) + 2:
            raise UsageError(
                f"the rule for {self.fn.__name__} takes {n} arguments; it must take "
                f"(g, ans, {', '.join(self.params)}): the output's adjoint, the output, "
                "then the inputs")
        self.rule = rule
        self._register()
        return rule

    def _register(self) -> None:
        n = len(self.params)
        params = ", ".join(f"_a{i}" for i in range(n))  # never clash with g or ans
        if self.rule is None:
            partials = [MISSING] * n
        else:
            call = f"{self.rule_key}(g, ans{', ' if n else ''}{params})"
            partials = [f"vjp_part({call}, {i}, {n})" for i in range(n)]
            EXTERNAL_NAMES.add(self.rule_key)
        if n:
            defrule(self.key, params, *partials)
        EXTERNAL_NAMES.add(self.key)

    def globals(self, jit: bool = True) -> dict[str, object]:
        """The function (and its rule), as the generated module names them."""
        if jit not in self._jitted:
            import numba
            wrap = numba.njit(cache=False) if jit else (lambda f: f)
            out = {self.key: wrap(self.fn)}
            if self.rule is not None:
                out[self.rule_key] = wrap(self.rule)
            self._jitted[jit] = out
        return self._jitted[jit]

    def source_hash(self) -> str:
        """A hash of the function's and the rule's source (to key compiled code on)."""
        digest = hashlib.sha256()
        for f in (self.fn, self.rule):
            if f is None:
                continue
            try:
                digest.update(inspect.getsource(f).encode())
            except (OSError, TypeError):
                digest.update(repr(getattr(f, "__code__", f)).encode())
        return digest.hexdigest()[:16]


class NonDifferentiable(CustomFunction):
    """A function whose output carries no gradient."""

    kind = "non_differentiable"

    def defvjp(self, rule):
        raise UsageError(f"{self.fn.__name__} is non_differentiable; use "
                         "srcgrad.custom_vjp to give it a rule")

    def _register(self) -> None:
        nondiff(NON_DIFFERENTIABLE_REASONS["user"], self.key)
        EXTERNAL_NAMES.add(self.key)


def custom_vjp(fn) -> CustomFunction:
    """Give `fn` a derivative rule with ``@fn.defvjp`` (see the module docstring)."""
    return CustomFunction(fn)


def non_differentiable(fn) -> NonDifferentiable:
    """Mark `fn` as having no derivative: its output is a constant to srcgrad."""
    return NonDifferentiable(fn)
