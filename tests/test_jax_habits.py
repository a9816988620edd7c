"""Code written as a JAX user writes it: parameters in tuples, lists and dicts (pytrees).

Each function takes its parameters as a container and is differentiated with respect
to it; the gradient has the container's structure (None for a leaf that is not a float
or a float array). Checked against central finite differences over every float leaf,
and against ``jax.grad`` run on the same source with ``np`` -> ``jax.numpy`` (where JAX
is installed). Then what is refused, each at its line with what to write instead.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import srcgrad
from srcgrad.errors import UnsupportedSyntaxError, UsageError

from .support.oracles_np import jax_available

SOURCE = '''
import math
import numpy as np


def mlp(params, x):
    h = x
    for W, b in params:
        h = np.tanh(W @ h + b)
    return np.sum(h ** 2)


def linear_dict(p, x, y):
    pred = x @ p["w"] + p["b"]
    return np.mean((pred - y) ** 2)


def nested(p):
    return np.sum(p["enc"]["W"] ** 2) * p["dec"][0] + p["dec"][1]


def unpack(t):
    a, b, c = t
    return a * b + math.sin(c)


def saxpy(val):
    return val["a"] * val["b"] + val["c"]


def via_dict(t):
    a, b, c = t
    return saxpy(dict(a=a, b=b, c=c))


def items_loop(p, x):
    out = 0.0
    for name, v in p.items():
        out = out + np.sum(np.sin(v) * x)
    return out


def values_sum(p):
    return sum(np.sum(v ** 2) for v in p.values()) + sum([np.sum(p["b"] ** 3), 1.0])


def zip_loop(ws, xs):
    total = 0.0
    for w, x in zip(ws, xs):
        total = total + w * x * x
    return total


def enumerate_loop(coeffs, x):
    total = 0.0
    for k, c in enumerate(coeffs):
        total = total + c * x ** k
    return total


def carry(state, steps):
    x, v = state
    for i in range(steps):
        state = (x + 0.1 * v, v - 0.1 * math.sin(x))
        x, v = state
    return state[0] * state[1]


def index_at_run_time(a, b, c, i):
    x = a, b, c
    return x[i] * x[(i + 1) % 3]


def list_literal(a):
    b = [1.0, a * a, 2.0]
    return np.sum(b) * b[1]


def update_dict(p, x):
    q = {"w": p["w"] * 2.0, "s": p["s"]}
    q["w"] = q["w"] + x
    q["s"] += 1.0
    return np.sum(q["w"] ** 2) * q["s"]


def get_default(p, x):
    scale = p.get("scale", 1.0)
    return np.sum(p["w"] * x) * scale


def helper_tuple(layer, x):
    return np.tanh(layer[0] @ x + layer[1])


def two_layers(params, x):
    h = helper_tuple(params["l1"], x)
    return np.sum(helper_tuple(params["l2"], h))


def int_leaf(cfg):
    return cfg["w"] ** cfg["n"]


def per_example(w, xs, ys):
    losses = [(np.dot(w, x) - y) ** 2 for x, y in zip(xs, ys)]
    return sum(losses) / len(losses)


def logistic_dict(p, X, y):
    z = X @ p["w"] + p["b"]
    return np.mean(np.log1p(np.exp(-y * z)))


def nested_def(a, n):
    def step(v, s):
        return v * s + math.sin(v)

    for i in range(n):
        a = step(a, 0.9)
    return a


def closure_reads_local(x, k):
    def scaled(z):
        return z * k
    sq = lambda t: t * t  # noqa: E731
    return scaled(sq(x)) + sq(k)


class Model:
    scale = 3.0

    def __init__(self, w):
        self.w = w

    def loss(self, x):
        return np.sum(np.tanh(self.w * x)) + self.penalty(x)

    def penalty(self, x):
        return np.sum(x * x) * 0.5

    @staticmethod
    def square(x):
        return x * x

    @classmethod
    def scaled(cls, x):
        return cls.scale * x ** 3


def builtins_over_containers(ws, x):
    total = 0.0
    for i in reversed(range(1, 7, 2)):
        total = total + ws[i // 2] * x ** i
    for k, w in enumerate(reversed(ws), start=1):
        total = total + k * w * x
    if any(w > 10.0 for w in ws) or not all(w > -10.0 for w in ws):
        total = total * 0.0
    return total + max(w * x for w in ws) + min(ws)


def keys_and_len(p):
    n = len(p)
    total = 0.0
    for k in p:
        total = total + p[k] * n
    if "bias" in p:
        total = total + 10.0 * p["bias"]
    return total


def rows_and_start(x, X):
    t = 0.0
    for row in X[1:]:
        t = t + np.sum(row * x)
    for k, v in enumerate(X[0], start=2):
        t = t + k * v * x
    return t


def inner_enumerate(x, p):
    t = 0.0
    for k, v in enumerate(p[1]):
        t = t + k * v * x
    a = np.array([x * i for i in range(3)])
    return t + np.sum(a ** 2) + sum(x ** i for i in reversed(range(1, 4)))


def closures(x, p):
    g = lambda t: t * p["w"]          # reads the dict argument at the call
    h = lambda t: g(t) * g(t) + p["b"]
    if x > 0.0:
        k = lambda s: s * x           # bound in a branch
        x = k(x)
    return h(x)


def same_name_in_two_scopes(x, y):
    def inner(t):
        g = lambda s: s * 2.0          # this g belongs to inner
        return g(t) + y
    g = lambda s: s * s * 3.0          # and this one to the function itself
    return g(x) + inner(x)


def printing(x, n):
    s = 0.0
    for i in range(n):
        s = s + math.sin(x * i)
        print("step", i, s)
    k = 0
    while s < 5.0 and k < 3:
        s = s * 2.0 + x
        k += 1
        print("k", k)
    return s


def print_f_string(x):
    print(f"x = {x}")
    return x * x


def print_sep(x):
    print("x", x, sep=",")
    return x * x


def layer(p, x):
    return np.tanh(p["W"] @ x + p["b"])


def moments(p, x):
    z = layer(p, x)
    return np.mean(z), np.sum(z ** 2)


def report(p, x):
    z = layer(p, x)
    return {"mean": np.mean(z), "act": z, "scale": (p["b"][0] * 2.0, np.max(z))}


def energy(p, x):
    z = layer(p, x)
    return np.sum(z ** 2) + 0.5 * np.sum(p["W"] ** 2) * p["b"][1]
'''

rng = np.random.default_rng(7)
X3 = rng.normal(size=3)
PARAMS = [(rng.normal(size=(4, 3)) * 0.5, rng.normal(size=4) * 0.5),
          (rng.normal(size=(2, 4)) * 0.5, rng.normal(size=2) * 0.5)]

# name -> (args, wrt)
CASES = {
    "mlp": ((PARAMS, X3), 0),
    "linear_dict": (({"w": rng.normal(size=3), "b": 0.3}, rng.normal(size=(5, 3)),
                     rng.normal(size=5)), 0),
    "nested": (({"enc": {"W": rng.normal(size=(2, 2))}, "dec": (1.5, -0.5)},), 0),
    "unpack": (((1.0, 2.0, 0.3),), 0),
    "via_dict": (((1.0, 2.0, 3.0),), 0),
    "items_loop": (({"a": rng.normal(size=3), "b": rng.normal(size=3)}, X3), 0),
    "values_sum": (({"a": rng.normal(size=2), "b": rng.normal(size=2)},), 0),
    "zip_loop": (((0.5, -1.5, 2.0), (1.0, 2.0, 3.0)), (0, 1)),
    "enumerate_loop": ((np.array([0.5, -1.0, 0.25]), 0.7), (0, 1)),
    "carry": (((0.4, 0.2), 5), 0),
    "list_literal": ((1.3,), 0),
    "update_dict": (({"w": rng.normal(size=3), "s": 0.5}, X3), (0, 1)),
    "get_default": (({"w": rng.normal(size=3)}, X3), 0),
    "two_layers": (({"l1": PARAMS[0], "l2": PARAMS[1]}, X3), 0),
    "keys_and_len": (({"a": 0.5, "bias": 2.0, "c": -1.0},), 0),
    "per_example": ((rng.normal(size=3), tuple(rng.normal(size=(4, 3))), tuple(rng.normal(size=4))),
                    (0, 1)),
    "logistic_dict": (({"w": rng.normal(size=3), "b": 0.1}, rng.normal(size=(6, 3)),
                       np.sign(rng.normal(size=6))), 0),
    "nested_def": ((0.7, 3), 0),
    "closure_reads_local": ((1.5, 2.0), (0, 1)),
    "builtins_over_containers": (((0.5, -1.5, 2.0), 0.8), (0, 1)),
    "rows_and_start": ((0.7, rng.normal(size=(3, 2))), (0, 1)),
    "inner_enumerate": ((0.7, (1.0, (0.5, -1.2, 0.8))), (0, 1)),
    "closures": ((0.7, {"w": 0.3, "b": 1.5}), (0, 1)),
    "same_name_in_two_scopes": ((0.7, 1.2), (0, 1)),
}
JIT_CASES = ("mlp", "linear_dict", "via_dict", "carry", "two_layers")


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _leaves(value) -> list:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, (tuple, list)):
        return [leaf for v in value for leaf in _leaves(v)]
    return [value]


def _replace(value, new):
    if isinstance(value, dict):
        return {k: _replace(v, new) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(_replace(v, new) for v in value)
    return next(new)


def _fd(fn, args, i, h=1e-6):
    """Central differences of fn with respect to every float leaf of args[i]."""
    leaves = _leaves(args[i])
    out = []
    for k, leaf in enumerate(leaves):
        if isinstance(leaf, np.ndarray) and leaf.dtype.kind == "f":
            g = np.zeros_like(leaf)
            for idx in np.ndindex(leaf.shape):
                def at(d, idx=idx, k=k):
                    moved = [leaf_.copy() if isinstance(leaf_, np.ndarray) else leaf_
                             for leaf_ in leaves]
                    moved[k][idx] += d
                    new = list(args)
                    new[i] = _replace(args[i], iter(moved))
                    return fn(*new)
                g[idx] = (at(h) - at(-h)) / (2 * h)
            out.append(g)
        elif isinstance(leaf, float):
            def at(d, k=k):
                moved = list(leaves)
                moved[k] = moved[k] + d
                new = list(args)
                new[i] = _replace(args[i], iter(moved))
                return fn(*new)
            out.append((at(h) - at(-h)) / (2 * h))
        else:
            out.append(None)
    return _replace(args[i], iter(out))


def _assert_tree_close(got, want, rtol=1e-6, atol=1e-8):
    """Same structure (dicts compared by key: JAX sorts them), leaves close."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and sorted(got) == sorted(want)
        for k in want:
            _assert_tree_close(got[k], want[k], rtol, atol)
    elif isinstance(want, (tuple, list)):
        assert type(got) is type(want) and len(got) == len(want), (got, want)
        for a, b in zip(got, want):
            _assert_tree_close(a, b, rtol, atol)
    elif want is None:
        assert got is None
    else:
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)


