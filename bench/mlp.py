"""Benchmark: gradient of a 2-layer MLP training loss, the user code split into helper functions.

Run from the project root::

    python -m bench.mlp              # full run: 30 timing samples, fresh-process start-ups
    python -m bench.mlp --quick      # smoke run: a few samples

Workload
--------
One training step's gradient of a 2-layer perceptron: a batch of ``n = 256`` examples of
dimension ``d = 32``, ``H = 64`` hidden units, ``C = 10`` classes, float64::

    logits = relu(x @ W1 + b1) @ W2 + b2                      # (n, C)
    loss   = mean_i softmax_cross_entropy(logits_i, y_i)     # y one-hot, (n, C) floats

with respect to ``(W1, b1, W2, b2)``: ``d H + H + H C + C`` = 2,762 numbers.  The
cross-entropy is the numerically stable one: each row's maximum is subtracted before
``exp``, ``-sum(y * (shifted - log(sum(exp(shifted)))))``.  The labels are a one-hot float
array so that the whole function is arithmetic.

The user code is written twice, in plain NumPy:

* ``mlp_loss`` calls the module-level helpers ``dense(x, W, b)``, ``relu(z)`` and
  ``softmax_cross_entropy(logits, y_onehot)``, as one would write it;
* ``mlp_loss_inlined`` is the same math inlined by hand into one function.

Both spell the row maximum as a loop of ``np.maximum`` over the C columns and the row sum
as ``np.sum(..., axis=1)`` followed by ``.reshape((n, 1))``: ``numba.njit`` (0.68) rejects
``np.max(..., axis=...)`` and ``keepdims=``, and the Numba forward below compiles
``mlp_loss_inlined`` itself.  srcgrad accepts either spelling.

Data (NumPy ``default_rng``, fixed seeds): ``W1 = N(0,1)/sqrt(d)``, ``W2 = N(0,1)/sqrt(H)``,
``b1, b2 = 0.1 N(0,1)``, ``x = N(0,1)``, labels uniform in ``0..C-1``.

Peers (``bench/runner.py``: same process, same arguments; checks, timing, fresh processes)
------------------------------------------------------------------------------------------
* ``numba_fwd``       -- ``numba.njit(mlp_loss_inlined)``: the forward alone (``@`` is a BLAS
  call through SciPy).
* ``srcgrad``         -- ``srcgrad.value_and_grad(mlp_loss, wrt=(0, 1, 2, 3))``: the version
  with calls between user functions.
* ``srcgrad_inlined`` -- ``srcgrad.value_and_grad(mlp_loss_inlined, wrt=(0, 1, 2, 3))``;
  ``srcgrad/srcgrad_inlined`` is what the calls cost.
* ``jax_fwd`` / ``jax`` -- ``jax.jit`` of the same math in ``jax.numpy`` (``jnp.max`` with
  ``keepdims``), and ``jax.jit(jax.value_and_grad(..., argnums=(0, 1, 2, 3)))``; float64.
* ``torch``           -- PyTorch eager mode on float64 tensors (the parameters with
  ``requires_grad``): each call sets the parameters' ``.grad`` to ``None``, runs the forward
  and ``loss.backward()``; one thread, as in every workload.

XLA may use both cores, and so may the BLAS behind Numba's ``@``.  The runner checks every
peer at the timed size (JAX is the reference gradient) and, untimed, on a small problem
(n=7, d=3, H=5, C=4), where the Numba forward is also compared with plain Python.  Its finite
differences (step 1e-4) redraw a direction along which some hidden pre-activation would cross
the ReLU's kink within the stencil (:func:`relu_kink_margin`).  The section shows srcgrad's tape
per example.
"""

from __future__ import annotations

import math
import sys

import numpy as np

from bench import runner

BATCH, D_IN, HIDDEN, CLASSES = 256, 32, 64, 10
SIZE = (BATCH, D_IN, HIDDEN, CLASSES)


# --------------------------------------------------------------------------
# the workload: user code with helper functions (what ``srcgrad`` differentiates)
# --------------------------------------------------------------------------

def dense(x, W, b):
    """Affine layer: x @ W + b, b broadcast over the rows."""
    return x @ W + b


def relu(z):
    return np.maximum(z, 0.0)


def softmax_cross_entropy(logits, y_onehot):
    """Mean over rows of -sum(y * log_softmax(logits)), each row's maximum subtracted first."""
    n = logits.shape[0]
    m = logits[:, 0].copy()
    for j in range(1, logits.shape[1]):
        m = np.maximum(m, logits[:, j])
    shifted = logits - m.reshape((n, 1))
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    return -np.sum(y_onehot * (shifted - lse.reshape((n, 1)))) / n


def mlp_loss(W1, b1, W2, b2, x, y_onehot):
    """Mean softmax cross-entropy of relu(x @ W1 + b1) @ W2 + b2 against one-hot labels."""
    h = relu(dense(x, W1, b1))
    logits = dense(h, W2, b2)
    return softmax_cross_entropy(logits, y_onehot)


