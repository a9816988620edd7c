"""np.linalg and NumPy's products (srcgrad/runtime/linalg.py and their rules).

Each function is differentiated through a small user function: the gradient (reverse),
the directional derivative (forward) and the Hessian-vector product (reverse over
forward) against JAX run on the same source with ``np`` -> ``jax.numpy`` (skipped without
JAX); second derivatives in both modes against finite differences; a representative set
compiled. Then the conventions (JAX's: the symmetrized adjoints of eigh and cholesky,
det at a singular matrix, ties and zeros in norms), the tuple forms, the values, and the
calls srcgrad refuses, each with the error it gives.

Points: matrices with well-separated eigenvalues and singular values, away from the
kinks of the norms, where LAPACK's signs of eigenvectors and singular vectors do not flip
nearby (the functions of singular vectors pair u and v, or square them, so that they do
not depend on those signs at all).
"""

from __future__ import annotations

import numpy as np
import pytest

import srcgrad

from .support.oracles_np import jax_available, jax_grad

SOURCE = '''
import numpy as np

W3 = np.array([0.7, -1.3, 0.4])
W4 = np.array([0.5, -1.1, 0.8, 1.7])
W22 = np.array([[0.8, -1.4], [0.3, 1.1]])
W23 = np.array([[0.7, -1.2, 0.4], [1.5, 0.3, -0.8]])
W33 = np.array([[0.5, -1.2, 0.9], [1.4, 0.2, -0.6], [-0.3, 0.8, 1.1]])
W34 = np.array([[0.6, -0.9, 1.3, 0.2], [-1.5, 0.4, 0.75, -0.35], [0.45, 1.05, -0.25, 0.9]])
W43 = W34.T * 1.0
W42 = np.array([[0.3, -0.7], [1.2, 0.5], [-0.4, 0.9], [0.8, -1.1]])


def det(x):
    return np.linalg.det(x) * 1.5


def slogdet_pair(x):
    s, l = np.linalg.slogdet(x)
    return s * l


def slogdet_variable(x):
    r = np.linalg.slogdet(x)
    return r[1] * r[0]


def slogdet_subscript(x):
    return np.linalg.slogdet(x)[1]


def inv(x):
    return np.sum(np.linalg.inv(x) * W33)


def solve_matrix(a, b):
    return np.sum(np.linalg.solve(a, b) * W33)


def solve_vector(a, b):
    return np.sum(np.linalg.solve(a, b) * W3)


def cholesky(x):
    return np.sum(np.linalg.cholesky(x) * W33)


def cholesky_sym(x):
    return np.sum(np.linalg.cholesky(x @ x.T + np.eye(3)) * W33)


def eigh_values(x):
    w, v = np.linalg.eigh(x)
    return np.sum(w * W3)


def eigh_vectors(x):
    w, v = np.linalg.eigh(x)
    return np.sum((v * W33) ** 2) + np.sum(np.outer(v[:, 0], v[:, 1]) * W33)


def eigh_variable(x):
    r = np.linalg.eigh(x)
    return np.sum(r[0] ** 2) + np.sum(r[1] ** 2 * W33)


def eigh_sym(x):
    w, v = np.linalg.eigh(x + x.T)
    return np.sum(w * W3) + np.sum((v * W33) ** 2) + np.sum(np.outer(v[:, 0], v[:, 1]) * W33)


def eigvalsh(x):
    return np.sum(np.linalg.eigvalsh(x) ** 2 * W3)


def qr_tall(x):
    q, r = np.linalg.qr(x)
    return np.sum(q * W43) + np.sum(r * W33)


def qr_square(x):
    q, r = np.linalg.qr(x)
    return np.sum(q * W33) - np.sum(r * W33)


def svd_square(x):
    u, s, vt = np.linalg.svd(x)
    return np.sum(s * W3) + np.sum(np.outer(u[:, 0], vt[0]) * W33) + np.sum((u * W33) ** 2) \\
        + np.sum((vt * W33) ** 2)


def svd_tall(x):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return np.sum(s * W3) + np.sum(np.outer(u[:, 1], vt[1]) * W43) + np.sum((u * W43) ** 2)


def svd_wide(x):
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    return np.sum(np.outer(u[:, 2], vt[2]) * W34) + np.sum((vt * W34) ** 2)


def svd_values(x):
    return np.sum(np.linalg.svd(x, compute_uv=False) * W3)


def pinv(x):
    return np.sum(np.linalg.pinv(x) * W34)


def lstsq_vector(a, b):
    sol, res, rank, sv = np.linalg.lstsq(a, b)
    return np.sum(sol * W3) * rank


def lstsq_matrix(a, b):
    return np.sum(np.linalg.lstsq(a, b)[0] * W33[:, :2])


def cond(x):
    return np.linalg.cond(x)


def cond_minus2(x):
    return np.linalg.cond(x, -2)


def cond_fro(x):
    return np.linalg.cond(x, 'fro')


def cond_inf(x):
    return np.linalg.cond(x, np.inf)


def vdot(a, b):
    return np.vdot(a, b)


def inner(a, b):
    return np.sum(np.inner(a, b) * W22)


def inner_vector(a, b):
    return np.sum(np.inner(a, b) * W3)


def kron(a, b):
    return np.sum(np.kron(a, b) ** 2 * np.kron(W22, W23))


def kron_vector(a, b):
    return np.sum(np.kron(a, b) * np.kron(W3, W4))


def cross(a, b):
    return np.sum(np.cross(a, b) * W3)


def cross_batch(a, b):
    return np.sum(np.cross(a, b) * W43)


def tensordot(a, b):
    return np.tensordot(a, b) * 1.5


def tensordot_axes(a, b):
    return np.sum(np.tensordot(a, b, axes=([1, 0], [0, 1])) * 1.0) \\
        + np.sum(np.tensordot(a, b, axes=1) * W22)


def einsum_matvec(a, b):
    return np.sum(np.einsum('ij,j->i', a, b) * W3)


def einsum_matmul(a, b):
    return np.sum(np.einsum('ij,jk->ik', a, b) * W33)


def einsum_dot(a, b):
    return np.einsum('i,i->', a, b) * 1.5


def einsum_transpose(a):
    return np.sum(np.einsum('ij->ji', a) * W33)


def einsum_trace(a):
    return np.einsum('ii->', a) ** 2


def einsum_batch(a, b):
    return np.sum(np.einsum('bij,bjk->bik', a, b) ** 2)


def einsum_chain(a, b):
    return np.sum(np.einsum('ij,jk,kl->il', a, b, a) * W33)


def einsum_general(a, b):
    return np.sum(np.einsum('ii,ij->j', a, b) * W3) + np.einsum('ij,ij', a, b) \\
        + np.sum(np.einsum('ij,k->jki', a, W3) ** 2)
'''

