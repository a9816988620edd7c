"""Every function Numba compiles from np, np.linalg, math and scipy.special is accounted for.

The list comes from Numba's own registry (its typing context knows each function it can
compile), not from a hand-written list. For each function, exactly one of:

* it has a derivative rule (each template is checked against finite differences by
  tests/test_rule_templates.py, and the scipy.special ones by tests/test_special.py);
* it is on srcgrad's non-differentiable list (rules.non_differentiable_functions(), each
  entry with its reason);
* differentiating a call to it raises MissingRuleError at the user's line.

So no call is ever a constant by default. ``python -m pytest -s tests/test_registry.py``
prints the fraction of each class per family.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad
from srcgrad.compiler.capture import canonical_name
from srcgrad.compiler.normalize import LOWERED
from srcgrad.compiler.rules import non_differentiable_functions, rule_for

# How to call each function that has no rule and is not on the non-differentiable list,
# with float data: the arguments (x a 1-D float array, A a square matrix, s a float,
# i an int, k an int array, or any literal) and how to reduce the result to a float
# ("a" an array: np.sum(r); "s" a float: r; "t" a tuple or list: np.sum(r[0]); "t1":
# np.sum(r[1]); "n" None, from a function that writes into its first argument: A).
# A function of the registry that falls in that class and has no entry here fails
# test_every_function_is_accounted_for: add its call.
CALLS = {
    "np.add": ("x, x", "a"), "np.subtract": ("x, x", "a"), "np.multiply": ("x, x", "a"),
    "np.divide": ("x, x", "a"), "np.true_divide": ("x, x", "a"), "np.negative": ("x", "a"),
    "np.positive": ("x", "a"), "np.reciprocal": ("x", "a"), "np.remainder": ("x, x", "a"),
    "np.mod": ("x, x", "a"), "np.float_power": ("x, x", "a"), "np.fmax": ("x, x", "a"),
    "np.fmin": ("x, x", "a"), "np.logaddexp": ("x, x", "a"), "np.logaddexp2": ("x, x", "a"),
    "np.sinc": ("x", "a"), "np.nextafter": ("x, x", "a"), "np.spacing": ("x", "a"),
    "np.ldexp": ("x, i", "a"), "np.divmod": ("x, x", "t"), "np.angle": ("x", "a"),
    "np.real": ("x", "a"), "np.imag": ("x", "a"), "np.conj": ("x", "a"),
    "np.conjugate": ("x", "a"), "np.nan_to_num": ("x", "a"), "np.unwrap": ("x", "a"),
    "np.append": ("x, x", "a"), "np.array": ("s", "a"), "np.asarray": ("x", "a"),
    "np.asarray_chkfinite": ("x", "a"), "np.asfortranarray": ("x", "a"),
    "np.frombuffer": ("x", "a"), "np.atleast_1d": ("x", "a"), "np.atleast_2d": ("x", "a"),
    "np.atleast_3d": ("x", "a"), "np.broadcast_to": ("x, (2, 4)", "a"),
    "np.broadcast_arrays": ("x", "t"), "np.expand_dims": ("x, 0", "a"),
    "np.ravel": ("x", "a"), "np.resize": ("x, 6", "a"), "np.repeat": ("x, 2", "a"),
    "np.roll": ("x, 1", "a"), "np.flip": ("x", "a"), "np.fliplr": ("A", "a"),
    "np.flipud": ("x", "a"), "np.rot90": ("A", "a"), "np.moveaxis": ("A, 0, 1", "a"),
    "np.swapaxes": ("A, 0, 1", "a"), "np.diag": ("x", "a"), "np.diagflat": ("x", "a"),
    "np.tril": ("A", "a"), "np.triu": ("A", "a"), "np.vander": ("x", "a"),
    "np.kron": ("x, x", "a"), "np.cross": ("x[:3], x[1:]", "a"),
    "np.dstack": ("(x, x)", "a"), "np.row_stack": ("(x, x)", "a"),
    "np.delete": ("x, 1", "a"), "np.insert": ("x, 1, s", "a"), "np.take": ("x, k", "a"),
    "np.take_along_axis": ("x, k, 0", "a"), "np.extract": ("x > 0.0, x", "a"),
    "np.select": ("[x > 0.0], [x]", "a"), "np.trim_zeros": ("x", "a"),
    "np.split": ("x, 2", "t"), "np.array_split": ("x, 2", "t"), "np.hsplit": ("x, 2", "t"),
    "np.vsplit": ("A, 3", "t"), "np.dsplit": ("A.reshape((1, 3, 3)), 3", "t"),
    "np.cumprod": ("x", "a"), "np.nancumprod": ("x", "a"), "np.nancumsum": ("x", "a"),
    "np.diff": ("x", "a"), "np.ediff1d": ("x", "a"), "np.convolve": ("x, x", "a"),
    "np.correlate": ("x, x", "a"), "np.interp": ("x, np.sort(x), x", "a"),
    "np.trapezoid": ("x", "s"), "np.average": ("x", "s"), "np.var": ("x", "s"),
    "np.std": ("x", "s"), "np.median": ("x", "s"), "np.ptp": ("x", "s"),
    "np.percentile": ("x, 50.0", "s"), "np.quantile": ("x, 0.5", "s"),
    "np.nanpercentile": ("x, 50.0", "s"), "np.nanquantile": ("x, 0.5", "s"),
    "np.nanmax": ("x", "s"), "np.nanmin": ("x", "s"), "np.nanmean": ("x", "s"),
    "np.nanmedian": ("x", "s"), "np.nanprod": ("x", "s"), "np.nanstd": ("x", "s"),
    "np.nansum": ("x", "s"), "np.nanvar": ("x", "s"), "np.cov": ("x", "a"),
    "np.corrcoef": ("x, x", "a"), "np.vdot": ("x, x", "s"), "np.sort": ("x", "a"),
    "np.partition": ("x, 1", "a"), "np.unique": ("x", "a"), "np.union1d": ("x, x", "a"),
    "np.intersect1d": ("x, x", "a"), "np.setdiff1d": ("x, x * 2.0", "a"),
    "np.setxor1d": ("x, x * 2.0", "a"), "np.histogram": ("x", "t1"), "np.roots": ("x", "a"),
    "np.geomspace": ("s, s + 1.0", "a"), "np.logspace": ("s, s + 1.0", "a"),
    "np.kaiser": ("4, s", "a"), "np.bincount": ("k, x[:3]", "a"),
    "np.linalg.cholesky": ("A @ A.T", "a"), "np.linalg.cond": ("A", "s"),
    "np.linalg.det": ("A", "s"), "np.linalg.eig": ("A", "t"), "np.linalg.eigh": ("A", "t"),
    "np.linalg.eigvals": ("A", "a"), "np.linalg.eigvalsh": ("A", "a"),
    "np.linalg.lstsq": ("A, A", "t"), "np.linalg.pinv": ("A", "a"), "np.linalg.qr": ("A", "t"),
    "np.linalg.slogdet": ("A", "t"), "np.linalg.solve": ("A, A", "a"),
    "np.linalg.svd": ("A", "t"), "np.linalg.matrix_rank": ("A", "s"),
    "math.frexp": ("s", "t"), "math.ldexp": ("s, 2", "s"), "math.nextafter": ("s, 2.0", "s"),
    "math.gamma": ("s", "s"), "math.lgamma": ("s", "s"), "np.fill_diagonal": ("A, s", "n"),
}

# Functions of the registry srcgrad cannot differentiate through whatever it knows: they
# take no floats (so no argument can depend on the inputs), with why.
NO_FLOAT_ARGUMENT = {
    "np.bartlett": "a window of M points: M is an int", "np.blackman": "M is an int",
    "np.hamming": "M is an int", "np.hanning": "M is an int",
    "np.broadcast_shapes": "takes shapes", "np.indices": "takes a shape",
    "np.tri": "takes sizes", "np.tril_indices": "takes sizes", "np.triu_indices": "takes sizes",
    "np.isnat": "takes datetimes",
}

# Functions srcgrad's language cannot call at all, with why: Numba refuses the call as
# srcgrad writes it (a TypeInferenceError at the user's line, never a wrong gradient).
UNCALLABLE = {
    "np.select": "takes lists of arrays; srcgrad passes a literal sequence as a tuple, and "
                 "Numba's np.select takes only lists",
}

FAMILIES = {"np": np, "np.linalg": np.linalg, "math": math}


def _numba_registry() -> list[tuple[str, str, object]]:
    """(family, name, function) for every public function of np, np.linalg and math that
    Numba's typing context knows."""
    from numba.core.registry import cpu_target
    ctx = cpu_target.typing_context
    cpu_target.target_context.refresh()   # loads Numba's NumPy implementations
    ctx.refresh()
    out = []
    for family, module in FAMILIES.items():
        for name in sorted(dir(module)):
            obj = getattr(module, name)
            if name.startswith("_") or not callable(obj) or isinstance(obj, type):
                continue
            try:
                known = obj in ctx._globals
            except TypeError:
                known = False
            if not known:
                try:
                    ctx.resolve_value_type(obj)
                    known = True
                except Exception:  # noqa: BLE001 - Numba has no type for it
                    known = False
            if known:
                out.append((family, name, obj))
    return out


