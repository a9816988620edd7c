"""Corpus of NumPy-array programs for srcgrad's gradient tests.

Every function is defined at module level (srcgrad reads source with
``inspect.getsource``), takes float64 (a few float32) arrays of at most 50 elements
plus scalars, mixes loops, branches and in-place writes, and returns a scalar.
Programs that write into an array (``y[i] = ...``) always write into a fresh array
(``np.zeros``, ``x.copy()``, ...), never into an argument.

``CASES`` lists each function with points built deterministically (one seeded
``np.random.default_rng`` per point). Points are chosen away from branch boundaries,
changes of loop trip count, max/min/abs/clip ties and floor jumps, so central finite
differences are valid there; ``test_corpus_arrays.test_fd_step_insensitive`` checks that
(a kink within the stencil makes two FD step sizes disagree).

``VJP_CASES`` are vector-valued programs for ``srcgrad.vjp``, each with a cotangent.
"""

import numpy as np

import srcgrad

from .oracles import Case

DECAY = 0.9


def _u(seed, shape, lo=-1.0, hi=1.0, dtype=np.float64):
    """A deterministic uniform array."""
    return np.random.default_rng(seed).uniform(lo, hi, size=shape).astype(dtype)


def _away(seed, shape, gap, lo=-1.0, hi=1.0):
    """A uniform array whose elements are all > ``gap`` away from zero (for sign branches)."""
    a = _u(seed, shape, lo, hi)
    return np.where(np.abs(a) < gap, np.sign(a + 1e-300) * (gap + np.abs(a)), a)


def _distinct(seed, n, lo=-1.0, hi=1.0, gap=0.05):
    """``n`` values pairwise more than ``gap`` apart, in random order (no sort/max ties)."""
    rng = np.random.default_rng(seed)
    base = lo + (np.arange(n) + 0.5) * (hi - lo) / n  # spacing (hi - lo) / n
    assert (hi - lo) / n > 2 * gap
    jitter = rng.uniform(-0.25, 0.25, size=n) * (hi - lo) / n
    return rng.permutation(base + jitter)


# ============================================================ loops with in-place writes

def prefix_sum_loop(x, w):
    y = np.zeros_like(x)
    s = 0.0
    for i in range(x.shape[0]):
        s += x[i]
        y[i] = s * x[i]
    return np.dot(y, w)


def prefix_sum_slices(x):
    y = x.copy()
    for i in range(1, len(y)):
        y[i] = y[i - 1] + y[i]
    return (y * y).sum() + y[-1] * y[0]


def conv1d_loop(x, k):
    n = len(x)
    m = len(k)
    y = np.zeros(n - m + 1)
    for i in range(n - m + 1):
        for j in range(m):
            y[i] += x[i + j] * k[j]
    return (y * y).sum()


def matvec_loop(A, x):
    y = np.zeros(A.shape[0])
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            y[i] += A[i, j] * x[j]
    return np.dot(y, y)


def bubble_sort_weighted(x, w):
    y = x.copy()
    n = len(y)
    for i in range(n):
        for j in range(n - 1 - i):
            if y[j] > y[j + 1]:
                t = y[j]
                y[j] = y[j + 1]
                y[j + 1] = t
    return np.dot(y, w)


def insertion_sort_weighted(x, w):
    y = x.copy()
    for i in range(1, len(y)):
        key = y[i]
        j = i - 1
        while j >= 0 and y[j] > key:
            y[j + 1] = y[j]
            j -= 1
        y[j + 1] = key
    return (y * w).sum()


def masked_update(x):
    y = np.empty_like(x)
    for i in range(len(x)):
        y[i] = x[i] * x[i] if x[i] > 0 else np.sin(x[i])
    return y.sum() + y.max()


def masked_elif(x):
    y = np.zeros(x.shape[0])
    for i in range(x.shape[0]):
        if x[i] > 0.5:
            y[i] = np.exp(x[i])
        elif x[i] > -0.3:
            y[i] = x[i] ** 3
        else:
            y[i] = -2.0 * x[i]
        y[i] += 0.1 * x[i]
    return np.dot(y, y)


def row_normalize(A, W):
    B = A.copy()
    for i in range(B.shape[0]):
        s = B[i, :].sum()
        B[i, :] = B[i, :] / s
    return (B * W).sum()


def column_center(A):
    B = A.copy()
    for j in range(B.shape[1]):
        B[:, j] = B[:, j] - B[:, j].mean()
    return (B * B * A).sum()


