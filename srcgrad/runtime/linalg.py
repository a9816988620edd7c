"""np.linalg in compiled code: the parts of functions that return tuples, the products
Numba lacks, and the helpers of their derivative rules.

Parts
    ``np.linalg.slogdet``, ``eigh``, ``eig``, ``qr``, ``svd`` and ``lstsq`` return tuples; srcgrad
    differentiates each part on its own, so the normalizer writes a call to one as the
    tuple of its parts (``compiler.normalize.TUPLE_PARTS``): ``w, v = np.linalg.eigh(a)``
    becomes ``w, v = eigh_values(a), eigh_vectors(a)``, each with a rule.

Products
    ``einsum1``/``einsum2``: ``np.einsum`` with a constant subscript string and one or two
    operands (the normalizer splits a longer einsum into a chain of two-operand ones), and
    ``np.tensordot`` and ``np.inner``, which it writes as ``einsum2`` with the subscripts
    ``"tensordot:<axes>"`` and ``"inner"`` (``einsum_subscripts`` reads all three). The
    compiled version is generated per subscript string and operand ranks: a batched
    ``np.dot`` (BLAS) when the subscripts are a batched matrix product, else a loop nest.
    ``vdot``: ``np.vdot`` of arrays of any shape (Numba's takes vectors only).

Norms
    The normalizer writes ``np.linalg.norm`` as the operations NumPy computes it with, but
    with ``x * abs_slope(x)`` for ``abs(x)`` and ``amax``/``amin`` (``amax_axis``,
    ``amin_axis``) for max and min: the same values and first derivatives (JAX's: slope 1
    at 0, ties split equally), with tangents that have rules again, so that norms have
    second derivatives (``np.abs``'s and ``np.max``'s tangent helpers have none).

Helpers of the rules
    The functions that tangent templates call have rules of their own, so that a tangent
    can be differentiated again (second derivatives): ``cofactor``, ``gaps``, ``lower``,
    ``skew``, ``as_matrix``, ``vector``, ``matrix``, ``keepdims_like``, ``keep_if`` and
    the checks ``qr_checked``, ``unique_u``, ``unique_vt``; or they are piecewise
    constant (``abs_slope``, ``tie_weights``, ``nonzero``: the non-differentiable list).
    The adjoint helpers (``*_grad``) are never differentiated.

Each function is plain NumPy (what runs with ``jit=False``) with a Numba implementation
for compiled code; most share one body (``register_jitable``). Matrices are 2-D: Numba's
np.linalg takes no stacks of them. Conventions follow JAX (jax.numpy.linalg): eigh and
cholesky differentiate the symmetrized input (their adjoints are symmetric), and the
factors of repeated eigenvalues or singular values are infinite, as there.
"""

from __future__ import annotations

import functools
import string

import numpy as np
from numba import types
from numba.core.errors import TypingError
from numba.extending import overload, register_jitable
from numba.np.numpy_support import as_dtype

from .arrays import max_grad, unbroadcast
from .np_ops import max_axis, min_axis

__all__ = [
    "slogdet_sign", "slogdet_logabsdet", "eigh_values", "eigh_vectors", "eig_values",
    "eig_vectors", "qr_q", "qr_r",
    "svd_u", "svd_s", "svd_vt", "lstsq_solution", "lstsq_residuals", "lstsq_rank",
    "lstsq_singular_values",
    "einsum1", "einsum2", "einsum_subscripts", "einsum_chain", "vdot",
    "cofactor", "gaps", "lower", "skew", "as_matrix", "vector", "matrix", "keepdims_like",
    "keep_if", "nonzero", "qr_checked", "unique_u", "unique_vt", "abs_slope", "amax", "amin",
    "amax_axis", "amin_axis", "tie_weights", "tie_weights_axis",
    "solve_grad_a", "cholesky_grad", "eigh_values_grad", "eigh_vectors_grad", "qr_q_grad",
    "qr_r_grad", "svd_u_grad", "svd_s_grad", "svd_vt_grad", "pinv_grad", "lstsq_grad_a",
    "einsum_grad1", "einsum_grad2", "vdot_grad", "kron_grad_a", "kron_grad_b",
    "cross_grad_a", "cross_grad_b",
]

_QR_WIDE = ("srcgrad: the derivative of np.linalg.qr is implemented for square and tall "
            "matrices (rows >= columns) only")
_SVD_U = ("srcgrad: U of np.linalg.svd(a) with full_matrices=True has no derivative for a "
          "matrix with more rows than columns (its extra columns are not unique): pass "
          "full_matrices=False")
_SVD_VT = ("srcgrad: Vt of np.linalg.svd(a) with full_matrices=True has no derivative for a "
           "matrix with more columns than rows (its extra rows are not unique): pass "
           "full_matrices=False")


def _need_ndim(t, ndims, func):
    """TypingError unless Numba type `t` is a float array of one of `ndims` dimensions."""
    if not (isinstance(t, types.Array) and t.ndim in ndims
            and isinstance(t.dtype, types.Float)):
        raise TypingError(f"srcgrad.runtime.linalg.{func}: needs a float array of "
                          f"{' or '.join(map(str, ndims))} dimensions, got {t}")


# ----------------------------------------------------------------- parts of tuples

def slogdet_sign(a):
    """The sign of det(a) (np.linalg.slogdet(a)[0])."""
    return np.linalg.slogdet(a)[0]


