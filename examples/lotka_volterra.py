"""Sensitivities of a predator-prey simulation to its four parameters.

100,000 Euler steps of the Lotka-Volterra model; srcgrad differentiates the
loop as written and tapes only the two state variables per step.
"""

import time

import srcgrad


def final_population(alpha, beta, delta, gamma, x0, y0, h, n):
    x = x0
    y = y0
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    return x + y


if __name__ == "__main__":
    grad = srcgrad.value_and_grad(final_population, wrt=("alpha", "beta", "delta", "gamma"))
    args = (2 / 3, 4 / 3, 1.0, 1.0, 1.0, 1.0, 1e-4, 100_000)
    start = time.perf_counter()
    value, (d_alpha, d_beta, d_delta, d_gamma) = grad(*args)
    first = time.perf_counter() - start
    start = time.perf_counter()
    grad(*args)
    again = time.perf_counter() - start
    print(f"x(T) + y(T) = {value:.6f}")
    print(f"d/d(alpha, beta, delta, gamma) = "
          f"({d_alpha:.6f}, {d_beta:.6f}, {d_delta:.6f}, {d_gamma:.6f})")
    print(f"tape: {grad.tape_bytes(*args) / args[-1]:.0f} bytes per step")
    print(f"first call {first * 1e3:.0f} ms (transform + compile), then {again * 1e3:.2f} ms")