# norms: (name, call); each function is `return <call> * 1.5`, or the call summed with
# weights when it has an axis
NORMS = {
    "norm_vector": "np.linalg.norm(x)", "norm_vector_2": "np.linalg.norm(x, 2)",
    "norm_vector_1": "np.linalg.norm(x, 1)", "norm_vector_inf": "np.linalg.norm(x, np.inf)",
    "norm_vector_minus_inf": "np.linalg.norm(x, -np.inf)",
    "norm_vector_3": "np.linalg.norm(x, 3)", "norm_vector_half": "np.linalg.norm(x, 0.5)",
    "norm_vector_minus_1": "np.linalg.norm(x, -1)",
    "norm_vector_minus_2": "np.linalg.norm(x, ord=-2)",
    "norm_vector_0": "np.linalg.norm(x, 0) * np.sum(x)",
    "norm_matrix": "np.linalg.norm(x)", "norm_matrix_fro": "np.linalg.norm(x, 'fro')",
    "norm_matrix_nuc": "np.linalg.norm(x, 'nuc')", "norm_matrix_1": "np.linalg.norm(x, 1)",
    "norm_matrix_minus_1": "np.linalg.norm(x, -1)",
    "norm_matrix_inf": "np.linalg.norm(x, np.inf)",
    "norm_matrix_minus_inf": "np.linalg.norm(x, -np.inf)",
    "norm_matrix_2": "np.linalg.norm(x, 2)", "norm_matrix_minus_2": "np.linalg.norm(x, -2)",
    "norm_matrix_keepdims": "np.sum(np.linalg.norm(x, keepdims=True) * W22[:1, :1])",
    "norm_matrix_1_keepdims": "np.sum(np.linalg.norm(x, 1, keepdims=True) * W22[:1, :1])",
    "norm_axis_0": "np.sum(np.linalg.norm(x, axis=0) * W3)",
    "norm_axis_1_keepdims": "np.sum(np.linalg.norm(x, 2, 1, True) * W22[:, :1])",
    "norm_axis_1_ord_1": "np.sum(np.linalg.norm(x, 1, axis=1) * W22[0])",
    "norm_axis_0_inf": "np.sum(np.linalg.norm(x, np.inf, axis=0) * W3)",
    "norm_axis_minus_1_minus_inf": "np.sum(np.linalg.norm(x, -np.inf, axis=-1) * W22[1])",
    "norm_axis_0_ord_3": "np.sum(np.linalg.norm(x, 3, axis=0) * W3)",
    "norm_axis_1_ord_minus_1": "np.sum(np.linalg.norm(x, -1, axis=1) * W22[0])",
    "norm_axis_0_ord_0": "np.sum(np.linalg.norm(x, 0, axis=0) * x[0])",
}
SOURCE += "".join(f"\n\ndef {name}(x):\n    return {call} * 1.5\n" for name, call in NORMS.items())