def slogdet_logabsdet(a):
    """log|det(a)| (np.linalg.slogdet(a)[1])."""
    return np.linalg.slogdet(a)[1]


@overload(slogdet_sign)
def _ov_slogdet_sign(a):
    return lambda a: np.linalg.slogdet(a)[0]


@overload(slogdet_logabsdet)
def _ov_slogdet_logabsdet(a):
    return lambda a: np.linalg.slogdet(a)[1]


@register_jitable
def eigh_values(a):
    """The eigenvalues of symmetric a, ascending (np.linalg.eigh(a)[0])."""
    return np.linalg.eigh(a)[0]


@register_jitable
def eigh_vectors(a):
    """The eigenvectors of symmetric a, as columns (np.linalg.eigh(a)[1])."""
    return np.linalg.eigh(a)[1]


def eig_values(a):
    """The eigenvalues of a (np.linalg.eig(a)[0]): complex in NumPy; Numba returns real
    ones, and raises where they are not. srcgrad refuses to differentiate them."""
    return np.linalg.eig(a)[0]


def eig_vectors(a):
    """The eigenvectors of a (np.linalg.eig(a)[1]), as eig_values."""
    return np.linalg.eig(a)[1]


@overload(eig_values)
def _ov_eig_values(a):
    return lambda a: np.linalg.eig(a)[0]


@overload(eig_vectors)
def _ov_eig_vectors(a):
    return lambda a: np.linalg.eig(a)[1]


@register_jitable
def qr_q(a):
    """Q of the reduced QR decomposition (np.linalg.qr(a)[0])."""
    return np.linalg.qr(a)[0]


@register_jitable
def qr_r(a):
    """R of the reduced QR decomposition (np.linalg.qr(a)[1])."""
    return np.linalg.qr(a)[1]


@register_jitable
def svd_u(a, full_matrices=True):
    """U of np.linalg.svd(a, full_matrices)."""
    return np.linalg.svd(a, full_matrices)[0]


@register_jitable
def svd_s(a, full_matrices=True):
    """The singular values, descending (np.linalg.svd(a, full_matrices)[1])."""
    return np.linalg.svd(a, full_matrices)[1]


@register_jitable
def svd_vt(a, full_matrices=True):
    """Vt of np.linalg.svd(a, full_matrices)."""
    return np.linalg.svd(a, full_matrices)[2]


def lstsq_solution(a, b, rcond=None):
    """The least-squares solution (np.linalg.lstsq(a, b, rcond)[0])."""
    return np.linalg.lstsq(a, b, rcond=rcond)[0]


def lstsq_residuals(a, b, rcond=None):
    """The sums of squared residuals (np.linalg.lstsq(a, b, rcond)[1])."""
    return np.linalg.lstsq(a, b, rcond=rcond)[1]


def lstsq_rank(a, b, rcond=None):
    """The rank of a (np.linalg.lstsq(a, b, rcond)[2])."""
    return np.linalg.lstsq(a, b, rcond=rcond)[2]


def lstsq_singular_values(a, b, rcond=None):
    """The singular values of a (np.linalg.lstsq(a, b, rcond)[3])."""
    return np.linalg.lstsq(a, b, rcond=rcond)[3]


def _lstsq_overload(part):
    """Numba's np.linalg.lstsq, part `part`; rcond None is Numba's default (-1: machine
    precision; NumPy's default, used uncompiled, is eps * max(a.shape))."""
    def ov(a, b, rcond=None):
        if rcond is None or isinstance(rcond, (types.NoneType, types.Omitted)):
            return lambda a, b, rcond=None: np.linalg.lstsq(a, b)[part]
        return lambda a, b, rcond=None: np.linalg.lstsq(a, b, rcond)[part]
    return ov


for _k, _f in enumerate((lstsq_solution, lstsq_residuals, lstsq_rank, lstsq_singular_values)):
    overload(_f)(_lstsq_overload(_k))


# ----------------------------------------------------------------- einsum

_LETTERS = string.ascii_letters


def _split(subscripts: str) -> tuple[list[str], str | None]:
    s = subscripts.replace(" ", "")
    if "." in s:
        raise ValueError("srcgrad: einsum with an ellipsis ('...') is not supported: name "
                         "every axis")
    ins, arrow, out = s.partition("->")
    specs = ins.split(",")
    for spec in specs + [out]:
        if any(ch not in _LETTERS for ch in spec):
            raise ValueError(f"srcgrad: einsum subscripts {subscripts!r}: only letters, "
                             "',' and '->'")
    return specs, (out if arrow else None)


def einsum_chain(subscripts: str) -> tuple[list[str], str]:
    """(input subscripts, output subscripts) of an explicit np.einsum subscript string, the
    output made explicit (the letters used once, sorted, as NumPy's implicit mode); for the
    normalizer, which splits an einsum of several operands into two-operand ones."""
    specs, out = _split(subscripts)
    if out is None:
        letters = "".join(specs)
        out = "".join(sorted(ch for ch in set(letters) if letters.count(ch) == 1))
    if len(set(out)) != len(out) or any(ch not in "".join(specs) for ch in out):
        raise ValueError(f"srcgrad: einsum subscripts {subscripts!r}: each output letter "
                         "must appear once in the output and in some input")
    return specs, out