REGISTRY = _numba_registry()
NONDIFF = non_differentiable_functions()


def _classify(canon: str) -> str:
    if canon in NONDIFF:
        return "nondiff"
    if rule_for(canon) is not None or canon in LOWERED:
        return "rule"
    return "refused"


def _classes() -> dict[str, tuple[str, str]]:
    """'family.name' -> (canonical name, class)."""
    out = {}
    for family, name, obj in REGISTRY:
        canon = canonical_name(obj) or f"{family}.{name}"
        out[f"{family}.{name}"] = (canon, _classify(canon))
    return out


CLASSES = _classes()
REFUSED = sorted(k for k, (_, c) in CLASSES.items() if c == "refused")


def test_registry_is_numbas_and_nonempty():
    assert len(REGISTRY) > 250
    assert {"np.sin", "np.sum", "np.linalg.det", "math.sin", "np.linalg.norm"} <= set(CLASSES)


def test_every_function_is_accounted_for(capsys):
    unaccounted = [k for k in REFUSED
                   if k not in CALLS and k not in NO_FLOAT_ARGUMENT and k not in UNCALLABLE]
    assert not unaccounted, ("these functions have no rule, are not on the non-differentiable "
                             f"list, and have no call in CALLS to check they are refused: "
                             f"{unaccounted}")
    assert not [k for k in NO_FLOAT_ARGUMENT if CLASSES.get(k, ("", "refused"))[1] == "rule"]
    with capsys.disabled():
        print("\nNumba's registry, by srcgrad's class (rule / non-differentiable / refused):")
        for family in FAMILIES:
            rows = [c for k, (_, c) in CLASSES.items() if k.rpartition(".")[0] == family]
            n = len(rows)
            counts = {c: rows.count(c) for c in ("rule", "nondiff", "refused")}
            print(f"  {family:10s} {n:4d} functions: " + ", ".join(
                f"{c} {counts[c]} ({counts[c] / n:.0%})" for c in counts))
        from srcgrad.runtime.special import SCIPY_NAMES
        print(f"  scipy.special: {len(SCIPY_NAMES)} functions compiled by srcgrad, each with "
              "a rule (tests/test_special.py); every other one is refused by name")