def _params():
    for name in CASES:
        yield pytest.param(name, False, id=name)
        if name in JIT_CASES:   # compiled: in the slow tier (test_lambdas compiles in the fast)
            yield pytest.param(name, True, id=f"{name}-compiled", marks=pytest.mark.slow)


@pytest.mark.parametrize("name, jit", list(_params()))
def test_gradient_has_the_structure_of_its_argument(mod, name, jit):
    fn = getattr(mod, name)
    args, wrt = CASES[name]
    got = srcgrad.grad(fn, wrt=wrt, jit=jit)(*args)
    wrts = wrt if isinstance(wrt, tuple) else (wrt,)
    gots = got if isinstance(wrt, tuple) else (got,)
    for i, g in zip(wrts, gots):
        _assert_tree_close(g, _fd(fn, args, i), rtol=1e-5, atol=1e-7)


@pytest.fixture(scope="module")
def jax_mod():
    if not jax_available():
        pytest.skip("JAX is not installed")
    import jax.numpy as jnp
    namespace: dict = {"np": jnp, "math": math, "__name__": "jax_habits"}
    exec(compile(SOURCE.replace("import numpy as np", ""), "<jax>", "exec"),  # noqa: S102
         namespace)
    return namespace


JAX_SKIP = {
    "unpack": "math.sin of a tracer", "carry": "math.sin of a tracer",
    "via_dict": "a Python loop count", "zip_loop": "", "keys_and_len": "",
    "enumerate_loop": "", "index_at_run_time": "", "int_leaf": "",
    "list_literal": "jnp.sum takes no Python list",
    "nested_def": "math.sin of a tracer", "per_example": "", "builtins_over_containers": "",
}