def _tensordot_subscripts(axes: str, na: int, nb: int) -> tuple[list[str], str]:
    if ";" not in axes:
        n = int(axes)
        if not 0 <= n <= min(na, nb):
            raise ValueError(f"srcgrad: np.tensordot: axes={n} for arrays of {na} and {nb} "
                             "dimensions")
        pairs = [(na - n + k, k) for k in range(n)]
    else:
        left, right = axes.split(";")
        la = [int(v) for v in left.split(",") if v]
        lb = [int(v) for v in right.split(",") if v]
        if len(la) != len(lb) or any(not -nd <= v < nd for vs, nd in ((la, na), (lb, nb))
                                      for v in vs):
            raise ValueError("srcgrad: np.tensordot: the axes do not fit the arrays")
        pairs = [(u % na, v % nb) for u, v in zip(la, lb)]
        if len({u for u, _ in pairs}) != len(pairs) or len({v for _, v in pairs}) != len(pairs):
            raise ValueError("srcgrad: np.tensordot: an axis is summed twice")
    letters = iter(_LETTERS)
    a = [""] * na
    b = [""] * nb
    for u, v in pairs:
        a[u] = b[v] = next(letters)
    a = [ch or next(letters) for ch in a]
    b = [ch or next(letters) for ch in b]
    summed = {a[u] for u, _ in pairs}
    out = [ch for ch in a if ch not in summed] + [ch for ch in b if ch not in summed]
    return ["".join(a), "".join(b)], "".join(out)


def einsum_subscripts(subscripts: str, ndims: tuple[int, ...]) -> tuple[list[str], str]:
    """(input subscripts, output subscripts) of einsum1/einsum2 for operands of these
    ranks: np.einsum's subscripts, or "inner" (np.inner) or "tensordot:<axes>"
    (np.tensordot; axes "n" or "a0,a1;b0,b1"). ValueError if they do not fit."""
    if subscripts == "inner":
        na, nb = ndims
        if na == 0 or nb == 0:
            return ["", _LETTERS[:nb]] if na == 0 else [_LETTERS[:na], ""], _LETTERS[:na + nb]
        fa, fb = _LETTERS[:na - 1], _LETTERS[na - 1:na + nb - 2]
        last = _LETTERS[na + nb - 2]
        return [fa + last, fb + last], fa + fb
    if subscripts.startswith("tensordot:"):
        return _tensordot_subscripts(subscripts[len("tensordot:"):], *ndims)
    specs, out = einsum_chain(subscripts)
    if len(specs) != len(ndims):
        raise ValueError(f"srcgrad: einsum subscripts {subscripts!r} name {len(specs)} "
                         f"operands, not {len(ndims)}")
    for spec, nd in zip(specs, ndims):
        if len(spec) != nd:
            raise ValueError(f"srcgrad: einsum subscripts {subscripts!r}: {spec!r} does not "
                             f"fit an operand of {nd} dimensions")
    return specs, out


def _index(name: str, spec: str) -> str:
    return f"{name}[{', '.join('i_' + ch for ch in spec)}]" if spec else name


def _flat(letters: list[str]) -> str:
    expr = "0"
    for ch in letters:
        expr = f"i_{ch}" if expr == "0" else f"({expr} * n_{ch} + i_{ch})"
    return expr


def _count(letters: list[str]) -> str:
    return " * ".join(f"n_{ch}" for ch in letters) or "1"


def _loops(lines: list[str], letters, depth: int) -> int:
    for ch in letters:
        lines.append("    " * depth + f"for i_{ch} in range(n_{ch}):")
        depth += 1
    return depth


def _batched_dot(factors, out) -> bool:
    """Whether two factors and the output are a batched matrix product: no letter twice in
    one of them, and every letter in two of the three."""
    if len(factors) != 2:
        return False
    (_, a), (_, b) = factors
    if any(len(set(s)) != len(s) for s in (a, b, out)):
        return False
    return all((ch in a) + (ch in b) + (ch in out) == 2 for ch in set(a + b + out))


def _gather(lines, target, name, spec, groups) -> None:
    depth = _loops(lines, spec, 1)
    flat = ", ".join(_flat(g) for g in groups)
    lines.append("    " * depth + f"{target}[{flat}] = {_index(name, spec)}")