def _jax_counts() -> dict[str, int]:
    """Classes of the functions Numba compiles and JAX differentiates: those of the registry
    that jax.numpy has too (tests/support/jax_surface.py) and that take a float."""
    from .support.jax_surface import JAX_NAMES
    keys = [k for k in CLASSES if k in JAX_NAMES and k not in NO_FLOAT_ARGUMENT]
    classes = [CLASSES[k][1] for k in keys]
    return {c: classes.count(c) for c in ("rule", "nondiff", "refused")}


def test_most_of_jaxs_surface_has_rules(capsys):
    # a function on the non-differentiable list has a zero derivative (int- or bool-valued,
    # piecewise constant), as JAX's; the fraction counts those with rules among the others
    counts = _jax_counts()
    share = counts["rule"] / (counts["rule"] + counts["refused"])
    with capsys.disabled():
        print(f"\nfunctions Numba compiles and JAX differentiates: {sum(counts.values())}; "
              f"rule {counts['rule']}, non-differentiable {counts['nondiff']}, refused "
              f"{counts['refused']}: {share:.0%} of the differentiable ones have rules")
    assert share >= 0.9


def test_jax_surface_list_is_current():
    pytest.importorskip("jax")
    from .support.jax_surface import JAX_NAMES, current
    assert sorted(JAX_NAMES) == current()


def test_non_differentiable_list_gives_reasons():
    assert NONDIFF and all(isinstance(r, str) and len(r) > 10 for r in NONDIFF.values())


def _source(key: str) -> str:
    args, kind = CALLS[key]
    call = f"{CLASSES[key][0]}({args})"
    reduce = {"a": "np.sum(r)", "s": "r * 1.0", "t": "np.sum(r[0])", "t1": "np.sum(r[1])",
              "n": "np.sum(A)"}[kind]
    return ("import math\nimport numpy as np\n\n\n"
            f"def f(x, A, s, i, k):\n    r = {call}\n    return {reduce}\n")


_ARGS = (np.array([0.3, -0.6, 0.9, 1.4]), np.array([[1.2, 0.3, -0.2], [0.1, 0.9, 0.4],
                                                      [0.5, -0.3, 1.1]]),
         0.7, 2, np.array([2, 0, 0, 1]))


def _check_refused(make_module, key: str) -> None:
    mod = make_module(_source(key))
    uses = [p for p, letter in zip(("x", "A", "s"), "xAs") if letter in CALLS[key][0]]
    with pytest.raises(srcgrad.MissingRuleError) as info:
        srcgrad.grad(mod.f, wrt=tuple(uses), jit=False).source_for(*_ARGS)
    assert info.value.filename.endswith(".py") and info.value.lineno > 0


# A few in the fast tier (one per kind of result); all of them in the slow tier.
FAST = [k for k in ("np.sort", "np.linalg.det", "np.linalg.svd", "np.split", "math.frexp")
        if k in REFUSED]


@pytest.mark.parametrize("key", FAST)
def test_refused_fast(make_module, key):
    _check_refused(make_module, key)


@pytest.mark.slow
@pytest.mark.parametrize("key", [k for k in REFUSED if k in CALLS and k not in UNCALLABLE])
def test_refused(make_module, key):
    _check_refused(make_module, key)
