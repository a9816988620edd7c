"""Benchmark: GradBench's ``det`` eval, the determinant by expansion by minors.

Run from the project root::

    python -m bench.det            # full run: ell in 5 .. 10
    python -m bench.det --quick    # smoke run

Workload (GradBench ``evals/det``, from cmpad's ``det_by_minor``)
----------------------------------------------------------------
The determinant of an ``ell x ell`` matrix ``A ~ U(0, 1)`` (GradBench's inputs) by
Laplace expansion along the first row, recursively for every minor: about
``e * ell!`` multiply-adds, the same operations and order as the reference
implementation.  The recursion is written as a loop with an explicit stack
(``det_by_minors``): depth ``d`` expands row ``d`` of ``A``, ``used[j]`` marks the
columns taken by the rows above, ``acc[d]`` accumulates the determinant of the
minor at depth ``d``, ``nxt[d]`` is the next column to try there.  srcgrad does
not differentiate recursion, and a loop is what a C programmer would write.

Checks: besides the finite differences, the reference gradient is compared with
the cofactor matrix ``det(A) A^{-T}`` from LAPACK.

Peers: Numba forward, srcgrad, PyTorch, autograd and tangent-ad on the same loop
(scalar operations on array elements), and JAX on the sum over all permutations
(Leibniz's formula, vectorised over a precomputed table of the ``ell!``
permutations: ``ell! * ell`` multiplications): JAX cannot differentiate the
data-dependent ``while`` loop, and unrolling the expansion at trace time gives
``e * ell!`` operations to compile.  There is no hand-written adjoint: the
reverse of the stack machine is not short.
"""

from __future__ import annotations

import itertools
import math
import sys

import numpy as np

from bench import common, runner


def det_by_minors(A):
    """The user function: det(A) by expansion by minors along the first row, without recursion."""
    n = A.shape[0]
    used = np.zeros(n, np.int64)
    col = np.zeros(n, np.int64)
    nxt = np.zeros(n, np.int64)
    acc = np.zeros(n)
    sgn = np.ones(n)
    d = 0
    result = 0.0
    done = False
    while not done:
        j = nxt[d]
        while j < n and used[j] != 0:
            j += 1
        if d == n - 1:
            # a 1x1 minor: its only free column; go up with its value
            val = A[d, j]
            climbing = True
            while climbing:
                if d == 0:
                    result = val
                    done = True
                    climbing = False
                else:
                    d -= 1
                    used[col[d]] = 0
                    acc[d] = acc[d] + sgn[d] * A[d, col[d]] * val
                    sgn[d] = -sgn[d]
                    j = nxt[d]
                    while j < n and used[j] != 0:
                        j += 1
                    if j < n:
                        climbing = False
                    else:
                        val = acc[d]
        if not done:
            # expand column j at depth d (j < n here)
            col[d] = j
            nxt[d] = j + 1
            used[j] = 1
            d += 1
            nxt[d] = 0
            acc[d] = 0.0
            sgn[d] = 1.0
    return result


def det_recursive_reference(A) -> float:
    """cmpad's recursive expansion (plain Python, for the checks)."""
    n = A.shape[0]

    def minor(rows, cols):
        if len(rows) == 1:
            return A[rows[0], cols[0]]
        total, sign = 0.0, 1.0
        for k, c in enumerate(cols):
            sub = minor(rows[1:], cols[:k] + cols[k + 1:])
            total = total + sign * A[rows[0], c] * sub
            sign = -sign
        return total

    return minor(list(range(n)), list(range(n)))


_PERMS: dict = {}


def _permutation_table(n: int):
    """(ell! x ell) column indices of all permutations and their signs."""
    if n not in _PERMS:
        perms = np.array(list(itertools.permutations(range(n))), dtype=np.int32)
        inv = np.zeros(len(perms))
        for i in range(n):
            for j in range(i + 1, n):
                inv += perms[:, i] > perms[:, j]
        _PERMS[n] = (perms, 1.0 - 2.0 * (inv % 2))
    return _PERMS[n]


def det_jax_leibniz(A):
    import jax.numpy as jnp
    n = A.shape[0]
    perms, signs = _permutation_table(n)
    prods = jnp.prod(A[jnp.arange(n)[None, :], perms], axis=1)
    return jnp.sum(signs * prods)