@functools.cache
def _contraction(params: tuple, factors: tuple, sizes: tuple, out: str, dtype: str):
    """A function of `params` returning the sum, over the letters not in `out`, of the
    product of `factors` ((parameter, subscripts) pairs), as an array with subscripts
    `out` (a scalar for ''). Sizes are read from `sizes` (pairs too), and checked; a letter
    twice in `out` writes a diagonal (the rest is 0), a letter of `out` in no factor
    broadcasts. Plain Python that Numba compiles: the same function serves both."""
    lines = [f"def contraction({', '.join(params)}):"]
    known: set[str] = set()
    for name, spec in sizes:
        for d, ch in enumerate(spec):
            if ch in known:
                lines.append(f"    if {name}.shape[{d}] != n_{ch}:")
                lines.append(f"        raise ValueError('srcgrad: einsum: the operands disagree "
                             f"on the length of axis {ch}')")
            else:
                lines.append(f"    n_{ch} = {name}.shape[{d}]")
                known.add(ch)
    shape = "(" + "".join(f"n_{ch}, " for ch in out) + ")"
    if _batched_dot(factors, out):
        (an, a), (bn, b) = factors
        batch = [ch for ch in out if ch in a and ch in b]
        free_a = [ch for ch in out if ch in a and ch not in b]
        free_b = [ch for ch in out if ch in b and ch not in a]
        summed = [ch for ch in a if ch not in out]
        lines.append(f"    a3 = np.empty(({_count(batch)}, {_count(free_a)}, {_count(summed)}), dt)")
        _gather(lines, "a3", an, a, (batch, free_a, summed))
        lines.append(f"    b3 = np.empty(({_count(batch)}, {_count(summed)}, {_count(free_b)}), dt)")
        _gather(lines, "b3", bn, b, (batch, summed, free_b))
        lines.append(f"    c3 = np.empty(({_count(batch)}, {_count(free_a)}, {_count(free_b)}), dt)")
        lines.append("    for t in range(c3.shape[0]):")
        lines.append("        c3[t] = np.dot(a3[t], b3[t])")
        if not out:
            lines.append("    return c3[0, 0, 0]")
        else:
            lines.append(f"    out = np.empty({shape}, dt)")
            depth = _loops(lines, out, 1)
            lines.append("    " * depth + f"out[{', '.join('i_' + ch for ch in out)}] = "
                         f"c3[{_flat(batch)}, {_flat(free_a)}, {_flat(free_b)}]")
            lines.append("    return out")
    else:
        outer = list(dict.fromkeys(out))
        summed = [ch for ch in dict.fromkeys("".join(s for _, s in factors)) if ch not in out]
        if out:
            lines.append(f"    out = np.zeros({shape}, dt)")
        depth = _loops(lines, outer, 1)
        lines.append("    " * depth + "acc = dt(0)")
        inner = _loops(lines, summed, depth)
        product = " * ".join(_index(name, spec) for name, spec in factors)
        lines.append("    " * inner + f"acc += {product}")
        if out:
            lines.append("    " * depth + f"out[{', '.join('i_' + ch for ch in out)}] = acc")
            lines.append("    return out")
        else:
            lines.append("    return acc")
    namespace = {"np": np, "dt": getattr(np, dtype)}
    exec(compile("\n".join(lines), f"<srcgrad einsum {factors} -> {out!r}>", "exec"), namespace)
    return namespace["contraction"]


def _ndim_of(t) -> int:
    return t.ndim if isinstance(t, types.Array) else 0


def _dtype_of(t):
    if isinstance(t, types.Array):
        t = t.dtype
    if not isinstance(t, (types.Float, types.Integer)):
        raise TypingError(f"srcgrad.runtime.linalg.einsum: operands must be real numbers or "
                          f"arrays of them, got {t}")
    return as_dtype(t)


def _result_dtype(*dtypes) -> str:
    dt = np.result_type(*dtypes)
    return dt.name if dt.kind == "f" else "float64"


def _literal(subscripts, func) -> str:
    if not isinstance(subscripts, types.StringLiteral):
        raise TypingError(f"srcgrad.runtime.linalg.{func}: the subscripts must be a constant "
                          f"string, got {subscripts}")
    return subscripts.literal_value


def _typed_subscripts(subscripts, operands, func):
    """The subscripts for Numba types of the operands; TypingError if they do not fit."""
    try:
        return einsum_subscripts(_literal(subscripts, func),
                                 tuple(_ndim_of(t) for t in operands))
    except ValueError as exc:
        raise TypingError(str(exc)) from None


def einsum1(subscripts, a):
    """np.einsum(subscripts, a)."""
    (sa,), out = einsum_subscripts(subscripts, (np.ndim(a),))
    return np.einsum(f"{sa}->{out}", a)


def einsum2(subscripts, a, b):
    """np.einsum(subscripts, a, b); also np.inner ("inner") and np.tensordot
    ("tensordot:<axes>")."""
    (sa, sb), out = einsum_subscripts(subscripts, (np.ndim(a), np.ndim(b)))
    return np.einsum(f"{sa},{sb}->{out}", a, b)


@overload(einsum1, prefer_literal=True)
def _ov_einsum1(subscripts, a):
    if not isinstance(subscripts, types.StringLiteral):
        return None  # Numba tries the literal first: its error is the one to show
    (sa,), out = _typed_subscripts(subscripts, (a,), "einsum1")
    dt = _result_dtype(_dtype_of(a))
    return _contraction(("subscripts", "a"), (("a", sa),), (("a", sa),), out, dt)


@overload(einsum2, prefer_literal=True)
def _ov_einsum2(subscripts, a, b):
    if not isinstance(subscripts, types.StringLiteral):
        return None  # Numba tries the literal first: its error is the one to show
    (sa, sb), out = _typed_subscripts(subscripts, (a, b), "einsum2")
    dt = _result_dtype(_dtype_of(a), _dtype_of(b))
    pairs = (("a", sa), ("b", sb))
    return _contraction(("subscripts", "a", "b"), pairs, pairs, out, dt)


def _grad_contraction(specs, out, k, dtypes, params):
    """The adjoint of operand k of an einsum: g (subscripts `out`) times the other
    operands, summed to operand k's subscripts."""
    names = params[3:]
    factors = (("g", out),) + tuple((n, s) for i, (n, s) in enumerate(zip(names, specs))
                                     if i != k)
    sizes = tuple(zip(names, specs)) + (("g", out),)
    return _contraction(params, factors, sizes, specs[k], _result_dtype(dtypes[k]))