def repeated_overwrite(x):
    y = np.zeros(3)
    for i in range(len(x)):
        y[1] = y[1] * 0.5 + x[i]
        y[0] = y[1] - y[0] * 0.5
        y[1] = np.sin(y[1])
        y[1] = y[1] * 2.0
        y[2] = y[0] * y[1]
    y[0] = y[0] * y[2]
    return y.sum()


def neg_step_write(x, w):
    y = np.zeros(6)
    y[::-1] = np.sin(x)
    y[::2] = y[::2] * x[1::2]
    y[-2:0:-2] += x[:2] * x[:2]
    return (y * w).sum()


def slice_smooth(x):
    y = x.copy()
    y[1:-1] = 0.5 * (x[:-2] + x[2:])
    y[-1] = y[-2] * y[0]
    return (y * y * y).sum()


def smoothing_while(x):
    y = x.copy()
    it = 0
    while np.abs(y[1:] - y[:-1]).max() > 0.3 and it < 20:
        y[1:-1] = (y[:-2] + y[1:-1] + y[2:]) / 3.0
        it += 1
    return (y * x).sum() + it


def stack_rows_inplace(A):
    B = np.zeros_like(A)
    B[0, :] = A[0, :]
    for i in range(1, A.shape[0]):
        B[i, :] = 0.5 * B[i - 1, :] + A[i, :] * A[i, :]
    return (B * B).sum()


def rnn_store_states(W, x):
    T = x.shape[0]
    h = np.zeros(W.shape[0])
    H = np.zeros((T, W.shape[0]))
    for t in range(T):
        h = np.tanh(W @ h + x[t])
        H[t] = h
    return (H * H).sum() + H[-1, 0]


def ema_inplace(x, a):
    y = np.empty(x.shape[0])
    y[0] = x[0]
    for i in range(1, x.shape[0]):
        y[i] = a * y[i - 1] + (1.0 - a) * x[i]
    return (y * y).sum()


def swap_pairs_tuple(x, w):
    y = x.copy()
    for i in range(0, len(y) - 1, 2):
        if y[i] < y[i + 1]:
            a, b = y[i + 1], y[i] * 2.0
            y[i] = a
            y[i + 1] = b
    return (y * w).sum()


def float32_inplace(x, w):
    y = np.zeros_like(x)
    y[0] = x[0] * w[0]
    for i in range(1, len(x)):
        y[i] = y[i - 1] * 0.5 + x[i] * w[i]
    return (y * y).sum()


def tensor3_inplace(T):
    U = np.zeros_like(T)
    for i in range(T.shape[0]):
        U[i] = np.sin(T[i]) * (i + 1.0)
        for j in range(T.shape[1]):
            U[i, j, 0] = U[i, j, 0] * T[i, j, 1]
    return (U * T).sum()


def zeros_then_fill(n, x):
    y = np.zeros(n)
    for i in range(n):
        y[i] = x[i % len(x)] * (i + 1.0)
    y[n - 1] = y[0] * y[n - 1]
    return np.dot(y, y)


def histogram_like(x, w):
    acc = np.zeros(3)
    for i in range(len(x)):
        b = int(np.floor((x[i] + 1.0) * 1.5))
        acc[b] += w[i] * x[i]
    return (acc * acc).sum()


# ============================================================ loops, branches, no in-place writes

def conv1d_slices(x, k):
    m = len(k)
    out = 0.0
    for i in range(len(x) - m + 1):
        s = (x[i:i + m] * k).sum()
        out = out + s * s
    return out


def rnn_steps(W, x):
    h = np.zeros(W.shape[0])
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
    return h.sum()


def horner_points(c, t):
    p = 0.0 * t
    for i in range(len(c)):
        p = p * t + c[i]
    return (p * p).sum()


def horner_reverse(c, x):
    p = 0.0
    for i in range(len(c) - 1, -1, -1):
        p = p * x + c[i]
    return p


def softmax_weighted(x, w):
    e = np.exp(x - x.max())
    p = e / e.sum()
    return np.dot(p, w)


def logsumexp(x):
    m = np.max(x)
    return m + np.log(np.sum(np.exp(x - m)))


def logsumexp_rows(A):
    m = A.max(axis=1, keepdims=True)
    lse = m[:, 0] + np.log(np.exp(A - m).sum(axis=1))
    return (lse * lse).sum()


def running_max_break(x, limit):
    m = x[0]
    s = 0.0
    for i in range(1, len(x)):
        if x[i] > limit:
            break
        if x[i] > m:
            m = x[i]
        s = s + m * x[i]
    return s + m