@pytest.mark.parametrize("name", [n for n in CASES if n not in JAX_SKIP])
def test_same_gradient_as_jax(mod, jax_mod, name):
    import jax
    args, wrt = CASES[name]
    want = jax.grad(jax_mod[name], argnums=wrt)(*args)
    got = srcgrad.grad(getattr(mod, name), wrt=wrt, jit=False)(*args)

    def numpy_tree(t):
        if isinstance(t, dict):
            return {k: numpy_tree(v) for k, v in t.items()}
        if isinstance(t, (tuple, list)):
            return type(t)(numpy_tree(v) for v in t)
        return np.asarray(t)

    _assert_tree_close(got, numpy_tree(want), rtol=1e-9, atol=1e-12)


def test_run_time_index_of_a_tuple(mod):
    g = srcgrad.grad(mod.index_at_run_time, wrt=(0, 1, 2), jit=False)(1.5, -2.0, 0.5, 1)
    assert g == (0.0, 0.5, -2.0)


def test_int_leaf_gets_none(mod):
    g = srcgrad.grad(mod.int_leaf, jit=False)({"w": 1.5, "n": 3})
    assert g["n"] is None and math.isclose(g["w"], 3 * 1.5 ** 2)


def test_container_without_floats_is_a_usage_error(mod):
    with pytest.raises(UsageError, match="holds no float"):
        srcgrad.grad(mod.int_leaf, jit=False)({"w": 2, "n": 3})


