"""JAX versions of ``bench/first_call_functions.py`` for the first-call benchmark.

The same math in ``jax.numpy``, as a JAX user would write it: ``jnp.max(...,
keepdims=True)`` in the softmax, and ``lax.fori_loop`` for the Lotka-Volterra steps
(a Python loop would unroll 1000 steps into the traced graph).  Float64 (x64 on),
CPU.  :func:`make` returns ``jax.jit(jax.grad(f, argnums=wrt))``; the benchmark's child
process times building it and its first call on the NumPy arguments (which includes
starting JAX's CPU backend).
"""

from __future__ import annotations


def _functions():
    import jax
    import jax.numpy as jnp
    from jax import lax

    def mlp_loss(W1, b1, W2, b2, x, y_onehot):
        h = jnp.tanh(x @ W1 + b1)
        logits = h @ W2 + b2
        shifted = logits - jnp.max(logits, axis=1, keepdims=True)
        lse = jnp.log(jnp.sum(jnp.exp(shifted), axis=1, keepdims=True))
        return -jnp.sum(y_onehot * (shifted - lse)) / x.shape[0]

    def logreg_loss(w, b, X, y):
        z = X @ w + b
        return jnp.mean(jnp.maximum(z, 0.0) + jnp.log1p(jnp.exp(-jnp.abs(z))) - y * z)

    def lotka_volterra(alpha, beta, delta, gamma, x0, y0, h, n):
        def step(i, xy):
            x, y = xy
            dx = alpha * x - beta * x * y
            dy = delta * x * y - gamma * y
            return x + h * dx, y + h * dy
        x, y = lax.fori_loop(0, n, step, (x0, y0))
        return x + y

    def lstsq_loss(w, A, y):
        r = A @ w - y
        return 0.5 * jnp.sum(r * r)

    return jax, {"mlp": (mlp_loss, ()), "logreg": (logreg_loss, ()),
                 "lotka_volterra": (lotka_volterra, (7,)), "lstsq": (lstsq_loss, ())}


def make(name: str, wrt):
    """``jax.jit(jax.grad(f, argnums=wrt))`` for the case ``name`` (it takes the NumPy arguments as they
    are); the step count of the Lotka-Volterra loop is a static argument."""
    jax, funcs = _functions()
    f, static = funcs[name]
    return jax.jit(jax.grad(f, argnums=wrt), static_argnums=static)