def einsum_grad1(subscripts, k, g, a):
    """The adjoint of a in einsum1(subscripts, a), for adjoint g of its result."""
    specs, out = einsum_subscripts(subscripts, (np.ndim(a),))
    f = _grad_contraction(specs, out, k, (np.result_type(a),),
                          ("subscripts", "k", "g", "a"))
    return f(subscripts, k, g, a)


def einsum_grad2(subscripts, k, g, a, b):
    """The adjoint of operand k (0: a, 1: b) of einsum2(subscripts, a, b)."""
    specs, out = einsum_subscripts(subscripts, (np.ndim(a), np.ndim(b)))
    f = _grad_contraction(specs, out, k, (np.result_type(a), np.result_type(b)),
                          ("subscripts", "k", "g", "a", "b"))
    return f(subscripts, k, g, a, b)


def _literal_int(k, func) -> int:
    if not isinstance(k, types.IntegerLiteral):
        raise TypingError(f"srcgrad.runtime.linalg.{func}: k must be a constant int")
    return k.literal_value


@overload(einsum_grad1, prefer_literal=True)
def _ov_einsum_grad1(subscripts, k, g, a):
    if not isinstance(subscripts, types.StringLiteral):
        return None  # Numba tries the literal first: its error is the one to show
    specs, out = _typed_subscripts(subscripts, (a,), "einsum_grad1")
    return _grad_contraction(specs, out, _literal_int(k, "einsum_grad1"), (_dtype_of(a),),
                             ("subscripts", "k", "g", "a"))


@overload(einsum_grad2, prefer_literal=True)
def _ov_einsum_grad2(subscripts, k, g, a, b):
    if not isinstance(subscripts, types.StringLiteral):
        return None  # Numba tries the literal first: its error is the one to show
    specs, out = _typed_subscripts(subscripts, (a, b), "einsum_grad2")
    return _grad_contraction(specs, out, _literal_int(k, "einsum_grad2"),
                             (_dtype_of(a), _dtype_of(b)), ("subscripts", "k", "g", "a", "b"))


def vdot(a, b):
    """np.vdot of real arrays: the dot product of the flattened arrays (of one size)."""
    return np.vdot(a, b)


@overload(vdot)
def _ov_vdot(a, b):
    _need_ndim(a, range(1, 33), "vdot")
    _need_ndim(b, range(1, 33), "vdot")
    dt = getattr(np, _result_dtype(as_dtype(a.dtype), as_dtype(b.dtype)))

    def impl(a, b):
        if a.size != b.size:
            raise ValueError("srcgrad: vdot: the arrays differ in size")
        return np.dot(np.ascontiguousarray(a).ravel().astype(dt),
                      np.ascontiguousarray(b).ravel().astype(dt))
    return impl


# ----------------------------------------------------------------- helpers with rules

def cofactor(a):
    """det(a) * inv(a).T, the gradient of det, from the SVD a = U S Vt as
    det(U) det(Vt) U adj(S) Vt (adj(S)_ii: the product of the other singular values), so
    that it is exact where a is singular too."""
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError("srcgrad: cofactor needs a square matrix")
    return _cofactor(a)


@register_jitable
def _cofactor(a):
    u, s, vt = np.linalg.svd(a)
    others = np.empty_like(s)
    p = 1.0
    for i in range(s.shape[0]):
        others[i] = p
        p *= s[i]
    p = 1.0
    for i in range(s.shape[0] - 1, -1, -1):
        others[i] *= p
        p *= s[i]
    sign = np.linalg.det(u) * np.linalg.det(vt)
    return (u * (others * sign)) @ vt


@overload(cofactor)
def _ov_cofactor(a):
    _need_ndim(a, (2,), "cofactor")

    def impl(a):
        if a.shape[0] != a.shape[1]:
            raise ValueError("srcgrad: cofactor needs a square matrix")
        return _cofactor(a)
    return impl


def gaps(w):
    """F[i, j] = 1 / (w[j] - w[i]) off the diagonal and 0 on it (JAX's
    1 / (w[j] - w[i] + I) - I): the factor of eigenvector and singular vector derivatives,
    infinite where two values are equal."""
    n = w.shape[0]
    eye = np.eye(n, dtype=w.dtype)
    with np.errstate(divide="ignore"):
        return 1.0 / (w[None, :] - w[:, None] + eye) - eye


@overload(gaps)
def _ov_gaps(w):
    _need_ndim(w, (1,), "gaps")

    def impl(w):
        n = w.shape[0]
        f = np.zeros((n, n), w.dtype)
        for i in range(n):
            for j in range(n):
                if i != j:
                    d = w[j] - w[i]
                    f[i, j] = 1.0 / d if d != 0 else np.inf
        return f
    return impl


def lower(x, diag):
    """The strictly lower triangle of matrix x plus `diag` times its diagonal (diag 0.5:
    the Phi of Cholesky derivatives)."""
    return np.tril(x, -1) + diag * np.diag(np.diag(x))


@overload(lower)
def _ov_lower(x, diag):
    _need_ndim(x, (2,), "lower")

    def impl(x, diag):
        out = np.zeros(x.shape, x.dtype)
        for i in range(x.shape[0]):
            for j in range(min(i, x.shape[1])):
                out[i, j] = x[i, j]
            if i < x.shape[1]:
                out[i, i] = diag * x[i, i]
        return out
    return impl