# Points
M33 = np.array([[3.0, 0.4, -0.2], [0.3, 1.6, 0.5], [-0.1, 0.2, 0.7]])
N33 = np.array([[1.1, -0.5, 0.3], [0.4, 2.2, -0.6], [0.2, 0.7, 1.4]])
M43 = np.array([[3.0, 0.4, -0.2], [0.3, 1.6, 0.5], [-0.1, 0.2, 0.7], [0.45, -0.3, 0.25]])
SPD = M33 @ M33.T + np.eye(3)
SYM = M33 + M33.T
C33 = np.array([[2.6, -0.3, 0.4], [0.2, 1.5, -0.9], [-0.6, 0.35, 1.1]])  # no ties in |.| sums
C23 = np.array([[2.6, -0.3, 0.45], [0.2, 1.5, -0.9]])
V3 = np.array([0.8, -0.45, 1.25])
V4 = np.array([0.7, -1.3, 0.4, 0.9])
B43 = np.array([[0.5, -0.2, 0.1], [1.2, 0.4, -0.7], [-0.3, 0.9, 0.6], [0.8, -0.5, 1.4]])
T233 = np.stack([M33, N33]) * 0.5
T234 = np.stack([M43.T, M43.T[::-1]]) * 0.5

# name -> (args, wrt)
CASES = {
    "det": ((M33,), 0), "slogdet_pair": ((M33,), 0), "slogdet_variable": ((M33,), 0),
    "slogdet_subscript": ((M33,), 0), "inv": ((M33,), 0),
    "solve_matrix": ((M33, N33), (0, 1)), "solve_vector": ((M33, V3), (0, 1)),
    "cholesky": ((SPD,), 0), "eigh_values": ((SYM,), 0), "eigh_vectors": ((SYM,), 0),
    "eigh_variable": ((SYM,), 0), "eigvalsh": ((SYM,), 0),
    "qr_tall": ((M43,), 0), "qr_square": ((M33,), 0),
    "svd_square": ((M33,), 0), "svd_tall": ((M43,), 0), "svd_wide": ((M43.T,), 0),
    "svd_values": ((M33,), 0), "pinv": ((M43,), 0),
    "lstsq_vector": ((M43, V4), (0, 1)), "lstsq_matrix": ((M43, B43[:, :2]), (0, 1)),
    "cond": ((M33,), 0), "cond_minus2": ((M33,), 0), "cond_fro": ((M33,), 0),
    "cond_inf": ((C33,), 0),
    "vdot": ((M33, N33), (0, 1)), "inner": ((C23, C23[::-1] * 0.5), (0, 1)),
    "inner_vector": ((M33, V3), (0, 1)),
    "kron": ((np.array([[0.9, -1.3], [0.4, 1.2]]), C23), (0, 1)),
    "kron_vector": ((V3, V4), (0, 1)),
    "cross": ((V3, V3[::-1] - 0.2), (0, 1)), "cross_batch": ((B43, V3), (0, 1)),
    "tensordot": ((M33, N33), (0, 1)), "tensordot_axes": ((C23, C23.T * 0.7), (0, 1)),
    "einsum_matvec": ((M33, V3), (0, 1)), "einsum_matmul": ((M33, N33), (0, 1)),
    "einsum_dot": ((V3, V3[::-1]), (0, 1)), "einsum_transpose": ((M33,), 0),
    "einsum_trace": ((M33,), 0), "einsum_batch": ((T233, T233[::-1]), (0, 1)),
    "einsum_chain": ((M33, N33), (0, 1)), "einsum_general": ((M33, N33), (0, 1)),
}
for _name in NORMS:
    if _name.startswith("norm_vector"):
        CASES[_name] = ((V3,), 0)
    elif _name.startswith("norm_matrix"):
        CASES[_name] = ((C33 if "1" in _name or "inf" in _name else M33,), 0)
    else:
        CASES[_name] = ((C23,), 0)

