"""The preliminaries of "Dive into Deep Learning" (d2l.ai, chapter 2) reproduced with srcgrad.

Sections 2.1 (data manipulation), 2.3 (linear algebra), 2.4 (calculus) and 2.5 (automatic
differentiation): every operation the book shows on tensors is differentiated under a
scalar loss (a plain sum, or a weighted sum with a fixed random weight array so the
gradient is not trivial), and the gradient is checked against

* the closed-form answer the book gives (or the one-line derivation noted beside it), and
* 4th-order central finite differences over every element.

The closed forms are themselves checked against finite differences without srcgrad
(``test_closed_forms_match_finite_differences``), so a wrong derivation cannot hide.
The functions are defined at module level because srcgrad reads their source.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import srcgrad
from srcgrad import stop_gradient

from .support.corpus_arrays import vjp_control_flow as autograd_control_flow  # d2l's f(a)
from .support.oracles_np import assert_allclose_grads, fd_grad_array, fd_vjp, jax_grad

# closed forms are computed in NumPy in a different order than srcgrad: a few ulps
CLOSED_RTOL = 1e-12
CLOSED_ATOL = 1e-12  # scaled by max(1, max|expected|) per entry
# FD: see test_corpus_arrays for the derivation of these
FD_RTOL = 1e-6
FD_ATOL = 1e-8


def _rng(seed):
    return np.random.default_rng(seed)


# ============================================================ 2.1 data manipulation

def elementwise_ops(x, y):
    # d2l: x + y, x - y, x * y, x / y, x ** y, torch.exp(x)
    return (x + y).sum() + (x - y).sum() + (x * y).sum() + (x / y).sum() + (x ** y).sum() + np.exp(x).sum()


def concatenate_both_axes(X, Y, W0, W1):
    # d2l: torch.cat((X, Y), dim=0), torch.cat((X, Y), dim=1)
    return (np.concatenate((X, Y), axis=0) * W0).sum() + (np.concatenate((X, Y), axis=1) * W1).sum()


def broadcast_add(a, b, W):
    # d2l: a (3, 1) + b (1, 2) -> (3, 2)
    return ((a + b) * W).sum()


def index_and_slice(X, w):
    # d2l: X[-1], X[1:3]
    return (X[-1] * w).sum() + (X[1:3] * X[1:3]).sum()


def index_write(X):
    # d2l: X[1, 2] = 17; X[:2, :] = 12 (on a copy: the argument is not modified)
    Y = X.copy()
    Y[1, 2] = 17.0
    Y[:2, :] = 12.0
    return (Y * Y).sum()


def saving_memory(X, Y, W):
    # d2l: Z = zeros_like(Y); Z[:] = X + Y; and X += Y (on a copy)
    Z = np.zeros_like(Y)
    Z[:] = X + Y
    X2 = X.copy()
    X2 += Y
    return (Z * Z).sum() + (X2 * W).sum()


# ============================================================ 2.3 linear algebra

def scalar_ops(x, y):
    # d2l: x + y, x * y, x / y, x ** y on scalars
    return x + y + x * y + x / y + x ** y


def vector_index_len_shape(x):
    # d2l: x[2], len(x), x.shape
    return x[2] * len(x) + x.shape[0] * x.sum()


def transpose_loss(A, W):
    # d2l: A.T
    return (A.T * W).sum()


def symmetric_check(B, W):
    # d2l: B == B.T for a symmetric B; the loss is zero there, its gradient W - W.T is not
    return ((B - B.T) * W).sum()


def tensor_3d(X, W):
    # d2l: X = arange(24).reshape(2, 3, 4)
    return (X * X * W).sum()


def hadamard(A, B, W):
    # d2l: A * B
    return (A * B * W).sum()


def hadamard_clone(A, W):
    # d2l: B = A.clone(); A * B
    B = A.copy()
    return (A * B * W).sum()


def scalar_plus_tensor(a, X, W):
    # d2l: a + X, (a * X).shape on a (2, 3, 4) tensor
    return ((a + X) * W).sum() + (a * X * W).sum()


def vector_sum(x):
    # d2l: x.sum()
    return x.sum()


def sum_axis0(A, w):
    # d2l: A.sum(axis=0)
    return (A.sum(axis=0) * w).sum()


def sum_axis1(A, w):
    # d2l: A.sum(axis=1)
    return (A.sum(axis=1) * w).sum()


def sum_all_axes(A):
    # d2l: A.sum(axis=[0, 1]) == A.sum()
    return A.sum(axis=0).sum() + A.sum()


def mean_all(A):
    # d2l: A.mean(), A.sum() / A.numel()
    return A.mean() + A.sum() / A.size


def mean_axis0(A, w):
    # d2l: A.mean(axis=0), A.sum(axis=0) / A.shape[0]
    return (A.mean(axis=0) * w).sum() + (A.sum(axis=0) / A.shape[0] * w).sum()


def keepdims_normalize(A):
    # d2l: sum_A = A.sum(axis=1, keepdims=True); A / sum_A -- rows sum to 1, so the
    # gradient of the plain sum is exactly zero
    sum_A = A.sum(axis=1, keepdims=True)
    return (A / sum_A).sum()


def keepdims_normalize_weighted(A, W):
    sum_A = A.sum(axis=1, keepdims=True)
    return (A / sum_A * W).sum()


def cumsum_axis0(A, W):
    # d2l: A.cumsum(axis=0)
    return (np.cumsum(A, axis=0) * W).sum()


def dot_product(x, y):
    # d2l: torch.dot(x, y) and torch.sum(x * y)
    return np.dot(x, y) + np.sum(x * y)


def matrix_vector(A, x, w):
    # d2l: torch.mv(A, x) and A @ x
    return np.dot(np.dot(A, x), w) + (A @ x * w).sum()


def matrix_matrix(A, B, W):
    # d2l: torch.mm(A, B) and A @ B
    return (np.dot(A, B) * W).sum() + (np.matmul(A, B) * W).sum()


def l2_norm(u):
    # d2l: torch.norm(u) for u = [3, -4] is 5
    return np.linalg.norm(u)


def l1_norm(u):
    # d2l: torch.abs(u).sum() is 7
    return np.abs(u).sum()


def l1_norm_ord(u):
    return np.linalg.norm(u, ord=1)


def frobenius_norm(X):
    # d2l: torch.norm(torch.ones((4, 9))) is 6
    return np.linalg.norm(X)


# ============================================================ 2.4 calculus

def calculus_f(x):
    # d2l: f(x) = 3x^2 - 4x, f'(1) = 2
    return 3 * x ** 2 - 4 * x


def calculus_f_vector(x):
    return (3 * x ** 2 - 4 * x).sum()


def calculus_norm_squared(x):
    # d2l: the gradient of ||x||^2 is 2x
    return np.dot(x, x)


def calculus_quadratic_form(A, x):
    # d2l: the gradient of x^T A x is (A + A^T) x
    return x @ A @ x


def calculus_matrix_vector(A, x, w):
    # d2l: the gradient of A x (weighted) with respect to x is A^T w
    return np.dot(A @ x, w)


# ============================================================ 2.5 automatic differentiation

def autograd_two_dot(x):
    # d2l: y = 2 * torch.dot(x, x); x.grad == 4 * x
    return 2 * np.dot(x, x)


def autograd_sum(x):
    # d2l: y = x.sum(); x.grad == ones
    return x.sum()


def autograd_square(x):
    # d2l: y = x * x; y.backward(gradient=torch.ones(len(y))); x.grad == 2 * x
    return x * x


def autograd_detach(x):
    # d2l: u = y.detach(); z = u * x; z.sum().backward(); x.grad == u
    y = x * x
    u = stop_gradient(y)
    z = u * x
    return z.sum()


def autograd_detach_companion(x, u):
    # the same loss with u passed in as a constant: what finite differences can check
    return (u * x).sum()


def autograd_after_detach(x):
    # d2l: y.sum().backward(); x.grad == 2 * x
    y = x * x
    return y.sum()



def autograd_control_flow_sum(a):
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return c.sum()


# ============================================================ the entries

@dataclasses.dataclass(frozen=True)
class D2L:
    """A d2l example: ``fn(*args)`` differentiated w.r.t. ``wrt``; ``expected(*args)`` is
    the closed-form gradient (a tuple, one entry per ``wrt`` item); ``value`` the known
    value if the book states it; ``fd`` replaces ``(fn, args)`` for finite differences
    when the gradient is not the derivative of the value (stop_gradient)."""

    name: str
    fn: Callable
    args: tuple
    wrt: Any
    expected: Callable[..., tuple]
    value: float | None = None
    fd: Callable[[], tuple] | None = None

    def __repr__(self) -> str:
        return f"D2L({self.name})"


_X34 = np.arange(12.0).reshape(3, 4)
_Y34 = np.array([[2.0, 1, 4, 3], [1, 2, 3, 4], [4, 3, 2, 1]])
_A23 = np.arange(6.0).reshape(2, 3)
_A54 = np.arange(20.0).reshape(5, 4)
_X234 = np.arange(24.0).reshape(2, 3, 4)
_B_SYM = np.array([[1.0, 2, 3], [2, 0, 4], [3, 4, 5]])
_POS23 = np.arange(1.0, 7.0).reshape(2, 3)  # positive rows, so A / A.sum(axis=1) is defined
_A_CF = _rng(7).normal(size=4)              # d2l uses torch.randn
_A_CF_NEG = -np.abs(_rng(8).normal(size=3))
_A_CF_MAT = _rng(30).normal(size=(2, 3))


def _rev_cumsum0(W):
    return np.cumsum(W[::-1], axis=0)[::-1]


def _keepdims_weighted_grad(A, W):
    s = A.sum(axis=1, keepdims=True)
    return (W / s - (W * A).sum(axis=1, keepdims=True) / (s * s),)


ENTRIES = [
    # 2.1 data manipulation
    D2L("elementwise_ops", elementwise_ops, (np.array([1.0, 2, 4, 8]), np.array([2.0, 2, 2, 2])), (0, 1),
        lambda x, y: (2 + y + 1 / y + y * x ** (y - 1) + np.exp(x), x - x / y ** 2 + x ** y * np.log(x))),
    D2L("concatenate_both_axes", concatenate_both_axes,
        (_X34, _Y34, _rng(1).normal(size=(6, 4)), _rng(2).normal(size=(3, 8))), (0, 1),
        lambda X, Y, W0, W1: (W0[:3] + W1[:, :4], W0[3:] + W1[:, 4:])),
    D2L("broadcast_add", broadcast_add,
        (np.arange(3.0).reshape(3, 1), np.arange(2.0).reshape(1, 2), _rng(3).normal(size=(3, 2))), (0, 1),
        lambda a, b, W: (W.sum(axis=1, keepdims=True), W.sum(axis=0, keepdims=True))),
    D2L("index_and_slice", index_and_slice, (_X34, _rng(4).normal(size=4)), 0,
        lambda X, w: (np.concatenate((np.zeros((1, 4)), 2 * X[1:3])) + np.concatenate((np.zeros((2, 4)), w[None])),)),
    D2L("index_write", index_write, (_X34,), 0,
        lambda X: (np.concatenate((np.zeros((2, 4)), 2 * X[2:])),), value=float(2 * 4 * 144 + (_X34[2] ** 2).sum())),
    D2L("saving_memory", saving_memory, (_X34, _Y34, _rng(5).normal(size=(3, 4))), (0, 1),
        lambda X, Y, W: (2 * (X + Y) + W, 2 * (X + Y) + W)),
    # 2.3 linear algebra
    D2L("scalar_ops", scalar_ops, (3.0, 2.0), (0, 1),
        lambda x, y: (1 + y + 1 / y + y * x ** (y - 1), 1 + x - x / y ** 2 + x ** y * np.log(x)),
        value=5.0 + 6.0 + 1.5 + 9.0),
    D2L("vector_index_len_shape", vector_index_len_shape, (np.arange(3.0),), 0,
        lambda x: (np.array([3.0, 3.0, 6.0]),), value=2.0 * 3 + 3 * 3.0),
    D2L("transpose", transpose_loss, (np.arange(6.0).reshape(3, 2), _rng(6).normal(size=(2, 3))), 0,
        lambda A, W: (W.T,)),
    D2L("symmetric_check", symmetric_check, (_B_SYM, _rng(9).normal(size=(3, 3))), 0,
        lambda B, W: (W - W.T,), value=0.0),
    D2L("tensor_3d", tensor_3d, (_X234, _rng(10).normal(size=(2, 3, 4))), 0,
        lambda X, W: (2 * X * W,)),
    D2L("hadamard", hadamard, (_A23, _A23.copy(), _rng(11).normal(size=(2, 3))), (0, 1),
        lambda A, B, W: (B * W, A * W)),
    D2L("hadamard_clone", hadamard_clone, (_A23, _rng(12).normal(size=(2, 3))), 0,
        lambda A, W: (2 * A * W,)),
    D2L("scalar_plus_tensor", scalar_plus_tensor, (2.0, _X234, _rng(13).normal(size=(2, 3, 4))), (0, 1),
        lambda a, X, W: (float(W.sum() + (X * W).sum()), W + a * W)),
    D2L("vector_sum", vector_sum, (np.arange(4.0),), 0, lambda x: (np.ones(4),), value=6.0),
    D2L("sum_axis0", sum_axis0, (_A54, _rng(14).normal(size=4)), 0,
        lambda A, w: (np.tile(w, (5, 1)),)),
    D2L("sum_axis1", sum_axis1, (_A54, _rng(15).normal(size=5)), 0,
        lambda A, w: (np.tile(w[:, None], (1, 4)),)),
    D2L("sum_all_axes", sum_all_axes, (_A54,), 0, lambda A: (2 * np.ones((5, 4)),), value=2 * 190.0),
    D2L("mean_all", mean_all, (_A54,), 0, lambda A: (2 * np.ones((5, 4)) / 20,), value=2 * 9.5),
    D2L("mean_axis0", mean_axis0, (_A54, _rng(16).normal(size=4)), 0,
        lambda A, w: (2 * np.tile(w, (5, 1)) / 5,)),
    D2L("keepdims_normalize", keepdims_normalize, (_POS23,), 0,
        lambda A: (np.zeros((2, 3)),), value=2.0),
    D2L("keepdims_normalize_weighted", keepdims_normalize_weighted, (_POS23, _rng(17).normal(size=(2, 3))), 0,
        _keepdims_weighted_grad),
    D2L("cumsum_axis0", cumsum_axis0, (_A54, _rng(18).normal(size=(5, 4))), 0,
        lambda A, W: (_rev_cumsum0(W),)),
    D2L("dot_product", dot_product, (np.arange(3.0), np.ones(3)), (0, 1),
        lambda x, y: (2 * y, 2 * x), value=2 * 3.0),
    D2L("matrix_vector", matrix_vector, (_A54, np.arange(4.0), _rng(19).normal(size=5)), (0, 1),
        lambda A, x, w: (2 * np.outer(w, x), 2 * A.T @ w)),
    D2L("matrix_matrix", matrix_matrix, (_A54, np.ones((4, 3)), _rng(20).normal(size=(5, 3))), (0, 1),
        lambda A, B, W: (2 * W @ B.T, 2 * A.T @ W)),
    D2L("l2_norm", l2_norm, (np.array([3.0, -4.0]),), 0, lambda u: (np.array([0.6, -0.8]),), value=5.0),
    D2L("l1_norm", l1_norm, (np.array([3.0, -4.0]),), 0, lambda u: (np.array([1.0, -1.0]),), value=7.0),
    D2L("l1_norm_ord", l1_norm_ord, (np.array([3.0, -4.0]),), 0, lambda u: (np.array([1.0, -1.0]),), value=7.0),
    D2L("frobenius_norm", frobenius_norm, (np.ones((4, 9)),), 0, lambda X: (np.ones((4, 9)) / 6,), value=6.0),
    # 2.4 calculus
    D2L("calculus_f", calculus_f, (1.0,), 0, lambda x: (6 * x - 4,), value=-1.0),
    D2L("calculus_f_vector", calculus_f_vector, (np.array([1.0, 0.5, -2.0, 3.0]),), 0,
        lambda x: (6 * x - 4,)),
    D2L("calculus_norm_squared", calculus_norm_squared, (_rng(21).normal(size=5),), 0, lambda x: (2 * x,)),
    D2L("calculus_quadratic_form", calculus_quadratic_form, (_rng(22).normal(size=(4, 4)), _rng(23).normal(size=4)),
        (0, 1), lambda A, x: (np.outer(x, x), (A + A.T) @ x)),
    D2L("calculus_matrix_vector", calculus_matrix_vector,
        (_rng(24).normal(size=(3, 4)), _rng(25).normal(size=4), _rng(26).normal(size=3)), 1,
        lambda A, x, w: (A.T @ w,)),
    # 2.5 automatic differentiation
    D2L("autograd_two_dot", autograd_two_dot, (np.arange(4.0),), 0,
        lambda x: (np.array([0.0, 4.0, 8.0, 12.0]),), value=28.0),
    D2L("autograd_two_dot_float32", autograd_two_dot, (np.arange(4.0, dtype=np.float32),), 0,
        lambda x: (np.array([0.0, 4.0, 8.0, 12.0]),), value=28.0),
    D2L("autograd_sum", autograd_sum, (np.arange(4.0),), 0, lambda x: (np.ones(4),), value=6.0),
    D2L("autograd_detach", autograd_detach, (np.arange(4.0),), 0, lambda x: (x * x,), value=36.0,
        fd=lambda: (autograd_detach_companion, (np.arange(4.0), np.arange(4.0) ** 2))),
    D2L("autograd_after_detach", autograd_after_detach, (np.arange(4.0),), 0, lambda x: (2 * x,), value=14.0),
    D2L("autograd_control_flow_sum", autograd_control_flow_sum, (_A_CF,), 0,
        lambda a: (autograd_control_flow(a) / a,)),
    D2L("autograd_control_flow_sum_neg", autograd_control_flow_sum, (_A_CF_NEG,), 0,
        lambda a: (autograd_control_flow(a) / a,)),
]

ENTRY_IDS = [e.name for e in ENTRIES]

_CACHE: dict[tuple, object] = {}


def _value_and_grad(entry):
    key = (entry.fn, entry.wrt)
    if key not in _CACHE:
        _CACHE[key] = srcgrad.value_and_grad(entry.fn, wrt=entry.wrt)
    return _CACHE[key]


def _as_tuple(g):
    return g if isinstance(g, tuple) else (g,)


@functools.cache
def _fd(name):
    e = next(e for e in ENTRIES if e.name == name)
    fn, args = e.fd() if e.fd is not None else (e.fn, e.args)
    return fd_grad_array(fn, args, e.wrt)


def _check_structure(entry, grad):
    entries = _as_tuple(grad) if isinstance(entry.wrt, tuple) else (grad,)
    if isinstance(entry.wrt, tuple):
        assert isinstance(grad, tuple) and len(grad) == len(entry.wrt)
    else:
        assert not isinstance(grad, tuple)
    idx = entry.wrt if isinstance(entry.wrt, tuple) else (entry.wrt,)
    for k, g in zip(idx, entries):
        arg = entry.args[k]
        if isinstance(arg, np.ndarray):
            assert isinstance(g, np.ndarray), f"{entry.name}: gradient {k} is {type(g).__name__}"
            assert g.shape == arg.shape and g.dtype == arg.dtype, \
                f"{entry.name}: gradient {k} is {g.dtype}{g.shape}, argument {arg.dtype}{arg.shape}"
        else:
            assert type(g) is type(arg), f"{entry.name}: gradient {k} is {type(g).__name__}"


def _tol(entry, rtol, atol):
    f32 = any(isinstance(a, np.ndarray) and a.dtype == np.float32 for a in entry.args)
    return (1e-6, 1e-6) if f32 else (rtol, atol)


# ============================================================ tests

@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_closed_form(entry):
    value, grad = _value_and_grad(entry)(*entry.args)
    assert np.ndim(value) == 0
    assert_allclose_grads(value, entry.fn(*entry.args), 1e-12, 1e-12, what=f"{entry.name}: value")
    if entry.value is not None:
        assert_allclose_grads(value, entry.value, 1e-12, 1e-12, what=f"{entry.name}: value (book)")
    _check_structure(entry, grad)
    rtol, atol = _tol(entry, CLOSED_RTOL, CLOSED_ATOL)
    assert_allclose_grads(grad, entry.expected(*entry.args), rtol, atol,
                          what=f"{entry.name}: gradient vs closed form")


@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_finite_differences(entry):
    _, grad = _value_and_grad(entry)(*entry.args)
    rtol, atol = _tol(entry, FD_RTOL, FD_ATOL)
    assert_allclose_grads(grad, _fd(entry.name), rtol, atol, what=f"{entry.name}: gradient vs FD")


def test_two_dot_float32_gradient_is_exact():
    """d2l works in float32: 4x is exact there, and the gradient stays float32."""
    g = srcgrad.grad(autograd_two_dot)(np.arange(4.0, dtype=np.float32))
    assert g.dtype == np.float32
    assert np.array_equal(g, np.array([0.0, 4.0, 8.0, 12.0], dtype=np.float32))


def test_grad_and_value_and_grad_agree():
    x = np.arange(4.0)
    g = srcgrad.grad(autograd_two_dot)(x)
    v, g2 = srcgrad.value_and_grad(autograd_two_dot)(x)
    assert v == 28.0
    assert np.array_equal(g, 4 * x) and np.array_equal(g2, 4 * x)


def test_vjp_square_with_ones_is_2x():
    """d2l: y = x * x; y.backward(gradient=torch.ones(len(y))) gives x.grad == 2 * x."""
    x = np.arange(4.0)
    y, pullback = srcgrad.vjp(autograd_square, x)
    assert np.array_equal(np.asarray(y), x * x)
    g = pullback(np.ones(4))
    assert isinstance(g, np.ndarray) and g.shape == (4,) and g.dtype == np.float64
    assert_allclose_grads(g, 2 * x, 1e-15, 0.0, what="vjp(x * x)(ones)")
    assert_allclose_grads(g, fd_vjp(autograd_square, (x,), np.ones(4)), FD_RTOL, FD_ATOL,
                          what="vjp(x * x)(ones) vs FD")


def test_vjp_detach_then_sum_of_y():
    """d2l: after z.sum().backward() with u detached, y.sum().backward() gives 2x."""
    x = np.arange(4.0)
    _, pullback = srcgrad.vjp(autograd_detach, x)
    assert_allclose_grads(pullback(1.0), x * x, 1e-15, 0.0, what="vjp(detach)(1.0)")
    assert srcgrad.grad(autograd_after_detach)(x).tolist() == (2 * x).tolist()


@pytest.mark.parametrize("a", [_A_CF, _A_CF_NEG, _A_CF_MAT],
                         ids=["positive_sum", "negative_sum", "matrix"])
def test_vjp_control_flow_is_c_over_a(a):
    """d2l: d = f(a); d.backward(); a.grad == d / a -- f(a) = k a for a piecewise-constant
    k, so the vjp with a cotangent of ones is c / a elementwise."""
    c, pullback = srcgrad.vjp(autograd_control_flow, a)
    c = np.asarray(c)
    assert_allclose_grads(c, autograd_control_flow(a), 1e-15, 0.0, what="control flow value")
    g = pullback(np.ones_like(a))
    assert g.shape == a.shape and g.dtype == a.dtype
    assert_allclose_grads(g, c / a, 1e-12, 0.0, what="vjp(f, a)(ones) vs c / a")
    assert_allclose_grads(g, fd_vjp(autograd_control_flow, (a,), np.ones_like(a)), FD_RTOL, FD_ATOL,
                          what="vjp(f, a)(ones) vs FD")


def test_stop_gradient_is_identity_forward():
    x = np.arange(4.0)
    assert np.array_equal(stop_gradient(x * x), x * x)


# the closed forms themselves (no srcgrad) -------------------------------------------------------

@pytest.mark.parametrize("entry", ENTRIES, ids=ENTRY_IDS)
def test_closed_forms_match_finite_differences(entry):
    expected = entry.expected(*entry.args)
    assert_allclose_grads(expected, _fd(entry.name), 1e-7, 1e-9, what=f"{entry.name}: closed form vs FD")
    if entry.value is not None:
        assert_allclose_grads(entry.fn(*entry.args), entry.value, 1e-13, 1e-13, what=f"{entry.name}: value")
    jg = jax_grad(entry.fn, entry.args, entry.wrt)
    if jg is not None:
        assert_allclose_grads(expected, jg, 1e-12, 1e-12, what=f"{entry.name}: closed form vs JAX")


def test_control_flow_points_are_away_from_boundaries():
    """The while loop stops well past 1000 and the branch sum is well away from 0."""
    for a in (_A_CF, _A_CF_NEG, _A_CF_MAT):
        c = autograd_control_flow(a)
        b = c if c.sum() > 0 else c / 100
        assert np.linalg.norm(b) > 1001 and np.linalg.norm(b / 2) < 999
        assert abs(b.sum()) > 1e-2 * np.linalg.norm(b)