def skew(x):
    """lower(x, 0) - lower(x, 0).T: the skew-symmetric matrix with x's strictly lower
    triangle (the rotation in QR derivatives)."""
    low = np.tril(x, -1)
    return low - low.T


@overload(skew)
def _ov_skew(x):
    _need_ndim(x, (2,), "skew")

    def impl(x):
        n = x.shape[0]
        out = np.zeros((n, n), x.dtype)
        for i in range(n):
            for j in range(i):
                out[i, j] = x[i, j]
                out[j, i] = -x[i, j]
        return out
    return impl


def as_matrix(x):
    """x as a matrix: itself if 2-D, a column if 1-D (norms type both branches of a
    vector-or-matrix test with it)."""
    if x.ndim == 2:
        return x
    if x.ndim == 1:
        return x.reshape(x.shape[0], 1)
    raise ValueError("srcgrad: as_matrix needs a 1-D or 2-D array")


@overload(as_matrix)
def _ov_as_matrix(x):
    _need_ndim(x, (1, 2), "as_matrix")
    if x.ndim == 2:
        return lambda x: x
    return lambda x: np.ascontiguousarray(x).reshape((x.shape[0], 1))


def vector(x):
    """x, which must be a vector (a norm order defined for vectors only)."""
    if np.ndim(x) != 1:
        raise ValueError("srcgrad: np.linalg.norm: this ord is for vectors (1-D)")
    return x


@overload(vector)
def _ov_vector(x):
    if not (isinstance(x, types.Array) and x.ndim == 1):
        raise TypingError(f"np.linalg.norm: this ord is for vectors (1-D arrays), got {x}")
    return lambda x: x


def matrix(x):
    """x, which must be a matrix (a norm order defined for matrices only)."""
    if np.ndim(x) != 2:
        raise ValueError("srcgrad: np.linalg.norm: this ord is for matrices (2-D)")
    return x


@overload(matrix)
def _ov_matrix(x):
    if not (isinstance(x, types.Array) and x.ndim == 2):
        raise TypingError(f"np.linalg.norm: this ord is for matrices (2-D arrays), got {x}")
    return lambda x: x


def keepdims_like(r, x):
    """The float r as an array of x's number of dimensions, each of length 1 (a norm of
    all of x with keepdims=True)."""
    return np.full((1,) * np.ndim(x), r)


@overload(keepdims_like)
def _ov_keepdims_like(r, x):
    shape = (1,) * x.ndim
    return lambda r, x: np.full(shape, r)


def keep_if(cond, t):
    """t if cond else zeros of its shape (a term of a derivative that applies to some
    shapes only)."""
    return np.ascontiguousarray(t) if cond else np.zeros_like(t)


@overload(keep_if)
def _ov_keep_if(cond, t):
    def impl(cond, t):
        if cond:
            return np.ascontiguousarray(t)
        return np.zeros(t.shape, t.dtype)
    return impl


def nonzero(x):
    """1.0 where x is not 0, else 0.0 (np.linalg.norm(x, 0) sums it)."""
    return (np.asarray(x) != 0).astype(np.result_type(x, np.float32))


@overload(nonzero)
def _ov_nonzero(x):
    _need_ndim(x, range(1, 33), "nonzero")

    def impl(x):
        out = np.empty(x.shape, x.dtype)
        for k in np.ndindex(x.shape):
            out[k] = 1.0 if x[k] != 0 else 0.0
        return out
    return impl


def abs_slope(x):
    """1.0 where x >= 0, else -1.0 (the slope of abs, 1 at 0 as JAX; x * abs_slope(x) is
    abs(x))."""
    return np.where(np.asarray(x) >= 0, 1.0, -1.0).astype(np.result_type(x, np.float32))


@overload(abs_slope)
def _ov_abs_slope(x):
    _need_ndim(x, range(1, 33), "abs_slope")

    def impl(x):
        out = np.empty(x.shape, x.dtype)
        for k in np.ndindex(x.shape):
            out[k] = 1.0 if x[k] >= 0 else -1.0
        return out
    return impl


def tie_weights(x, ans):
    """Where x equals its maximum (or minimum) `ans`, 1 / the count of such entries; 0
    elsewhere (NaN everywhere if x holds NaN): the gradient of amax and amin."""
    return max_grad(1.0, x, ans, None, False)


@overload(tie_weights)
def _ov_tie_weights(x, ans):
    return lambda x, ans: max_grad(1.0, x, ans, None, False)


def tie_weights_axis(x, ans, axis, keepdims):
    """tie_weights per lane along `axis` (ans: the reduction along it)."""
    return max_grad(np.ones_like(ans), x, ans, axis, keepdims)


@overload(tie_weights_axis)
def _ov_tie_weights_axis(x, ans, axis, keepdims):
    return lambda x, ans, axis, keepdims: max_grad(np.ones_like(ans), x, ans, axis, keepdims)


@register_jitable
def amax(x):
    """np.max(x)."""
    return np.max(x)


@register_jitable
def amin(x):
    """np.min(x)."""
    return np.min(x)


@register_jitable
def amax_axis(x, axis, keepdims):
    """np.max(x, axis, keepdims=keepdims)."""
    return max_axis(x, axis, keepdims)


