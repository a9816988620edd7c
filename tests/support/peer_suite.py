"""Run srcgrad over a peer's file of test functions, as a new user would, and sort the outcomes.

Tangent's ``tests/functions.py`` is the suite this was written for: a file of small functions whose
parameters follow a naming convention (``a``, ``b``, ``c`` floats, ``n`` an int, ``x`` a vector,
``sqm`` a square matrix, and a few named structures). The file is not part of srcgrad; pass its path::

    python -m tests.support.peer_suite /path/to/tangent/tests/functions.py

Every function that uses only Python, ``math`` and NumPy is differentiated with respect to each of
its float and array parameters at several points, and compared with central finite differences of
the same function run as plain Python. Functions that call TensorFlow or Tangent's own API (its
stacks, tracing, ``insert_grad_of``) are left out: they test Tangent, not differentiation.

Each function ends in one outcome:

* ``right``     every point agrees with finite differences;
* ``refused``   a ``SrcgradError`` other than ``InternalError``, naming the user's line;
* ``unclear``   refused, but the message does not name the line, or another exception escaped;
* ``internal``  an ``InternalError`` ("a bug in srcgrad");
* ``wrong``     a gradient that disagrees with finite differences (never acceptable).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import importlib.util
import inspect
import re
import sys
import types
import warnings
from collections.abc import Callable, Iterable

import numpy as np

import srcgrad
from srcgrad.check import central_difference

SCALARS = (-2.0, -1.5, -1.0, -0.5, -0.1, 0.1, 0.5, 1.0, 1.5, 2.0)
INTEGERS = (1, 2, 3)
OUTCOMES = ("right", "refused", "unclear", "internal", "wrong")
_LEFT_OUT_MARKERS = ("tf.", "tangent.", "insert_grad_of")


@dataclasses.dataclass
class Outcome:
    name: str
    kind: str
    detail: str = ""


def load(path: str) -> types.ModuleType:
    """Import the file at `path` with stand-ins for ``tangent`` and ``tensorflow`` (never called by the
    functions this runner keeps)."""
    stub = types.ModuleType("tangent")
    stub.trace = lambda f: f
    stub.insert_grad_of = None
    saved = sys.modules.get("tangent")
    sys.modules["tangent"] = stub
    try:
        spec = importlib.util.spec_from_file_location("peer_functions", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        if saved is None:
            sys.modules.pop("tangent", None)
        else:
            sys.modules["tangent"] = saved
    return module


def kept_functions(module: types.ModuleType) -> list[Callable]:
    """The module's own functions that use only Python, math and NumPy, in file order."""
    out = []
    for name, fn in vars(module).items():
        if not inspect.isfunction(fn) or fn.__module__ != module.__name__ or name.startswith("_"):
            continue
        source = inspect.getsource(fn)
        if any(marker in source for marker in _LEFT_OUT_MARKERS):
            continue
        out.append(fn)
    out.sort(key=lambda f: f.__code__.co_firstlineno)
    return out


def _points(fn: Callable, rng: np.random.Generator) -> list[tuple]:
    """Argument tuples for `fn`, chosen from its parameter names as Tangent's harness does."""
    names = list(inspect.signature(fn).parameters)
    special = _SPECIAL_ARGUMENTS.get(fn.__name__)
    if special is not None:
        return special(rng)
    values: dict[str, list] = {
        "a": list(SCALARS), "b": list(SCALARS[::-1]), "c": list(SCALARS[3:] + SCALARS[:3]),
        "n": list(INTEGERS), "i": [0, 1, 2],
        "x": [rng.standard_normal(k) for k in (3, 5, 10)],
        "sqm": [rng.standard_normal((k, k)) for k in (1, 3, 5)],
    }
    unknown = [n for n in names if n not in values]
    if unknown:
        raise KeyError(f"no inputs known for parameter(s) {unknown}")
    count = max(len(values[n]) for n in names)
    return [tuple(values[n][k % len(values[n])] for n in names) for k in range(count)]


def _logistic(rng):
    label = np.zeros(5)
    label[1] = 1.0
    return [(rng.random(3), label, rng.standard_normal((3, 5)), rng.standard_normal(5)) for _ in range(2)]


def _bilinear(rng):
    d = 3
    return [tuple(rng.standard_normal(s) for s in ((1, d), (1, d), (d, d), (d, d), (1, d))) for _ in range(2)]


_SPECIAL_ARGUMENTS = {
    "logistic_regression": _logistic,
    "rnn": lambda rng: [(rng.standard_normal((3, 2)), rng.standard_normal((2, 3))) for _ in range(2)],
    "bilinear": _bilinear,
    "unpacking_args_saxpy": lambda rng: [((a, b, c),) for a, b, c in zip(SCALARS, SCALARS[::-1], SCALARS[3:])],
    "passthru_unpack": lambda rng: [((a, b, c),) for a, b, c in zip(SCALARS, SCALARS[::-1], SCALARS[3:])],
    "dict_wrapper": lambda rng: [((a, b, c),) for a, b, c in zip(SCALARS, SCALARS[::-1], SCALARS[3:])],
    "dict_saxpy": lambda rng: [({"a": a, "b": b, "c": c},) for a, b, c in zip(SCALARS, SCALARS[::-1], SCALARS[3:])],
    "nested_dict": lambda rng: [({"i": {"j": a, "k": b}},) for a, b in zip(SCALARS, SCALARS[::-1])],
}


def _differentiable(value) -> bool:
    if isinstance(value, bool | int | np.integer):
        return False
    if isinstance(value, float | np.floating):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind == "f"
    if isinstance(value, tuple | list):
        return all(_differentiable(v) for v in value)
    if isinstance(value, dict):
        return all(_differentiable(v) for v in value.values())
    return False