def while_norm(x):
    y = x * 1.0
    k = 0
    while np.linalg.norm(y) < 10.0:
        y = y * 1.5 + 0.1
        k += 1
    return y.sum() + k


def neg_step_slices(x):
    r = x[::-1]
    d = x[1:] - x[:-1]
    e = x[-1:0:-2]
    return (r * x).sum() + (d * d).sum() + e.sum() ** 2


def float32_elementwise(x):
    return (x * x * 0.5 + np.sin(x) - np.exp(-x)).sum()


def float32_matvec(A, x):
    y = np.tanh(A @ x)
    return (y * y).sum() + np.linalg.norm(x)


def tensor3_loop(T):
    s = 0.0
    for i in range(T.shape[0]):
        for j in range(T.shape[1]):
            s = s + np.tanh(T[i, j]).dot(T[i, j])
        s = s * 0.9 + T[i].sum()
    return s


def tensor3_reductions(T, W):
    a = T.sum(axis=0)
    b = T.mean(axis=2)
    c = T.max(axis=1)
    return (a * W).sum() + (b * b).sum() + c.sum() + np.sum(T * T, axis=2, keepdims=True).sum()


def matmul_chain(A, B, x):
    C = A @ B
    return (C @ x).sum() + np.trace(C) + np.trace(A @ A.T)


def outer_trace(u, v):
    M = np.outer(u, v)
    return np.trace(M @ M) + np.linalg.norm(M)


def gram_frobenius(A):
    G = A.T @ A
    return np.linalg.norm(G)


def norms_mix(x):
    return np.linalg.norm(x) + np.linalg.norm(x, 1) + np.linalg.norm(x * x, 1) * 0.5


def reductions_axis(A, w):
    a = (A.sum(axis=0) * w).sum()
    b = np.prod(A.mean(axis=1))
    c = A.max(axis=0).sum() + A.min(axis=1, keepdims=True).sum()
    return a + b + c + np.mean(A, axis=0).dot(w) + np.min(A) * np.max(A)


def prod_axis(A):
    return np.prod(A, axis=1).sum() + np.prod(A[0])


def cumsum_axis(A, W):
    C = np.cumsum(A, axis=1)
    D = np.cumsum(A, axis=0)
    return (C * W).sum() + (D * D).sum() + np.cumsum(A[:, 0], axis=0).sum()


def reshape_transpose(x):
    A = x.reshape(3, 4)
    B = np.transpose(A) @ A
    C = x.reshape((4, 3)).T
    return (B * B).sum() + (C * A).sum()


def concat_stack(x, y):
    z = np.concatenate((x, y * 2.0))
    S = np.stack((x, y))
    T = np.stack((x, y), axis=1)
    return (z * z).sum() + (S[0] * S[1]).sum() + S.sum(axis=0).dot(x) + (T[:, 1] * T[:, 0]).sum()


def where_clip(x):
    y = np.where(x > 0, x * x, -x)
    z = np.clip(x, -0.5, 0.5)
    return (y + z * z).sum() + np.maximum(x, 0.1).sum() + np.minimum(x, y).sum()


def unary_zoo(x):
    a = np.sin(x) + np.cos(x) + np.tan(x) + np.arcsin(x) + np.arccos(x) + np.arctan(x)
    b = np.sinh(x) + np.cosh(x) + np.tanh(x) + np.exp(x) + np.expm1(x)
    c = np.log(x) + np.log1p(x) + np.sqrt(x) + np.square(x) + np.abs(x - 0.5)
    return (a * b).sum() + (c * c).sum()


def binary_zoo(x, y):
    a = np.arctan2(x, y) + np.power(x, y) + x ** 2 + 2.0 ** y + np.power(y, 3)
    b = np.sign(x - 0.5) * y + np.floor(3.0 * x) * y * y
    return (a + b).sum()


def broadcast_ops(A, r, c):
    return ((A + r) * c - r / (1.0 + c * c) + 0.5 * A * r * r).sum()


def scalar_array_mix(s, x):
    return (s * x + x / s).sum() + s ** 2 * x.mean() + (np.sin(s * x) * x).sum()


def for_over_rows(A):
    s = 0.0
    k = 1.0
    for row in A:
        s = s + np.dot(row, row) * k
        k = k * 0.5
    return s


def enumerate_branch(x):
    s = 0.0
    for i, v in enumerate(x):
        if v > 0:
            s = s + v * (i + 1.0) ** 0.5
        else:
            s = s - v * v * i
    return s


def for_v_in_x(x):
    s = 0.0
    p = 1.0
    for v in x:
        s = s + v * p
        p = p * np.cos(v)
    return s + p


