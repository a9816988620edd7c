"""The user functions of the first-call benchmark (``python -m bench.first_call``).

Written the way a user of srcgrad would write them: plain Python and NumPy, no
decorators.  The same functions are what ``numba.njit`` compiles for the
"Numba forward" rows, so each is spelled in the NumPy subset that both srcgrad and
Numba accept (the softmax's row maximum is a loop of ``np.maximum`` over the
classes: Numba has no ``np.max(..., axis=...)``).

This module imports NumPy only; it is loaded by file path in the benchmark's child
processes (``bench/first_call_child.py``), so that the srcgrad under test can come
from another checkout.  The JAX versions live in ``bench/first_call_jax.py``.

Each case below is described in ``CASES``: the function, the positions of the
arguments the gradient is taken with respect to, a factory of the arguments at the
benchmark's size and one of tiny arguments (the per-call overhead).
"""

from __future__ import annotations

import numpy as np

# --------------------------------------------------------------------------
# 1. MLP 10-16-4, batch 32, tanh hidden layer, softmax cross-entropy
# --------------------------------------------------------------------------


def mlp_loss(W1, b1, W2, b2, x, y_onehot):
    """Mean softmax cross-entropy of tanh(x @ W1 + b1) @ W2 + b2 against one-hot labels."""
    n = x.shape[0]
    h = np.tanh(x @ W1 + b1)
    logits = h @ W2 + b2
    m = logits[:, 0].copy()
    for j in range(1, logits.shape[1]):
        m = np.maximum(m, logits[:, j])
    shifted = logits - m.reshape((n, 1))
    lse = np.log(np.sum(np.exp(shifted), axis=1))
    return -np.sum(y_onehot * (shifted - lse.reshape((n, 1)))) / n


def mlp_args(batch=32, d_in=10, hidden=16, classes=4, seed=0):
    rng = np.random.default_rng(seed)
    W1 = rng.standard_normal((d_in, hidden)) / np.sqrt(d_in)
    b1 = 0.1 * rng.standard_normal(hidden)
    W2 = rng.standard_normal((hidden, classes)) / np.sqrt(hidden)
    b2 = 0.1 * rng.standard_normal(classes)
    x = rng.standard_normal((batch, d_in))
    y = np.zeros((batch, classes))
    y[np.arange(batch), rng.integers(0, classes, batch)] = 1.0
    return W1, b1, W2, b2, x, y


def mlp_tiny_args():
    return mlp_args(batch=1, d_in=2, hidden=2, classes=2, seed=1)


# --------------------------------------------------------------------------
# 2. logistic regression, 200 x 10 data, mean log-loss
# --------------------------------------------------------------------------


def logreg_loss(w, b, X, y):
    """Mean log-loss of the logistic model sigmoid(X @ w + b) for labels y in {0, 1}.

    log(1 + exp(z)) - y z, with log(1 + exp(z)) written as max(z, 0) + log1p(exp(-|z|))
    so that it never overflows."""
    z = X @ w + b
    softplus = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z)))
    return np.mean(softplus - y * z)


def logreg_args(n=200, d=10, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    w_true = rng.standard_normal(d)
    y = (X @ w_true + 0.5 * rng.standard_normal(n) > 0.0).astype(np.float64)
    w = 0.1 * rng.standard_normal(d)
    return w, 0.1, X, y


def logreg_tiny_args():
    return logreg_args(n=2, d=2, seed=1)


# --------------------------------------------------------------------------
# 3. Lotka-Volterra, 1000 explicit Euler steps of a scalar loop
# --------------------------------------------------------------------------


def lotka_volterra(alpha, beta, delta, gamma, x0, y0, h, n):
    """Prey + predator after n explicit Euler steps of size h of the Lotka-Volterra equations."""
    x = x0
    y = y0
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    return x + y


def lotka_volterra_args(n=1000):
    return 2.0 / 3.0, 4.0 / 3.0, 1.0, 1.0, 1.0, 1.0, 10.0 / n, n


def lotka_volterra_tiny_args():
    return lotka_volterra_args(n=1)


# --------------------------------------------------------------------------
# 4. linear least squares, 50 x 5
# --------------------------------------------------------------------------


def lstsq_loss(w, A, y):
    """Half the squared residual of A @ w against y."""
    r = A @ w - y
    return 0.5 * np.sum(r * r)


def lstsq_args(m=50, n=5, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    y = A @ rng.standard_normal(n) + 0.1 * rng.standard_normal(m)
    return np.zeros(n), A, y


def lstsq_tiny_args():
    return lstsq_args(m=2, n=1, seed=1)


# Gradient descent on the least-squares problem (the per-call overhead in a loop): the step size
# is below 1 / (largest eigenvalue of A^T A) for lstsq_args().
LSTSQ_STEPS = 1000
LSTSQ_RATE = 0.005


# name -> (function, wrt as srcgrad.grad takes it (a position or a tuple of them), arguments factory,
#          tiny arguments factory, one-line description)
CASES = {
    "mlp": (mlp_loss, (0, 1, 2, 3), mlp_args, mlp_tiny_args,
            "MLP 10-16-4, batch 32, tanh, softmax cross-entropy; d/d(W1, b1, W2, b2)"),
    "logreg": (logreg_loss, (0, 1), logreg_args, logreg_tiny_args,
               "logistic regression, 200x10 data, mean log-loss; d/d(w, b)"),
    "lotka_volterra": (lotka_volterra, (0, 1, 2, 3), lotka_volterra_args, lotka_volterra_tiny_args,
                       "Lotka-Volterra, 1000 Euler steps (scalar loop); d/d(alpha, beta, delta, gamma)"),
    "lstsq": (lstsq_loss, 0, lstsq_args, lstsq_tiny_args,
              "least squares 50x5, 0.5 |A w - y|^2; d/dw"),
}
