"""Logistic regression by gradient descent on synthetic data.

The loss is the mean cross-entropy of a linear classifier, written with NumPy
in its numerically stable form, plus a small L2 penalty. srcgrad gives its
gradient with respect to the weights (an array) and the bias (a float).

    python examples/logistic_regression.py
"""

import time

import numpy as np

import srcgrad


def loss(w, b, X, y, l2):
    """Mean of log(1 + exp(z)) - y z over the examples, z = X w + b, plus l2 |w|^2."""
    z = X @ w + b
    per_example = np.maximum(z, 0.0) + np.log1p(np.exp(-np.abs(z))) - y * z
    return per_example.mean() + l2 * np.dot(w, w)


def accuracy(w, b, X, y):
    return float(np.mean(((X @ w + b) > 0) == (y > 0.5)))


def make_data(n, d, rng):
    """Points whose label follows a logistic model with known weights."""
    true_w = 2.0 * rng.normal(size=d)
    true_b = 0.5
    X = rng.normal(size=(n, d))
    p = 1.0 / (1.0 + np.exp(-(X @ true_w + true_b)))
    y = (rng.random(n) < p).astype(np.float64)
    return X, y, true_w, true_b


def main(steps: int = 300, learning_rate: float = 0.5) -> tuple[float, float, float]:
    rng = np.random.default_rng(0)
    X, y, true_w, true_b = make_data(1000, 5, rng)
    l2 = 1e-3
    w = np.zeros(X.shape[1])
    b = 0.0

    value_and_grad = srcgrad.value_and_grad(loss, wrt=(0, 1))
    start = time.perf_counter()
    initial, _ = value_and_grad(w, b, X, y, l2)
    first = time.perf_counter() - start
    start = time.perf_counter()
    for step in range(steps):
        value, (dw, db) = value_and_grad(w, b, X, y, l2)
        w = w - learning_rate * dw
        b = b - learning_rate * db
        if step % 100 == 0:
            print(f"step {step:4d}  loss {value:.4f}")
    seconds = time.perf_counter() - start
    final = loss(w, b, X, y, l2)
    acc = accuracy(w, b, X, y)
    print(f"first call {first:.2f} s (transform and compile), then {steps} steps in {seconds:.2f} s")
    print(f"initial loss {initial:.4f}, final loss {final:.4f}")
    print(f"training accuracy {acc:.3f} (the true weights give {accuracy(true_w, true_b, X, y):.3f})")
    print(f"weights {np.round(w, 2)}, true {np.round(true_w, 2)}")
    check = srcgrad.check_grad(loss, w, b, X, y, l2, wrt=(0, 1))
    print(f"gradient check at the final weights: {'ok' if check.ok else 'FAILED'} "
          f"(max relative error {check.max_rel_error:.1e})")
    return initial, final, acc


if __name__ == "__main__":
    main()