def gradient_descent(w, X, y):
    n = X.shape[0]
    for k in range(5):
        r = X @ w - y
        w = w - 0.1 * (X.T @ r) / n
    r = X @ w - y
    return 0.5 * np.dot(r, r)


def power_iteration(A):
    v = np.ones(A.shape[0])
    for k in range(8):
        v = A @ v
        v = v / np.linalg.norm(v)
    return v @ A @ v


def matrix_power_loop(A):
    M = np.eye(A.shape[0])
    for k in range(3):
        M = M @ A
    return np.trace(M) + (M * M).sum()


def constructors(x):
    n = len(x)
    t = np.linspace(0.0, 1.0, n)
    a = np.arange(n)
    f = np.full(n, 2.5)
    o = np.ones(n)
    z = np.zeros((2, n))
    return (x * t).sum() + (np.sin(x) * a).sum() + (x * f).dot(o) + (z + x).sum() + (np.ones_like(x) * x).sum()


def eye_ones(A):
    n = A.shape[0]
    B = A + np.eye(n) * 2.0
    M = B @ B - np.ones((n, n)) * 0.1
    return np.trace(M) + (M * M).sum()


def attribute_ops(A):
    return A.sum() / A.size + A.ndim * A.mean() + len(A) * A[0, 0] + A.shape[1] * A[-1, -1]


def column_dots(A):
    s = 0.0
    n = A.shape[1]
    for j in range(n):
        s = s + np.dot(A[:, j], A[:, (j + 1) % n])
    return s


def early_return_loop(x):
    for i in range(len(x)):
        if x[i] < 0:
            return x[:i + 1].sum() * x[i]
    return x.sum()


def whole_array_augassign(x):
    y = np.zeros_like(x)
    y += x * 2.0
    y *= x
    y -= 1.0
    y /= 3.0
    return (y * y).sum()


def dot_methods(A, x):
    return A.dot(x).dot(x) + x.dot(x) + A.T.dot(A.dot(x)).sum()


def maxpool1d(x):
    out = 0.0
    for i in range(0, len(x) - 1, 2):
        out = out + x[i:i + 2].max() * (i + 1.0)
    return out


def newton_sqrt_array(x):
    y = x.copy()
    for k in range(6):
        y = 0.5 * (y + x / y)
    return (y * np.arange(1.0, len(x) + 1.0)).sum()


def stop_gradient_mix(x):
    u = srcgrad.stop_gradient(x * x)
    return (u * x).sum() + x.sum()


def empty_like_fill(x):
    y = np.empty_like(x)
    for i in range(len(x)):
        y[i] = np.cos(x[i]) * x[-1 - i]
    return np.linalg.norm(y)


def while_halving(x):
    y = x.copy()
    n = 0
    while y.max() > 0.5:
        y = y * 0.5 + 0.01 * x
        n += 1
    return (y * y).sum() * (n + 1.0)


def gram_loop_inplace(x):
    n = len(x)
    G = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            G[i, j] += x[i] * x[j]
        G[i, i] -= 0.5 * x[i]
        G[i, i] *= 2.0
    return (G * G).sum() + np.trace(G)


def continue_skip(x):
    y = x.copy()
    s = 0.0
    for i in range(len(y)):
        if y[i] < 0:
            continue
        y[i] *= 2.0
        y[i] /= 1.0 + x[i] * x[i]
        s = s + y[i]
    return s * y.sum()


def tensor3_slice_write(T):
    U = T.copy()
    U[:, 1, :] = U[:, 0, :] * U[:, 2, :]
    U[1] = U[1] - U[0]
    U[0, :, -1] = np.cos(T[0, :, 0])
    return (U * U).sum() + U[1, 2, 3]


def negative_index_write(x):
    n = len(x)
    y = np.zeros(n)
    for i in range(n):
        y[-1 - i] = x[i] * (i + 1.0)
    y[-1] *= y[0]
    y[-2] -= x[-1]
    return (y * x).sum()