# a representative set in the fast tier; the others in the slow tier
FAST = {"det", "slogdet_pair", "solve_vector", "cholesky", "eigh_vectors", "qr_tall",
        "svd_tall", "pinv", "lstsq_vector", "cond", "kron", "cross_batch", "einsum_matmul",
        "einsum_general", "norm_vector_1", "norm_matrix_2", "norm_axis_1_keepdims"}


def _params(names=None):
    for name in names or CASES:
        marks = [] if name in FAST else [pytest.mark.slow]
        yield pytest.param(name, marks=marks, id=name)


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def _wrt(wrt) -> tuple:
    return wrt if isinstance(wrt, tuple) else (wrt,)


def _directions(args, wrt, seed):
    rng = np.random.default_rng(seed)
    return tuple(rng.standard_normal(np.shape(args[i])) for i in _wrt(wrt))


# --------------------------------------------------------------------------- against JAX

def _jax_function(name):
    """The user function `name` with jax.numpy for numpy (float64), and JAX's array."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", True)
    namespace = {"np": jnp}
    exec(SOURCE.replace("import numpy as np\n", ""), namespace)  # noqa: S102 - our own source
    return namespace[name], jnp.asarray


needs_jax = pytest.mark.skipif(not jax_available(), reason="jax is not installed")


@needs_jax
@pytest.mark.parametrize("name", list(_params()))
def test_gradient_matches_jax(mod, name):
    args, wrt = CASES[name]
    ours = srcgrad.grad(getattr(mod, name), wrt=wrt, jit=False)(*args)
    ours = ours if isinstance(ours, tuple) else (ours,)
    theirs = jax_grad(getattr(mod, name), args, wrt)
    assert theirs is not None, f"JAX cannot run {name}"
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-8, atol=1e-10)


@needs_jax
@pytest.mark.parametrize("name", list(_params()))
def test_tangent_matches_jax(mod, name):
    import jax

    args, wrt = CASES[name]
    f, asarray = _jax_function(name)
    dirs = _directions(args, wrt, 1)
    tangents = [np.zeros_like(a) for a in args]
    for i, d in zip(_wrt(wrt), dirs):
        tangents[i] = d
    _, ours = srcgrad.jvp(getattr(mod, name), tuple(args), tuple(tangents), jit=False)
    _, theirs = jax.jvp(f, tuple(asarray(a) for a in args), tuple(asarray(t) for t in tangents))
    np.testing.assert_allclose(ours, float(theirs), rtol=1e-8, atol=1e-10)


@needs_jax
@pytest.mark.parametrize("name", list(_params()))
def test_hessian_vector_product_matches_jax(mod, name):
    import jax

    args, wrt = CASES[name]
    i = _wrt(wrt)[0]
    f, asarray = _jax_function(name)
    (v,) = _directions((args[i],), 0, 2)
    ours = srcgrad.hvp(getattr(mod, name), wrt=i, jit=False)(*args, v)

    def grad_i(xi):
        full = [asarray(a) for a in args]
        full[i] = xi
        return jax.grad(lambda z: f(*(full[:i] + [z] + full[i + 1:])))(xi)

    theirs = jax.jvp(grad_i, (asarray(args[i]),), (asarray(v),))[1]
    np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-7, atol=1e-9)


# --------------------------------------------------------------------------- finite differences

# eigh and cholesky differentiate the symmetrized input (JAX's convention), which is the
# derivative along symmetric directions only: the functions checked against finite
# differences symmetrize their argument themselves
SYMMETRIZED = {"cholesky": ("cholesky_sym", M33), "eigh_values": ("eigh_sym", M33),
               "eigh_vectors": ("eigh_sym", M33), "eigh_variable": ("eigh_sym", M33),
               "eigvalsh": ("eigh_sym", M33)}


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("name", list(_params()))
def test_second_order_against_finite_differences(mod, name, mode):
    args, wrt = CASES[name]
    if name in SYMMETRIZED:
        name, x = SYMMETRIZED[name]
        args = (x,)
    srcgrad.check_grad(getattr(mod, name), *args, wrt=_wrt(wrt)[0], modes=(mode,), jit=False,
                       order=2)


def _symmetrized(name: str, args: tuple) -> tuple[str, tuple]:
    """eigh and cholesky read one triangle: finite differences along a direction that is
    not symmetric see a derivative their symmetrized adjoint (JAX's convention) is not,
    so those checks take the function of the symmetric part (SYMMETRIZED)."""
    if name in SYMMETRIZED:
        name, x = SYMMETRIZED[name]
        return name, (x,)
    return name, args


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("name", list(_params(["eigh_values", "svd_square", "qr_square",
                                                "einsum_batch", "tensordot_axes",
                                                "norm_matrix_minus_inf", "cond_inf"])))
def test_first_order_against_finite_differences(mod, name, mode):
    args, wrt = CASES[name]
    name, args = _symmetrized(name, args)
    srcgrad.check_grad(getattr(mod, name), *args, wrt=wrt, modes=(mode,), jit=False)


# Compiled: Numba compiles srcgrad's helpers for each function (10 to 60 s apiece, cold),
# so one cheap one in the fast tier and a representative set in the slow tier.
COMPILED_FAST = ["einsum_dot"]
COMPILED_SLOW = ["det", "solve_vector", "cholesky", "eigh_vectors", "qr_tall", "svd_tall",
                 "pinv", "lstsq_vector", "cond", "kron", "cross_batch", "einsum_matmul",
                 "vdot", "norm_matrix_2", "norm_axis_1_ord_1"]


@pytest.mark.parametrize("mode", ["rev", "fwd"])
@pytest.mark.parametrize("name", COMPILED_FAST + [pytest.param(n, marks=pytest.mark.slow)
                                                  for n in COMPILED_SLOW])
def test_compiled(mod, name, mode):
    args, wrt = CASES[name]
    name, args = _symmetrized(name, args)
    srcgrad.check_grad(getattr(mod, name), *args, wrt=wrt, modes=(mode,), jit=True)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["svd_square", "eigh_vectors", "det"])
def test_compiled_second_order(mod, name):
    args, wrt = CASES[name]
    name, args = _symmetrized(name, args)
    srcgrad.check_grad(getattr(mod, name), *args, wrt=_wrt(wrt)[0], modes=("rev",), jit=True,
                       order=2)


# --------------------------------------------------------------------------- conventions

CONVENTIONS = '''
import numpy as np

W3 = np.array([0.7, -1.3, 0.4])
W33 = np.array([[0.5, -1.2, 0.9], [1.4, 0.2, -0.6], [-0.3, 0.8, 1.1]])


def det(x):
    return np.linalg.det(x)


def eigh_sum(x):
    w, v = np.linalg.eigh(x)
    return np.sum(w * W3)


def cholesky(x):
    return np.sum(np.linalg.cholesky(x) * W33)


def norm1(x):
    return np.linalg.norm(x, 1)


def norm_inf(x):
    return np.linalg.norm(x, np.inf)


def matrix_norm_1(x):
    return np.linalg.norm(x, 1)


def norm2(x):
    return np.linalg.norm(x)


def norm2_axis(x):
    return np.sum(np.linalg.norm(x, axis=0))


def rank_times(x):
    return np.linalg.matrix_rank(x) * np.sum(x)
'''


@pytest.fixture(scope="module")
def conv(make_module):
    return make_module(CONVENTIONS)


def _grad(f, *args):
    return srcgrad.grad(f, jit=False)(*args)


def test_det_of_a_singular_matrix_is_its_cofactor_matrix(conv):
    # rank 2: det is 0, its gradient the cofactor matrix (JAX too); det * inv(x).T is NaN
    x = np.array([[1.0, 2.0, 3.0], [0.5, -1.0, 2.0], [1.5, 1.0, 5.0]])
    cof = np.array([[np.linalg.det(np.delete(np.delete(x, i, 0), j, 1)) * (-1) ** (i + j)
                     for j in range(3)] for i in range(3)])
    assert np.linalg.matrix_rank(x) == 2
    np.testing.assert_allclose(_grad(conv.det, x), cof, atol=1e-12)
    if jax_available():
        np.testing.assert_allclose(jax_grad(conv.det, (x,), 0)[0], cof, atol=1e-12)


def test_eigh_and_cholesky_adjoints_are_symmetric(conv):
    # NumPy reads the lower triangle; srcgrad differentiates the symmetrized input, as JAX:
    # the gradient is symmetric, and along symmetric directions it is the derivative
    for f, x in ((conv.eigh_sum, SYM), (conv.cholesky, SPD)):
        g = _grad(f, x)
        np.testing.assert_allclose(g, g.T, rtol=1e-12, atol=1e-12)
        d = np.array([[0.3, -0.2, 0.5], [-0.2, 0.1, 0.4], [0.5, 0.4, -0.6]])
        fd = (f(x + 1e-6 * d) - f(x - 1e-6 * d)) / 2e-6
        assert abs(np.sum(g * d) - fd) < 1e-7
        if jax_available():
            np.testing.assert_allclose(g, jax_grad(f, (x,), 0)[0], rtol=1e-9, atol=1e-12)


def test_norm_conventions(conv):
    # abs has slope 1 at 0, ties of a max are split equally (JAX's rules)
    x = np.array([0.0, -2.0, 2.0, 1.0])
    np.testing.assert_array_equal(_grad(conv.norm1, x), [1.0, -1.0, 1.0, 1.0])
    np.testing.assert_array_equal(_grad(conv.norm_inf, x), [0.0, -0.5, 0.5, 0.0])
    a = np.array([[1.0, -2.0], [-3.0, 2.0]])  # both columns sum to 4
    np.testing.assert_array_equal(_grad(conv.matrix_norm_1, a), [[0.5, -0.5], [-0.5, 0.5]])
    # the 2-norm at 0: NaN (0 / 0), as JAX
    assert np.isnan(_grad(conv.norm2, np.zeros(3))).all()
    assert np.isnan(_grad(conv.norm2_axis, np.zeros((2, 2)))).all()
    if jax_available():
        for f, v in ((conv.norm1, x), (conv.norm_inf, x), (conv.matrix_norm_1, a)):
            np.testing.assert_array_equal(_grad(f, v), jax_grad(f, (v,), 0)[0])


def test_matrix_rank_is_not_differentiated(conv):
    x = M33.copy()
    np.testing.assert_array_equal(_grad(conv.rank_times, x), np.full((3, 3), 3.0))


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize("name", [n for n in NORMS if "keepdims" not in n])
def test_norm_values_are_numpys(mod, name):
    (x,), _ = CASES[name]
    value, _ = srcgrad.value_and_grad(getattr(mod, name), jit=False)(x)
    assert value == pytest.approx(getattr(mod, name)(x), rel=1e-14, abs=0)


# --------------------------------------------------------------------------- refused

REFUSED = '''
import numpy as np


def eig(x):
    w, v = np.linalg.eig(x)
    return np.sum(w)


def eigvals(x):
    return np.sum(np.linalg.eigvals(x) * 2.0)


def residuals(x):
    sol, res, rank, sv = np.linalg.lstsq(x, x[:, 0] + 1.0)
    return np.sum(res)


def svd_full_tall(x):
    u, s, vt = np.linalg.svd(x)
    return np.sum(u)


def svd_full_tall_values(x):
    u, s, vt = np.linalg.svd(x)
    return np.sum(s) + np.sum(vt ** 2)


def qr_wide(x):
    q, r = np.linalg.qr(x)
    return np.sum(r)


def stacked(x):
    return np.sum(np.linalg.inv(np.stack((x, x))))


def norm_tuple_axis(x):
    return np.linalg.norm(x, axis=(0, 1))


def norm_variable_ord_axis(x, k):
    return np.sum(np.linalg.norm(x, k, axis=0))


def einsum_ellipsis(x):
    return np.einsum('...i,...i->...', x, x)


def einsum_variable(x, s):
    return np.einsum(s, x)


def tensordot_variable_axes(x, k):
    return np.tensordot(x, x, k)


def string_elsewhere(x):
    return np.sum(np.linalg.eigvalsh(x, 'U'))
'''


@pytest.fixture(scope="module")
def ref(make_module):
    return make_module(REFUSED)


@pytest.mark.parametrize("name", ["eig", "eigvals"])
@pytest.mark.parametrize("mode", ["rev", "fwd"])
def test_eig_is_refused_for_its_complex_results(ref, name, mode):
    with pytest.raises(srcgrad.MissingRuleError, match="srcgrad differentiates real results") \
            as info:
        srcgrad.check_grad(getattr(ref, name), M33, modes=(mode,), jit=False)
    assert info.value.lineno > 0


def test_lstsq_residuals_are_refused(ref):
    with pytest.raises(srcgrad.MissingRuleError, match="only the solution"):
        srcgrad.grad(ref.residuals, jit=False)(M43)


def test_svd_full_matrices_of_a_tall_matrix(ref):
    # U's extra columns are not unique: refused; s and Vt are unique, and differentiated
    for mode in ("rev", "fwd"):
        with pytest.raises(ValueError, match="full_matrices=False"):
            srcgrad.check_grad(ref.svd_full_tall, M43, modes=(mode,), jit=False)
    srcgrad.check_grad(ref.svd_full_tall_values, M43, modes=("rev", "fwd"), jit=False)


def test_qr_of_a_wide_matrix_is_refused(ref):
    for mode in ("rev", "fwd"):
        with pytest.raises(ValueError, match="square and tall"):
            srcgrad.check_grad(ref.qr_wide, M43.T, modes=(mode,), jit=False)


@pytest.mark.parametrize("name, args, error", [
    ("stacked", (M33,), srcgrad.TypeInferenceError),   # Numba's np.linalg takes 2-D arrays
    ("norm_tuple_axis", (M33,), srcgrad.UnsupportedSyntaxError),
    ("norm_variable_ord_axis", (M33, 2), srcgrad.UnsupportedSyntaxError),
    ("einsum_ellipsis", (M33,), srcgrad.UnsupportedSyntaxError),
    ("einsum_variable", (M33, "ii"), srcgrad.UnsupportedSyntaxError),
    ("tensordot_variable_axes", (M33, 1), srcgrad.UnsupportedSyntaxError),
    ("string_elsewhere", (M33,), srcgrad.UnsupportedSyntaxError),
])
def test_refused_calls(ref, name, args, error):
    with pytest.raises(error):
        srcgrad.grad(getattr(ref, name), jit=False)(*args)