def det_by_minors_lists(A):
    """The same loop with the stack in Python lists (PyTorch and autograd cannot write their
    values into NumPy arrays; tangent-ad rejects ``A.shape`` and int64 arrays)."""
    n = len(A)
    used = [0] * n
    col = [0] * n
    nxt = [0] * n
    acc = [0.0] * n
    sgn = [1.0] * n
    d = 0
    result = 0.0
    done = False
    while not done:
        j = nxt[d]
        while j < n and used[j] != 0:
            j += 1
        if d == n - 1:
            val = A[d, j]
            climbing = True
            while climbing:
                if d == 0:
                    result = val
                    done = True
                    climbing = False
                else:
                    d -= 1
                    used[col[d]] = 0
                    acc[d] = acc[d] + sgn[d] * A[d, col[d]] * val
                    sgn[d] = -sgn[d]
                    j = nxt[d]
                    while j < n and used[j] != 0:
                        j += 1
                    if j < n:
                        climbing = False
                    else:
                        val = acc[d]
        if not done:
            col[d] = j
            nxt[d] = j + 1
            used[j] = 1
            d += 1
            nxt[d] = 0
            acc[d] = 0.0
            sgn[d] = 1.0
    return result


def det_args(ell: int) -> tuple:
    rng = np.random.default_rng(31337 + int(ell))
    return (rng.random((int(ell), int(ell))),)


def cofactor_check(size, args, value, grads) -> float:
    """The gradient of det(A) is det(A) A^{-T}; also the value against numpy.linalg.det."""
    A = args[0]
    common.check_close(f"ell={size}: det vs numpy.linalg.det", value, np.linalg.det(A), 1e-9)
    return common.check_close_scaled(f"ell={size}: gradient vs det(A) inv(A).T", grads[0],
                                     np.linalg.det(A) * np.linalg.inv(A).T, 1e-8, 1e-6)


def work(ell: int) -> float:
    """Nodes of the expansion tree: sum_k ell!/k! (about e * ell!)."""
    return float(sum(math.factorial(ell) // math.factorial(k) for k in range(ell)))


WORKLOAD = runner.Workload(
    name="det",
    title="GradBench det: expansion by minors",
    fn=det_by_minors,
    args=det_args,
    sizes={"full": [5, 6, 7, 8, 9, 10], "quick": [5, 7], "tiny": [4]},
    main_size=9,
    work=work,
    size_label=lambda ell: f"ell={ell}",
    x_label="nodes of the expansion (about e ell!), ell = 5 .. 10",
    kind="loop",
    rtol_value=1e-10,
    rtol_peers=1e-8,
    extra_check=cofactor_check,
    reference=("srcgrad", "torch", "autograd", "tangent", "jax"),
    peers=[
        runner.jax_peer(det_jax_leibniz, (0,), "JAX jit(value_and_grad) of Leibniz's formula over a table of "
                        "all ell! permutations (another algorithm: ell! * ell multiplications)",
                        max_size=9, cap_reason="the permutation table has ell! * ell entries"),
        runner.torch_peer(det_by_minors_lists, (0,), "PyTorch eager autograd, the same loop with the stack "
                          "in Python lists"),
        runner.autograd_peer(det_by_minors_lists, (0,), "HIPS autograd, the same loop with the stack in lists"),
        runner.tangent_peer(det_by_minors_lists, (0,), "tangent-ad, the same loop with the stack in lists",
                            note="(Its generated adjoint sends an adjoint to the integer column index `j` and "
                                 "fails there in `tangent.unbroadcast`.)"),
        runner.unavailable_peer("hand", "hand", "no hand-written adjoint: the reverse of the stack machine is "
                                "not short; the gradient is checked against det(A) inv(A).T instead"),
    ],
    description="""
GradBench's `det` eval (cmpad's `det_by_minor`): the determinant of an
`ell x ell` matrix `A ~ U(0, 1)` by Laplace expansion along the first row, for
every minor: about `e ell!` multiply-adds, in the reference's order. srcgrad
does not differentiate recursion, so the user function runs the recursion as a
loop with an explicit stack (depth `d` expands row `d`; `used[j]` marks the
columns taken above; `acc[d]` is the minor's partial determinant). PyTorch,
autograd and tangent run the same loop. JAX cannot differentiate a `while`
loop in reverse mode, so it runs Leibniz's formula over a table of all `ell!`
permutations instead (another algorithm; the table limits it to `ell <= 9`).
Every gradient is also checked against the cofactor matrix `det(A) inv(A).T`.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