REFUSED = {
    "run_time_key": ('def f(p, k):\n    return p[k] * 2.0\n', ({"a": 1.0}, "a"),
                     "key known only at run time"),
    "append": ('def f(a):\n    xs = []\n    xs.append(a)\n    return xs[0]\n', (1.0,),
               "append"),
    "missing_key": ('def f(p):\n    return p["b"]\n', ({"a": 1.0},), "no key 'b'"),
    "rebound_structure": ('def f(a):\n    t = (a, a)\n    t = (a, a, a)\n    return t[0]\n',
                          (1.0,), "different structures"),
    "break_in_unrolled": ('def f(p):\n    s = 0.0\n    for v in p:\n        if p[v] > 0:\n'
                          '            break\n        s = s + p[v]\n    return s\n',
                          ({"a": 1.0},), "break"),
}


@pytest.mark.parametrize("name", list(REFUSED))
def test_refused_at_the_line(make_module, name):
    source, args, message = REFUSED[name]
    m = make_module("import numpy as np\n\n\n" + source)
    with pytest.raises((UnsupportedSyntaxError, srcgrad.SrcgradError), match=message) as info:
        srcgrad.grad(m.f, jit=False)(*args)
    assert m.__file__ in str(info.value) and ":" in str(info.value)


# ----------------------------------------------------------------------------- functions

def _fd1(f, x, h=1e-6):
    return (f(x + h) - f(x - h)) / (2 * h)


