"""The preliminaries chapter of "Dive into Deep Learning" (d2l.ai, sections 2.3-2.5) with srcgrad.

NumPy arrays stand for the book's tensors, and srcgrad gradients for its
`backward()`. Every gradient is compared with the answer the book derives.
docs/tutorial.md walks through the same steps and reads the generated source.

    python examples/d2l_preliminaries.py
"""

import math

import numpy as np

import srcgrad

# ---------------------------------------------------------------- 2.3 linear algebra


def quadratic_form(A, x):
    return x @ A @ x


def l2_norm(u):
    return np.linalg.norm(u)


def linear_algebra() -> None:
    print("2.3 linear algebra")
    x, y = 3.0, 2.0
    print("  scalars:", x + y, x * y, x / y, x ** y)
    x = np.arange(3.0)
    print("  vector:", x, "x[2] =", x[2], "len =", len(x), "shape =", x.shape)
    A = np.arange(6.0).reshape(3, 2)
    print("  A.T =", A.T.tolist())
    X = np.arange(24.0).reshape(2, 3, 4)
    print(f"  a 3-D tensor of shape {X.shape}; 2 + X has shape {(2 + X).shape}")
    A = np.arange(20.0).reshape(5, 4)
    print("  A.sum() =", A.sum(), " A.sum(axis=0) =", A.sum(axis=0), " A.mean() =", A.mean())
    print("  A.sum(axis=1, keepdims=True).shape =", A.sum(axis=1, keepdims=True).shape,
          " cumsum's last row =", np.cumsum(A, axis=0)[-1])
    print("  dot =", np.dot(np.arange(3.0), np.ones(3)), " A @ x =", A @ np.arange(4.0))
    u = np.array([3.0, -4.0])
    print("  norms of [3, -4]: L2", np.linalg.norm(u), " L1", np.abs(u).sum(),
          " Frobenius of ones((4, 9))", np.linalg.norm(np.ones((4, 9))))
    du = srcgrad.grad(l2_norm)(u)
    print(f"  gradient of the L2 norm at [3, -4]: {du} (u / |u| = {u / 5})")
    A = np.array([[1.0, 2.0], [3.0, 4.0]])
    x = np.array([1.0, -1.0])
    dA, dx = srcgrad.grad(quadratic_form, wrt=(0, 1))(A, x)
    print(f"  gradient of x^T A x: d/dx = {dx} ((A + A^T) x = {(A + A.T) @ x}); "
          f"d/dA equals outer(x, x): {np.array_equal(dA, np.outer(x, x))}")


# ---------------------------------------------------------------- 2.4 calculus


def f(x):
    return 3 * x ** 2 - 4 * x


def chain(x):
    u = math.sin(x)
    v = u * u
    return math.exp(v)


def calculus() -> None:
    print("2.4 calculus")
    for h in [0.1, 0.01, 0.001, 0.0001, 0.00001]:
        print(f"  h={h:.5f}, numerical limit={(f(1 + h) - f(1)) / h:.5f}")
    slope = srcgrad.grad(f)(1.0)
    print(f"  srcgrad: f'(1) = {slope}")
    u = math.sin(1.0)
    print(f"  chain rule: d/dx exp(sin(x)^2) at 1 = {srcgrad.grad(chain)(1.0)!r}, "
          f"by hand {math.exp(u * u) * 2 * u * math.cos(1.0)!r}")


# ---------------------------------------------------------------- 2.5 automatic differentiation


def two_dot(x):
    return 2 * np.dot(x, x)


def square(x):
    return x * x


def detached(x):
    y = x * x
    u = srcgrad.stop_gradient(y)
    return (u * x).sum()


def control_flow(a):
    b = a * 2
    while np.linalg.norm(b) < 1000:
        b = b * 2
    if b.sum() > 0:
        c = b
    else:
        c = 100 * b
    return c


def control_flow_scalar(a):
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    if b > 0:
        c = b
    else:
        c = 100 * b
    return c


def autodiff() -> None:
    print("2.5 automatic differentiation")
    x = np.arange(4.0)
    grad_x = srcgrad.grad(two_dot)(x)
    print(f"  y = 2 x.x = {two_dot(x)}; gradient {grad_x}; equals 4x: {np.array_equal(grad_x, 4 * x)}")
    y, pullback = srcgrad.vjp(square, x)
    grad_square = pullback(np.ones(4))
    print(f"  y = x * x = {y}; pullback of ones {grad_square} (2x)")
    grad_detached = srcgrad.grad(detached)(x)
    print(f"  detached u = x * x: gradient of (u * x).sum() is {grad_detached} (u)")
    a = np.random.default_rng(1).normal(size=4)
    d, pullback = srcgrad.vjp(control_flow, a)
    grad_a = pullback(np.ones(4))
    print(f"  control flow, a vector: gradient {grad_a}; equals d / a: {np.allclose(grad_a, d / a)}")
    for a in (0.8137, -0.8137):
        d, grad_s = srcgrad.value_and_grad(control_flow_scalar)(a)
        print(f"  control flow, a = {a}: d = {d}, gradient {grad_s}, d / a = {d / a}")


if __name__ == "__main__":
    linear_algebra()
    calculus()
    autodiff()