def nested_break(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            if A[i, j] > 0.6:
                break
            s = s + A[i, j] * (j + 1.0)
        s = s * 0.5
    return s


def while_inplace_index(x):
    y = x.copy()
    i = 0
    while i < len(y) and y[i] < 0.5:
        y[i] = y[i] * 2.0 + 0.1
        i += 1
    return (y * y).sum() + i


def chained_index_loop(A):
    s = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            s = s + A[i][j] * A[i][j - 1]
        s = s + A.T[1][i]
    return s


def chained_index_3d(T):
    s = 0.0
    for i in range(T.shape[0]):
        M = T[i]
        for j in range(T.shape[1]):
            s = s + M[j][0] * M[j, 1]
    return s


def self_assign_reversed(x, w):
    y = x * x
    y[::-1] = y
    return (y * w).sum()


def float32_loop_rebind(A, x):
    y = A @ x
    for k in range(3):
        y = np.tanh(y) * 1.3
    return (y * y).sum()


# ============================================================ arrays built from values; gathers and scatters

def array_of_scalars(a, b):
    v = np.array([a, b, a * b])
    return np.sum(v ** 2)


def array_literal_indexed(a, x):
    v = np.array([a, 2.0 * a, 1.5])
    return v[0] * x[1] + v[1] * v[2] + np.dot(v, x)


def nested_array_literal(a, b, c, d):
    M = np.array([[a, b], [c, d]])
    N = np.asarray(((1.0, a), (b, 2.0)))
    return np.sum(M @ M) + np.trace(N @ M)


def array_of_arrays(x, y):
    M = np.array([x, y * 2.0, x * y])
    return np.sum(M @ M.T) + M[2, 1]


def list_arguments(a, x):
    return np.sum([1.0, a * a, 2.0]) + np.dot([a, 1.0, -a], x)


def stack_functions(x, y, A):
    h = np.hstack([x, y, x * y])
    v = np.vstack((x, y))
    c = np.column_stack([x, y * y])
    s = np.stack([x, y], axis=1)
    w = np.vstack([A, v])
    return np.sum(h * h) + np.sum(v * A) + np.sum(c ** 3) + np.sum(s * c) + np.sum(w * w)


def hstack_2d(a, A, B):
    r = np.hstack([np.array([a, 2.0 * a]), A[0] * a])
    M = np.hstack((A, B * a))
    return np.sum(r * r) + np.sum(M ** 2)


def array_copies(x, a):
    y = np.array(x)
    z = np.asarray(x * a)
    y[0] = a
    return np.sum(y * z) + np.sum(np.array(a) * x)


def gather_repeated(x, w):
    idx = np.array([2, 0, 0, 3, 2])
    return np.sum(x[idx] * w)


def gather_argument_index(E, ids, w):
    # an embedding lookup: rows of E, some twice
    rows = E[ids]
    return np.sum(np.tanh(rows @ w))


def gather_columns_and_mask(A, w):
    cols = np.array([1, 1, 0])
    B = A[:, cols]
    m = A[0] > 0.0
    return np.sum(B * B) + np.sum(A[1][m] * w[m]) + np.sum(A[0, cols] * w[cols])


def scatter_repeated(x, v):
    y = np.zeros(5)
    idx = np.array([1, 3, 1])
    y[idx] = v * x[:3]
    z = x.copy()
    z[np.array([0, 0])] += v[:2]
    return np.sum(y * y) + np.sum(z * x)


def gather_in_loop(E, ids, W):
    h = np.zeros(W.shape[0])
    for t in range(ids.shape[0]):
        h = np.tanh(W @ h + E[ids[t]])
    return np.sum(h * h)


# ============================================================ the cases

CASES = [
    Case("prefix_sum_loop", prefix_sum_loop, [(_u(1, 8), _u(2, 8))]),
    Case("prefix_sum_slices", prefix_sum_slices, [(_u(3, 7),), (_u(4, 12, 0.0, 2.0),)]),
    Case("conv1d_loop", conv1d_loop, [(_u(5, 10), _u(6, 3))], wrt=(0, 1)),
    Case("matvec_loop", matvec_loop, [(_u(7, (3, 4)), _u(8, 4))], wrt=(0, 1)),
    Case("bubble_sort_weighted", bubble_sort_weighted,
         [(_distinct(9, 7), _u(10, 7)), (_distinct(11, 5, 0.0, 3.0), _u(12, 5))], wrt=(0, 1)),
    Case("insertion_sort_weighted", insertion_sort_weighted,
         [(_distinct(13, 8), _u(14, 8))], wrt=(0, 1)),
    Case("masked_update", masked_update, [(_away(15, 9, 0.05),)]),
    Case("masked_elif", masked_elif,
         [(np.array([0.9, 0.1, -0.7, 0.45, -0.1, -0.9, 0.7]),)]),
    Case("row_normalize", row_normalize, [(_u(16, (3, 4), 0.5, 2.0), _u(17, (3, 4)))], wrt=(0, 1)),
    Case("column_center", column_center, [(_u(18, (4, 3)),)]),
    Case("repeated_overwrite", repeated_overwrite, [(_u(19, 5),)]),
    Case("neg_step_write", neg_step_write, [(_u(20, 6), _u(21, 6))], wrt=(0, 1)),
    Case("slice_smooth", slice_smooth, [(_u(22, 9),)]),
    Case("smoothing_while", smoothing_while,
         [(np.array([0.0, 1.2, -0.5, 0.8, 0.1, -1.0]),),   # 14 sweeps; max step 0.3037 -> 0.2904
          (np.array([0.0, 0.1, 0.15, 0.05]),)]),            # no sweep
    Case("stack_rows_inplace", stack_rows_inplace, [(_u(23, (4, 3)),)]),
    Case("rnn_store_states", rnn_store_states, [(_u(24, (3, 3), -0.8, 0.8), _u(25, (4, 3)))],
         wrt=(0, 1)),
    Case("ema_inplace", ema_inplace, [(_u(26, 8), 0.7), (_u(27, 5), 0.25)], wrt=(0, 1)),
    Case("swap_pairs_tuple", swap_pairs_tuple, [(_distinct(28, 8), _u(29, 8))], wrt=(0, 1)),
    Case("float32_inplace", float32_inplace,
         [(_u(30, 6, dtype=np.float32), _u(31, 6, dtype=np.float32))], wrt=(0, 1)),
    Case("tensor3_inplace", tensor3_inplace, [(_u(32, (2, 3, 4)),)]),
    Case("zeros_then_fill", zeros_then_fill, [(7, _u(33, 3))], wrt=1),
    Case("histogram_like", histogram_like,
         [(np.array([-0.9, -0.2, 0.1, 0.5, 0.8, -0.5]), _u(34, 6))], wrt=(0, 1)),
    Case("conv1d_slices", conv1d_slices, [(_u(35, 10), _u(36, 3))], wrt=(0, 1)),
    Case("rnn_steps", rnn_steps, [(_u(37, (4, 4), -0.6, 0.6), _u(38, (5, 4)))], wrt=(0, 1)),
    Case("horner_points", horner_points, [(_u(39, 5), _u(40, 6))], wrt=(0, 1)),
    Case("horner_reverse", horner_reverse, [(_u(41, 6), 0.7), (_u(42, 4), -1.3)], wrt=(0, 1)),
    Case("softmax_weighted", softmax_weighted, [(_u(43, 6, -2.0, 2.0), _u(44, 6))], wrt=(0, 1)),
    Case("logsumexp", logsumexp, [(_u(45, 7, -3.0, 3.0),)]),
    Case("logsumexp_rows", logsumexp_rows, [(_u(46, (3, 5), -2.0, 2.0),)]),
    Case("running_max_break", running_max_break,
         [(np.array([0.2, 0.5, 0.3, 0.9, 1.7, 0.4]), 1.2),   # breaks at index 4
          (np.array([0.2, -0.5, 0.6, 0.1]), 1.2)],          # runs to the end
         wrt="x"),
    Case("while_norm", while_norm, [(_u(47, 4),), (_u(48, 6, 2.0, 3.0),)]),
    Case("neg_step_slices", neg_step_slices, [(_u(49, 9),), (_u(50, 4),)]),
    Case("float32_elementwise", float32_elementwise, [(_u(51, 10, dtype=np.float32),)]),
    Case("float32_matvec", float32_matvec,
         [(_u(52, (3, 4), dtype=np.float32), _u(53, 4, dtype=np.float32))], wrt=(0, 1)),
    Case("tensor3_loop", tensor3_loop, [(_u(54, (2, 3, 4)),)]),
    Case("tensor3_reductions", tensor3_reductions, [(_u(55, (2, 3, 4)), _u(56, (3, 4)))]),
    Case("matmul_chain", matmul_chain, [(_u(57, (3, 4)), _u(58, (4, 3)), _u(59, 3))],
         wrt=(0, 1, 2)),
    Case("outer_trace", outer_trace, [(_u(60, 4), _u(61, 4))], wrt=(0, 1)),
    Case("gram_frobenius", gram_frobenius, [(_u(62, (4, 3)),)]),
    Case("norms_mix", norms_mix, [(_away(63, 7, 0.05),)]),
    Case("reductions_axis", reductions_axis,
         [(_distinct(64, 12).reshape(3, 4), _u(65, 4))], wrt=(0, 1)),
    Case("prod_axis", prod_axis, [(_u(66, (3, 4), 0.5, 1.5),)]),
    Case("cumsum_axis", cumsum_axis, [(_u(67, (3, 4)), _u(68, (3, 4)))]),
    Case("reshape_transpose", reshape_transpose, [(_u(69, 12),)]),
    Case("concat_stack", concat_stack, [(_u(70, 5), _u(71, 5))], wrt=(0, 1)),
    Case("where_clip", where_clip,
         [(np.array([-0.8, -0.3, 0.05, 0.3, 0.7, 1.4, -0.05]),)]),
    Case("unary_zoo", unary_zoo, [(np.array([0.12, 0.3, 0.41, 0.58, 0.66, 0.75, 0.83, 0.9]),)]),
    Case("binary_zoo", binary_zoo,
         [(np.array([0.2, 0.45, 0.6, 0.9]), _u(73, 4, 0.5, 2.0))], wrt=(0, 1)),
    Case("broadcast_ops", broadcast_ops, [(_u(74, (3, 4)), _u(75, 4), _u(76, (3, 1)))],
         wrt=(0, 1, 2)),
    Case("scalar_array_mix", scalar_array_mix, [(1.3, _u(77, 5)), (-0.7, _u(78, (2, 3)))],
         wrt=(0, 1)),
    Case("for_over_rows", for_over_rows, [(_u(79, (4, 3)),)]),
    Case("enumerate_branch", enumerate_branch, [(_away(80, 8, 0.05),)]),
    Case("for_v_in_x", for_v_in_x, [(_u(81, 6),)]),
    Case("gradient_descent", gradient_descent, [(_u(82, 3), _u(83, (6, 3)), _u(84, 6))],
         wrt=(0, 1, 2)),
    Case("power_iteration", power_iteration,
         [(np.diag([3.0, 1.0, 0.5]) + 0.2 * _u(85, (3, 3)),)]),
    Case("matrix_power_loop", matrix_power_loop, [(_u(86, (3, 3)),)]),
    Case("constructors", constructors, [(_u(87, 5),)]),
    Case("eye_ones", eye_ones, [(_u(88, (3, 3)),)]),
    Case("attribute_ops", attribute_ops, [(_u(89, (3, 4)),)]),
    Case("column_dots", column_dots, [(_u(90, (3, 4)),)]),
    Case("early_return_loop", early_return_loop,
         [(np.array([0.5, 0.2, -0.4, 0.3]),), (np.array([0.5, 0.2, 0.4]),),
          (np.array([-0.6, 0.3]),)]),
    Case("whole_array_augassign", whole_array_augassign, [(_u(91, 6),)]),
    Case("dot_methods", dot_methods, [(_u(92, (3, 3)), _u(93, 3))], wrt=(0, 1)),
    Case("maxpool1d", maxpool1d, [(_distinct(94, 8),)]),
    Case("newton_sqrt_array", newton_sqrt_array, [(_u(95, 5, 0.5, 4.0),)]),
    Case("stop_gradient_mix", stop_gradient_mix, [(_u(96, 5),)]),
    Case("empty_like_fill", empty_like_fill, [(_u(97, 6),)]),
    Case("while_halving", while_halving, [(np.array([0.3, 2.9, 1.1, -0.4]),), (np.array([0.2, 0.1]),)]),
    Case("gram_loop_inplace", gram_loop_inplace, [(_u(120, 5),)]),
    Case("continue_skip", continue_skip, [(_away(121, 8, 0.05),)]),
    Case("tensor3_slice_write", tensor3_slice_write, [(_u(122, (2, 3, 4)),)]),
    Case("negative_index_write", negative_index_write, [(_u(123, 7),)]),
    Case("nested_break", nested_break,
         [(np.array([[0.1, -0.3, 0.9, 0.2], [0.7, 0.1, 0.2, 0.3], [0.2, 0.3, -0.4, 0.5]]),)]),
    Case("while_inplace_index", while_inplace_index,
         [(np.array([0.1, -0.2, 0.3, 0.8, 0.1]),), (np.array([0.9, 0.1]),)]),
    Case("chained_index_loop", chained_index_loop, [(_u(124, (3, 4)),)]),
    Case("chained_index_3d", chained_index_3d, [(_u(125, (2, 3, 4)),)]),
    Case("self_assign_reversed", self_assign_reversed, [(_u(126, 5), _u(127, 5))], wrt=(0, 1)),
    Case("float32_loop_rebind", float32_loop_rebind,
         [(_u(128, (3, 3), dtype=np.float32), _u(129, 3, dtype=np.float32))], wrt=(0, 1)),
    Case("array_of_scalars", array_of_scalars, [(1.5, -0.5), (0.3, 0.7)], wrt=(0, 1)),
    Case("array_literal_indexed", array_literal_indexed, [(0.7, _u(130, 3))], wrt=(0, 1)),
    Case("nested_array_literal", nested_array_literal, [(0.5, -0.3, 0.8, 0.2)],
         wrt=(0, 1, 2, 3)),
    Case("array_of_arrays", array_of_arrays, [(_u(131, 4), _u(132, 4))], wrt=(0, 1)),
    Case("list_arguments", list_arguments, [(0.6, _u(133, 3))], wrt=(0, 1)),
    Case("stack_functions", stack_functions, [(_u(134, 3), _u(135, 3), _u(136, (2, 3)))],
         wrt=(0, 1, 2)),
    Case("hstack_2d", hstack_2d, [(0.4, _u(137, (2, 2)), _u(138, (2, 3)))],
         wrt=(0, 1, 2)),
    Case("array_copies", array_copies, [(_u(149, 4), 0.7)], wrt=(0, 1)),
    Case("gather_repeated", gather_repeated, [(_u(139, 4), _u(140, 5))], wrt=(0, 1)),
    Case("gather_argument_index", gather_argument_index,
         [(_u(141, (5, 3)), np.array([4, 0, 4, 4, 2]), _u(142, 3))], wrt=(0, 2)),
    Case("gather_columns_and_mask", gather_columns_and_mask,
         [(_away(143, (2, 3), 0.1), _u(144, 3))], wrt=(0, 1)),
    Case("scatter_repeated", scatter_repeated, [(_u(145, 5), _u(146, 3))], wrt=(0, 1)),
    Case("gather_in_loop", gather_in_loop,
         [(_u(147, (4, 3)), np.array([1, 3, 1, 0, 1]), _u(148, (3, 3), -0.6, 0.6))],
         wrt=(0, 2)),
]

#: programs whose gradient is not the derivative of their value (they use stop_gradient), so
#: finite differences do not apply: checked against JAX and this closed form instead.
def _stop_gradient_mix_grad(x):
    return (x * x + 1.0,)


CLOSED_FORM = {"stop_gradient_mix": _stop_gradient_mix_grad}
# Programs JAX cannot run, with why (the oracle is then finite differences alone).
NOT_JAX = {
    "list_arguments": "jax.numpy reductions and dot take no Python lists",
    "gather_columns_and_mask": "JAX indexes with a boolean mask only when it is concrete",
}
NOT_FD = {"stop_gradient_mix"}

#: programs whose arguments are float32: srcgrad must compute in float32 and return float32
#: gradients; compared with the float64 oracles at float32 accuracy.
FLOAT32_CASES = {"float32_inplace", "float32_elementwise", "float32_matvec", "float32_loop_rebind"}


# ============================================================ vector-valued programs for vjp

def vjp_square(x):
    return x * x


def vjp_rnn_states(W, x):
    h = np.zeros(W.shape[0])
    out = np.zeros((x.shape[0], W.shape[0]))
    for t in range(x.shape[0]):
        h = np.tanh(W @ h + x[t])
        out[t, :] = h
    return out


def vjp_cumprod_loop(x):
    y = x.copy()
    for i in range(1, len(y)):
        y[i] = y[i - 1] * y[i]
    return y


def vjp_matmul(A, B):
    return np.sin(A) @ B


def vjp_softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def vjp_control_flow(a):
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    c = b if b.sum() > 0 else 100 * b
    return c


#: (Case, cotangents) -- one cotangent per point, of the output's shape
VJP_CASES = [
    (Case("vjp_square", vjp_square, [(_u(101, 5),)]), [_u(102, 5)]),
    (Case("vjp_rnn_states", vjp_rnn_states, [(_u(103, (3, 3), -0.7, 0.7), _u(104, (4, 3)))],
          wrt=(0, 1)), [_u(105, (4, 3))]),
    (Case("vjp_cumprod_loop", vjp_cumprod_loop, [(_u(106, 6, 0.5, 1.5),)]), [_u(107, 6)]),
    (Case("vjp_matmul", vjp_matmul, [(_u(108, (2, 3)), _u(109, (3, 4)))], wrt=(0, 1)),
     [_u(110, (2, 4))]),
    (Case("vjp_softmax", vjp_softmax, [(_u(111, 5, -2.0, 2.0),)]), [_u(112, 5)]),
    (Case("vjp_control_flow", vjp_control_flow, [(_u(113, 4),), (-_u(114, 3, 0.1, 1.0),)]),
     [_u(115, 4), _u(116, 3)]),
]