def test_lambdas():
    f = lambda x: x * x + math.sin(x)  # noqa: E731
    g, h = (lambda x: x ** 3), (lambda x: x ** 2)  # two lambdas on one line
    for jit in (False,):   # compiled: test_compiled_lambdas (slow tier)
        assert math.isclose(srcgrad.grad(f, jit=jit)(0.7), _fd1(f, 0.7), rel_tol=1e-7)
        assert math.isclose(srcgrad.grad(g, jit=jit)(2.0), 12.0, rel_tol=1e-12)
        assert math.isclose(srcgrad.grad(h, jit=jit)(2.0), 4.0, rel_tol=1e-12)


@pytest.mark.slow
def test_compiled_lambdas():
    g, h = (lambda x: x ** 3), (lambda x: x ** 2)  # two lambdas on one line
    assert math.isclose(srcgrad.grad(g)(2.0), 12.0, rel_tol=1e-12)
    assert math.isclose(srcgrad.grad(h)(2.0), 4.0, rel_tol=1e-12)


def test_hessian_of_a_lambda():
    f = lambda x: np.sum(np.sin(x) * x[0])  # noqa: E731
    x = np.array([0.3, -0.8, 1.1])
    H = srcgrad.hessian(f, jit=False)(x)
    g = srcgrad.grad(f, jit=False)
    fd = np.array([(g(x + 1e-6 * e) - g(x - 1e-6 * e)) / 2e-6 for e in np.eye(3)])
    np.testing.assert_allclose(H, fd, rtol=1e-6, atol=1e-8)
    if jax_available():
        import jax
        import jax.numpy as jnp
        want = jax.hessian(lambda x: jnp.sum(jnp.sin(x) * x[0]))(x)
        np.testing.assert_allclose(H, want, rtol=1e-10, atol=1e-12)


def test_method_of_a_model(mod):
    model = mod.Model(np.array([0.5, -1.0]))
    x = np.array([0.3, 0.4])
    got = srcgrad.grad(model.loss, jit=False)(x)
    want = [(model.loss(x + 1e-6 * e) - model.loss(x - 1e-6 * e)) / 2e-6 for e in np.eye(2)]
    np.testing.assert_allclose(got, want, rtol=1e-7)
    assert srcgrad.grad(mod.Model.square, jit=False)(3.0) == 6.0
    assert math.isclose(srcgrad.grad(mod.Model.scaled, jit=False)(2.0), 36.0)
    with pytest.raises(UsageError, match="self.w"):
        srcgrad.grad(model.loss, wrt="w")


def test_partial(mod):
    import functools
    p = functools.partial(mod.linear_dict, x=np.eye(3), y=np.ones(3))
    params = {"w": np.array([0.2, -0.4, 0.9]), "b": 0.5}
    got = srcgrad.grad(p, jit=False)(params)
    _assert_tree_close(got, _fd(lambda q: p(q), (params,), 0), rtol=1e-6)
    both = srcgrad.grad(functools.partial(mod.zip_loop, (0.5, 1.0)), wrt="ws", jit=False)((2.0, 3.0))
    assert both == (4.0, 9.0)


# -- every transform takes containers: vjp, jvp, jacobian, hvp, hessian ------------------

LAYER_P = {"W": rng.normal(size=(2, 3)) * 0.5, "b": rng.normal(size=2) * 0.5}


def _jax_tree(t):
    if isinstance(t, dict):
        return {k: _jax_tree(v) for k, v in t.items()}
    if isinstance(t, (tuple, list)):
        return type(t)(_jax_tree(v) for v in t)
    return np.asarray(t)


def _jax_namespace() -> dict:
    """SOURCE's functions on jax.numpy."""
    import jax.numpy as jnp
    ns: dict = {"np": jnp, "math": math}
    exec(compile(SOURCE.replace("import numpy as np", ""), "<jax>", "exec"), ns)  # noqa: S102
    return ns