def _flat(value) -> list[float]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _flat(v)]
    if isinstance(value, tuple | list):
        return [x for v in value for x in _flat(v)]
    return [float(v) for v in np.ravel(value)]


def _perturbed(value, k: int, t: float):
    """`value` with its k-th float (in _flat order) moved by t."""
    box = [k]

    def walk(v):
        if isinstance(v, dict):
            return {key: walk(item) for key, item in v.items()}
        if isinstance(v, tuple | list):
            return type(v)(walk(item) for item in v)
        if isinstance(v, np.ndarray):
            out = v.copy()
            flat = out.reshape(-1)
            if 0 <= box[0] < flat.size:
                flat[box[0]] += t
            box[0] -= flat.size
            return out
        out = float(v) + t if box[0] == 0 else v
        box[0] -= 1
        return out

    return walk(value)


def _scalar_output(fn, args) -> float:
    y = fn(*copy.deepcopy(args))
    return float(np.sum(np.asarray(y, dtype=float)))


def _fd(fn, args, position, step: float) -> list[float]:
    base = args[position]
    out = []
    for k in range(len(_flat(base))):
        def g(t, k=k):
            moved = list(args)
            moved[position] = _perturbed(base, k, t)
            return _scalar_output(fn, tuple(moved))
        out.append(central_difference(g, step))
    return out


def run_function(fn: Callable, rng: np.random.Generator, jit: bool = True) -> Outcome:
    name = fn.__name__
    try:
        points = _points(fn, rng)
    except KeyError as e:
        return Outcome(name, "unclear", f"harness: {e}")
    positions = [p for p, v in enumerate(points[0]) if _differentiable(v)]
    if not positions:
        return Outcome(name, "unclear", "harness: no float parameter")
    compared = 0
    broken = None
    for args in points:
        try:
            y = fn(*copy.deepcopy(args))
        except Exception as e:  # noqa: BLE001 -- the peer's function fails as plain Python here
            broken = e
            continue
        if not np.all(np.isfinite(_flat(y))):
            continue
        for position in positions:
            try:
                if np.ndim(y) == 0 and not isinstance(y, tuple):
                    got = srcgrad.grad(fn, wrt=position, jit=jit)(*copy.deepcopy(args))
                else:
                    value, pullback = srcgrad.vjp(fn, *copy.deepcopy(args), wrt=position, jit=jit)
                    seed = tuple(np.ones_like(v) if np.ndim(v) else 1.0 for v in value) \
                        if isinstance(value, tuple) else (np.ones_like(value) if np.ndim(value) else 1.0)
                    got = pullback(seed)
            except srcgrad.InternalError as e:
                return Outcome(name, "internal", _first_line(e))
            except srcgrad.SrcgradError as e:
                named = re.search(re.escape(fn.__code__.co_filename) + r":\d+", str(e)) is not None
                return Outcome(name, "refused" if named else "unclear", _first_line(e))
            except Exception as e:  # noqa: BLE001 -- a user would see this exception
                return Outcome(name, "unclear", f"{type(e).__name__}: {_first_line(e)}")
            expected = _fd(fn, args, position, 1e-4)
            if not np.allclose(expected, _fd(fn, args, position, 1e-3), rtol=1e-4, atol=1e-6):
                continue  # not smooth here: a branch or loop exit is within the step (while_big at -0.1)
            actual = _flat(got)
            if len(actual) != len(expected) or not np.allclose(actual, expected, rtol=1e-5, atol=1e-6):
                return Outcome(name, "wrong", f"at {args!r} wrt {position}: {actual} vs {expected}")
            compared += 1
    if compared == 0 and broken is not None:
        # The function fails as plain Python (Tangent's cart2polar calls np.arctan(b, a)): srcgrad
        # should refuse it at its line too.
        try:
            srcgrad.grad(fn, wrt=positions[0], jit=jit)(*copy.deepcopy(points[0]))
        except srcgrad.InternalError as e:
            return Outcome(name, "internal", _first_line(e))
        except srcgrad.SrcgradError as e:
            return Outcome(name, "refused", f"(fails as Python: {type(broken).__name__}) {_first_line(e)}")
        except Exception as e:  # noqa: BLE001
            return Outcome(name, "unclear", f"{type(e).__name__}: {_first_line(e)}")
        return Outcome(name, "unclear", f"fails as Python ({broken!r}) but srcgrad differentiated it")
    if compared == 0:
        return Outcome(name, "unclear", "harness: no point where finite differences are defined")
    return Outcome(name, "right", f"{compared} comparisons")


def _first_line(e: BaseException) -> str:
    lines = str(e).strip().splitlines()
    return lines[0] if lines else type(e).__name__


def run(path: str, names: Iterable[str] = (), jit: bool = True, seed: int = 0) -> list[Outcome]:
    module = load(path)
    chosen = set(names)
    outcomes = []
    for fn in kept_functions(module):
        if chosen and fn.__name__ not in chosen:
            continue
        outcomes.append(run_function(fn, np.random.default_rng(seed), jit=jit))
    return outcomes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("path")
    parser.add_argument("names", nargs="*")
    parser.add_argument("--no-jit", action="store_true")
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            outcomes = run(args.path, args.names, jit=not args.no_jit)
    for o in outcomes:
        print(f"{o.kind:9s} {o.name:32s} {o.detail}")
    counts = {k: sum(o.kind == k for o in outcomes) for k in OUTCOMES}
    print(f"{len(outcomes)} functions: " + ", ".join(f"{counts[k]} {k}" for k in OUTCOMES))
    return 1 if counts["wrong"] or counts["internal"] else 0


if __name__ == "__main__":
    sys.exit(main())