# --------------------------------------------------------------------------
# the workload: the same math inlined by hand (``srcgrad_inlined``; Numba compiles it as-is)
# --------------------------------------------------------------------------

def mlp_loss_inlined(W1, b1, W2, b2, x, y_onehot):
    """mlp_loss with dense, relu and softmax_cross_entropy inlined."""
    n = x.shape[0]
    h = np.maximum(x @ W1 + b1, 0.0)
    logits = h @ W2 + b2
    m = logits[:, 0].copy()
    for j in range(1, logits.shape[1]):
        m = np.maximum(m, logits[:, j])
    shifted = logits - m.reshape((n, 1))
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    return -np.sum(y_onehot * (shifted - lse.reshape((n, 1)))) / n


WRT = (0, 1, 2, 3)


# --------------------------------------------------------------------------
# JAX and PyTorch versions
# --------------------------------------------------------------------------

def mlp_loss_jax(W1, b1, W2, b2, x, y_onehot):
    """The same loss in jax.numpy."""
    import jax.numpy as jnp
    h = jnp.maximum(x @ W1 + b1, 0.0)
    logits = h @ W2 + b2
    shifted = logits - jnp.max(logits, axis=1, keepdims=True)
    lse = jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
    return -jnp.sum(y_onehot * (shifted - lse)) / logits.shape[0]


def mlp_loss_torch(W1, b1, W2, b2, x, y_onehot):
    """The same loss in PyTorch."""
    import torch
    h = torch.relu(x @ W1 + b1)
    logits = h @ W2 + b2
    shifted = logits - torch.amax(logits, dim=1, keepdim=True)
    lse = torch.log(torch.sum(torch.exp(shifted), dim=1, keepdim=True))
    return -torch.sum(y_onehot * (shifted - lse)) / logits.shape[0]


# --------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------

def mlp_args(batch: int = BATCH, d_in: int = D_IN, hidden: int = HIDDEN, classes: int = CLASSES,
             seed: int = 0) -> tuple:
    """(W1, b1, W2, b2, x, y_onehot) from a fixed seed."""
    rng = np.random.default_rng(7919 * seed + 31)
    W1 = rng.standard_normal((d_in, hidden)) / math.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, classes)) / math.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(classes)
    x = rng.standard_normal((batch, d_in))
    labels = rng.integers(0, classes, size=batch)
    y_onehot = np.zeros((batch, classes))
    y_onehot[np.arange(batch), labels] = 1.0
    return (W1, b1, W2, b2, x, y_onehot)


def relu_kink_margin(args, direction) -> float:
    """Smallest |t| at which a hidden pre-activation x @ W1 + b1 changes sign along ``direction``."""
    x = args[4]
    z = x @ args[0] + args[1]
    dz = x @ direction[0] + direction[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        return float(np.min(np.abs(z) / np.abs(dz)))


WORKLOAD = runner.Workload(
    name="mlp",
    title="MLP with helper functions",
    fn=mlp_loss_inlined,
    wrt=WRT,
    args=lambda size: mlp_args(*size),
    sizes={"full": [SIZE], "quick": [SIZE], "tiny": [SIZE]},
    main_size=SIZE,
    check_sizes=((7, 3, 5, 4),),
    size_label=lambda size: "n={},d={},H={},C={}".format(*size),
    work=lambda size: float(size[0] * size[2] * (size[1] + size[3])),
    x_label="n H (d + C) (multiply-adds of the forward)",
    kind="array",
    rtol_value=1e-12,
    fd_step=1e-4,
    fd_margin=relu_kink_margin,
    tape_unit=("example", lambda size: size[0]),
    srcgrad=runner.srcgrad_peer(mlp_loss, WRT, "srcgrad.value_and_grad of mlp_loss, the user code with helper "
                                "calls"),
    peers=[
        runner.srcgrad_peer(mlp_loss_inlined, WRT, "srcgrad.value_and_grad of mlp_loss_inlined, the same math "
                            "inlined by hand", name="srcgrad_inlined"),
        runner.jax_forward_peer(mlp_loss_jax, "JAX jit of the same math in jax.numpy (value only)"),
        runner.jax_peer(mlp_loss_jax, WRT, "JAX jit(value_and_grad)", own_forward="jax_fwd"),
        runner.torch_peer(mlp_loss_torch, WRT, "PyTorch eager autograd"),
    ],
    description="""
A training-step loss for a 2-layer MLP (batch 256, 32 inputs, 64 hidden units,
10 classes, float64), written with helpers `dense`, `relu`,
`softmax_cross_entropy` (`srcgrad`) and inlined by hand (`srcgrad_inlined`);
gradient with respect to both layers' weights and biases, beside JAX `jit` and
`jit(value_and_grad)` and PyTorch autograd.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