@register_jitable
def amin_axis(x, axis, keepdims):
    """np.min(x, axis, keepdims=keepdims)."""
    return min_axis(x, axis, keepdims)


@register_jitable
def qr_checked(q, x):
    """q; ValueError if matrix x is wide (the QR derivatives need rows >= columns)."""
    if x.shape[0] < x.shape[1]:
        raise ValueError(_QR_WIDE)
    return q


@register_jitable
def unique_u(u, x, full_matrices):
    """u; ValueError where U of svd(x, full_matrices) has columns that are not unique."""
    if full_matrices and x.shape[0] > x.shape[1]:
        raise ValueError(_SVD_U)
    return u


@register_jitable
def unique_vt(vt, x, full_matrices):
    """vt; ValueError where Vt of svd(x, full_matrices) has rows that are not unique."""
    if full_matrices and x.shape[1] > x.shape[0]:
        raise ValueError(_SVD_VT)
    return vt


# ----------------------------------------------------------------- adjoint helpers

def solve_grad_a(g, a, ans):
    """The adjoint of a in ans = solve(a, b): -solve(a.T, g) ans.T (an outer product for a
    vector b)."""
    gb = np.linalg.solve(a.T, g)
    return -np.outer(gb, ans) if np.ndim(ans) == 1 else -(gb @ ans.T)


@overload(solve_grad_a)
def _ov_solve_grad_a(g, a, ans):
    if ans.ndim == 1:
        return lambda g, a, ans: -np.outer(np.linalg.solve(a.T, g), ans)
    return lambda g, a, ans: -(np.linalg.solve(a.T, g) @ ans.T)


@register_jitable
def cholesky_grad(g, ans):
    """The adjoint of a in L = cholesky(a) (ans = L), symmetric:
    sym(L^-T Phi(L^T g) L^-1), Phi = lower(., 0.5)."""
    p = lower(ans.T @ g, 0.5)
    z = np.linalg.solve(ans.T, p)
    y = np.linalg.solve(ans.T, z.T).T
    return 0.5 * (y + y.T)


@register_jitable
def eigh_values_grad(g, x):
    """The adjoint of x in w = eigh(x)[0]: V diag(g) V.T."""
    v = np.linalg.eigh(x)[1]
    return (v * g) @ v.T


@register_jitable
def eigh_vectors_grad(g, x):
    """The adjoint of x in V = eigh(x)[1]: sym(V (F * (V.T g)) V.T), F = gaps(w)."""
    w, v = np.linalg.eigh(x)
    m = v @ (gaps(w) * (v.T @ g)) @ v.T
    return 0.5 * (m + m.T)


@register_jitable
def _qr_grad(gq, gr, q, r):
    b = q.T @ gq - gr @ r.T
    c = lower(b - b.T, 0.0) - b
    h = gq + q @ c
    return np.linalg.solve(r, h.T).T


@register_jitable
def qr_q_grad(g, x):
    """The adjoint of x in Q = qr(x)[0] (x square or tall)."""
    if x.shape[0] < x.shape[1]:
        raise ValueError(_QR_WIDE)
    q, r = np.linalg.qr(x)
    return _qr_grad(g, np.zeros(r.shape, r.dtype), q, r)


@register_jitable
def qr_r_grad(g, x):
    """The adjoint of x in R = qr(x)[1] (x square or tall)."""
    if x.shape[0] < x.shape[1]:
        raise ValueError(_QR_WIDE)
    q, r = np.linalg.qr(x)
    return _qr_grad(np.zeros(q.shape, q.dtype), g, q, r)


@register_jitable
def _svd_grad(gu, gs, gv, x):
    """The adjoint of x in the thin SVD x = U diag(s) V.T for adjoints gu, gs, gv of U, s,
    V (Townsend's formula; distinct nonzero singular values)."""
    u, s, vt = np.linalg.svd(x, False)
    v = vt.T
    f = gaps(s * s)
    j = f * (u.T @ gu)
    k = f * (v.T @ gv)
    core = np.diag(gs) + (j + j.T) * s + ((k + k.T).T * s).T
    out = u @ core @ vt
    if x.shape[0] > s.shape[0]:
        out += ((gu - u @ (u.T @ gu)) / s) @ vt
    if x.shape[1] > s.shape[0]:
        out += u @ ((gv - v @ (v.T @ gv)) / s).T
    return out


@register_jitable
def svd_u_grad(g, x, full_matrices):
    """The adjoint of x in U = svd(x, full_matrices)[0]."""
    if full_matrices and x.shape[0] > x.shape[1]:
        raise ValueError(_SVD_U)
    k = min(x.shape[0], x.shape[1])
    return _svd_grad(g, np.zeros(k, x.dtype), np.zeros((x.shape[1], k), x.dtype), x)


@register_jitable
def svd_s_grad(g, x, full_matrices):
    """The adjoint of x in s = svd(x, full_matrices)[1]: U diag(g) Vt (thin factors)."""
    u, s, vt = np.linalg.svd(x, False)
    return (u * g) @ vt


@register_jitable
def svd_vt_grad(g, x, full_matrices):
    """The adjoint of x in Vt = svd(x, full_matrices)[2]."""
    if full_matrices and x.shape[1] > x.shape[0]:
        raise ValueError(_SVD_VT)
    k = min(x.shape[0], x.shape[1])
    return _svd_grad(np.zeros((x.shape[0], k), x.dtype), np.zeros(k, x.dtype),
                     np.ascontiguousarray(g.T), x)