def _fd_dir(fn, args, direction, h=1e-6):
    """Central difference of fn (any tree of outputs) along `direction` in args[0]."""
    def at(d):
        moved = _replace(args[0], iter([a + d * v for a, v in
                                        zip(_leaves(args[0]), _leaves(direction))]))
        return fn(moved, *args[1:])
    up, down = at(h), at(-h)
    return _replace(up, iter([(np.asarray(a) - np.asarray(b)) / (2 * h)
                              for a, b in zip(_leaves(up), _leaves(down))]))


@pytest.mark.parametrize("name", ["layer", "moments", "report"])
def test_vjp_takes_and_gives_containers(mod, name):
    fn = getattr(mod, name)
    value, pullback = srcgrad.vjp(fn, LAYER_P, X3, jit=False)
    _assert_tree_close(value, fn(LAYER_P, X3), rtol=1e-12)
    ct = _replace(value, iter(rng.normal(size=np.shape(v)) for v in _leaves(value)))
    got = pullback(ct)
    # <ct, J v> for a random direction v equals <pullback(ct), v>
    v = _replace(LAYER_P, iter(rng.normal(size=np.shape(a)) for a in _leaves(LAYER_P)))
    jv = _fd_dir(fn, (LAYER_P, X3), v)
    lhs = sum(float(np.sum(a * b)) for a, b in zip(_leaves(ct), _leaves(jv)))
    rhs = sum(float(np.sum(a * b)) for a, b in zip(_leaves(got), _leaves(v)))
    assert np.isclose(lhs, rhs, rtol=1e-6)
    assert sorted(got) == ["W", "b"]
    if jax_available():
        import jax
        ns = _jax_namespace()
        want_value, jax_pullback = jax.vjp(lambda p: ns[name](p, X3), LAYER_P)
        _assert_tree_close(value, _jax_tree(want_value), rtol=1e-9)
        _assert_tree_close(got, _jax_tree(jax_pullback(ct)[0]), rtol=1e-9, atol=1e-12)


def test_vjp_cotangent_of_the_wrong_structure(mod):
    _, pullback = srcgrad.vjp(mod.report, LAYER_P, X3, jit=False)
    with pytest.raises(UsageError, match="structure"):
        pullback({"mean": 1.0, "act": np.ones(2)})