@register_jitable
def pinv_grad(g, x, p):
    """The adjoint of x in p = pinv(x) (constant rank): -p.T g p.T
    + (I - x p) g.T p p.T + p.T p g.T (I - p x)."""
    gt = np.ascontiguousarray(g.T)
    n1 = gt - x @ (p @ gt)
    n2 = gt - (gt @ p) @ x
    return -(p.T @ g @ p.T) + n1 @ (p @ p.T) + (p.T @ p) @ n2


def lstsq_grad_a(g, a, b):
    """The adjoint of a in the solution of lstsq(a, b), pinv(a) @ b."""
    gp = np.outer(g, b) if np.ndim(b) == 1 else g @ b.T
    return pinv_grad(gp, a, np.linalg.pinv(a))


@overload(lstsq_grad_a)
def _ov_lstsq_grad_a(g, a, b):
    if b.ndim == 1:
        return lambda g, a, b: pinv_grad(np.outer(g, b), a, np.linalg.pinv(a))
    return lambda g, a, b: pinv_grad(g @ b.T, a, np.linalg.pinv(a))


def vdot_grad(g, b, a):
    """The adjoint of a in vdot(a, b): g * b, in a's shape."""
    return (g * np.ravel(b)).reshape(np.shape(a)).astype(a.dtype)


@overload(vdot_grad)
def _ov_vdot_grad(g, b, a):
    dt = as_dtype(a.dtype).type
    return lambda g, b, a: (g * np.ascontiguousarray(b).ravel()).astype(dt).reshape(a.shape)


@register_jitable
def _kron_parts(g, a2, b2):
    p, q = a2.shape
    r, s = b2.shape
    g2 = np.ascontiguousarray(g).reshape((p * r, q * s))
    ga = np.zeros((p, q), np.float64)
    gb = np.zeros((r, s), np.float64)
    for i in range(p):
        for j in range(q):
            for k in range(r):
                for m in range(s):
                    v = g2[i * r + k, j * s + m]
                    ga[i, j] += v * b2[k, m]
                    gb[k, m] += v * a2[i, j]
    return ga, gb


def _as_2d(x):
    return x.reshape(1, -1) if x.ndim == 1 else x


def kron_grad_a(g, a, b):
    """The adjoint of a in np.kron(a, b) (vectors and matrices)."""
    return _kron_parts(g, _as_2d(a), _as_2d(b))[0].reshape(a.shape).astype(a.dtype)


def kron_grad_b(g, a, b):
    """The adjoint of b in np.kron(a, b)."""
    return _kron_parts(g, _as_2d(a), _as_2d(b))[1].reshape(b.shape).astype(b.dtype)


def _kron_ov(which):
    def ov(g, a, b):
        _need_ndim(a, (1, 2), "kron_grad")
        _need_ndim(b, (1, 2), "kron_grad")
        pa = a.ndim == 1
        pb = b.ndim == 1
        x = a if which == 0 else b
        dt = as_dtype(x.dtype).type

        def impl_a(g, a, b):
            a2 = np.ascontiguousarray(a).reshape((1, a.size)) if pa else np.ascontiguousarray(a)
            b2 = np.ascontiguousarray(b).reshape((1, b.size)) if pb else np.ascontiguousarray(b)
            return _kron_parts(g, a2, b2)[0].astype(dt).reshape(a.shape)

        def impl_b(g, a, b):
            a2 = np.ascontiguousarray(a).reshape((1, a.size)) if pa else np.ascontiguousarray(a)
            b2 = np.ascontiguousarray(b).reshape((1, b.size)) if pb else np.ascontiguousarray(b)
            return _kron_parts(g, a2, b2)[1].astype(dt).reshape(b.shape)
        # (the shape is the argument's at run time: `x` above is its type)
        return impl_a if which == 0 else impl_b
    return ov


overload(kron_grad_a)(_kron_ov(0))
overload(kron_grad_b)(_kron_ov(1))


def _cross_g(g, a, b):
    """g as 3-vectors: the cross product of two 2-vectors is its z component only (a
    scalar per pair; deprecated by NumPy 2 but computed), whose adjoint is g along z."""
    g = np.asarray(g)
    if g.ndim < max(np.ndim(a), np.ndim(b)):
        z = np.zeros(g.shape + (3,), np.result_type(g, np.float64))
        z[..., 2] = g
        return z
    return g


def cross_grad_a(g, a, b):
    """The adjoint of a in np.cross(a, b): cross(b, g), summed over broadcast dimensions
    (and the third component dropped for a 2-vector a)."""
    return unbroadcast(np.cross(b, _cross_g(g, a, b))[..., :np.shape(a)[-1]], a)


def cross_grad_b(g, a, b):
    """The adjoint of b in np.cross(a, b): cross(g, a), summed as cross_grad_a."""
    return unbroadcast(np.cross(_cross_g(g, a, b), a)[..., :np.shape(b)[-1]], b)


@overload(cross_grad_a)
def _ov_cross_grad_a(g, a, b):
    return lambda g, a, b: unbroadcast(np.cross(b, g)[..., :a.shape[-1]], a)


@overload(cross_grad_b)
def _ov_cross_grad_b(g, a, b):
    return lambda g, a, b: unbroadcast(np.cross(g, a)[..., :b.shape[-1]], b)