@pytest.mark.parametrize("name", ["layer", "report", "energy"])
def test_jvp_takes_and_gives_containers(mod, name):
    fn = getattr(mod, name)
    v = _replace(LAYER_P, iter(rng.normal(size=np.shape(a)) for a in _leaves(LAYER_P)))
    value, tangent = srcgrad.jvp(fn, (LAYER_P, X3), (v, np.zeros(3)), jit=False)
    _assert_tree_close(value, fn(LAYER_P, X3), rtol=1e-12)
    _assert_tree_close(tangent, _fd_dir(fn, (LAYER_P, X3), v), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("mode", ["fwd", "rev"])
def test_jacobian_of_a_dict(mod, mode):
    jac = srcgrad.jacobian(mod.layer, mode=mode, jit=False)(LAYER_P, X3)
    assert sorted(jac) == ["W", "b"]
    assert jac["W"].shape == (2, 2, 3) and jac["b"].shape == (2, 2)
    for key in ("W", "b"):   # column by column against finite differences
        leaf = LAYER_P[key]
        for idx in np.ndindex(leaf.shape):
            v = {k: np.zeros_like(a) for k, a in LAYER_P.items()}
            v[key][idx] = 1.0
            np.testing.assert_allclose(jac[key][(slice(None),) + idx],
                                       _fd_dir(mod.layer, (LAYER_P, X3), v), rtol=1e-6,
                                       atol=1e-9)
    if jax_available():
        import jax
        ns = _jax_namespace()
        _assert_tree_close(jac, _jax_tree(jax.jacobian(ns["layer"])(LAYER_P, X3)), rtol=1e-9,
                           atol=1e-12)


def test_hessian_and_hvp_of_a_dict(mod):
    h = srcgrad.hessian(mod.energy, jit=False)(LAYER_P, X3)
    assert sorted(h) == ["W", "b"] and sorted(h["W"]) == ["W", "b"]
    assert h["W"]["b"].shape == (2, 3, 2) and h["b"]["W"].shape == (2, 2, 3)
    g = srcgrad.grad(mod.energy, jit=False)
    for key in ("W", "b"):   # each block row: finite differences of the gradient
        for idx in np.ndindex(LAYER_P[key].shape):
            v = {k: np.zeros_like(a) for k, a in LAYER_P.items()}
            v[key][idx] = 1.0
            col = _fd_dir(lambda p, x: g(p, x), (LAYER_P, X3), v)
            for other in ("W", "b"):
                np.testing.assert_allclose(h[key][other][idx], col[other], rtol=1e-6,
                                           atol=1e-8)
    v = _replace(LAYER_P, iter(rng.normal(size=np.shape(a)) for a in _leaves(LAYER_P)))
    hv = srcgrad.hvp(mod.energy, jit=False)(LAYER_P, X3, v)
    _assert_tree_close(hv, _fd_dir(lambda p, x: g(p, x), (LAYER_P, X3), v), rtol=1e-6,
                       atol=1e-8)
    if jax_available():
        import jax
        ns = _jax_namespace()
        _assert_tree_close(h, _jax_tree(jax.hessian(ns["energy"])(LAYER_P, X3)), rtol=1e-9,
                           atol=1e-12)


def test_hessian_of_a_tuple_lambda():
    h = srcgrad.hessian(lambda q: q[0] ** 2 * q[1] + math.sin(q[1]), jit=False)((1.5, 0.5))
    want = ((2 * 0.5, 2 * 1.5), (2 * 1.5, -math.sin(0.5)))
    _assert_tree_close(h, want, rtol=1e-12)


def test_jacobian_of_a_function_returning_a_dict_is_refused_clearly(mod):
    with pytest.raises(UsageError, match="each of its values"):
        srcgrad.jacobian(mod.report, jit=False)(LAYER_P, X3)


# -- print ------------------------------------------------------------------------------

PRINTED = ("step 0 0.0\nstep 1 0.479425538604203\nstep 2 1.3208965234120995\n"
           "k 1\nk 2\n")


def _dprinting(x):
    return (math.cos(0.5) + 2 * math.cos(1.0)) * 4 + 3


def test_print_runs_in_the_forward_sweep_only(mod, capsys):
    g = srcgrad.grad(mod.printing, jit=False)(0.5, 3)
    assert capsys.readouterr().out == PRINTED   # once per step, not again in the reverse
    assert np.isclose(g, _dprinting(0.5))
    value, tangent = srcgrad.jvp(mod.printing, (0.5, 3), (1.0, 0), jit=False)
    assert capsys.readouterr().out == PRINTED
    assert np.isclose(tangent, _dprinting(0.5)) and np.isclose(value, mod.printing(0.5, 3))


@pytest.mark.slow
def test_print_compiled(mod, capfd):
    g = srcgrad.grad(mod.printing)(0.5, 3)
    assert capfd.readouterr().out == PRINTED
    assert np.isclose(g, _dprinting(0.5))


@pytest.mark.parametrize("name, construct", [("print_f_string", "f-string"),
                                             ("print_sep", "sep")])
def test_print_refusals_name_the_line(mod, name, construct):
    with pytest.raises(UnsupportedSyntaxError, match=construct) as info:
        srcgrad.grad(getattr(mod, name), jit=False)
    assert ".py:" in str(info.value)


class _Shapes:
    @staticmethod
    def area(r):
        return math.pi * r * r

    @classmethod
    def volume(cls, r):
        return 4.0 / 3.0 * math.pi * r ** 3


def test_staticmethods_and_classmethods():
    for fn in (_Shapes.area, _Shapes().area):
        assert np.isclose(srcgrad.grad(fn, jit=False)(2.0), 2 * math.pi * 2.0)
    assert np.isclose(srcgrad.grad(_Shapes.volume, jit=False)(2.0), 4 * math.pi * 4.0)
