"""Functions whose generated adjoints are kept as golden files (tests/golden/)."""

import math


def d2l_control_flow(a):
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    c = b if b > 0 else 100 * b
    return c


def lotka_volterra(alpha, beta, delta, gamma, x0, y0, h, n):
    x = x0
    y = y0
    for i in range(n):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x = x + h * dx
        y = y + h * dy
    return x + y


def jumps(x, n):
    s = 0.0
    for i in range(n):
        for j in range(n, 0, -1):
            if j == 2:
                continue
            s = s + math.sin(x * i + j)
            if s > 3.0:
                return s * x
        if s < -1.0:
            break
    return s


def fib(x, n):
    a, b = 0.0, 1.0
    for i in range(n):
        a, b = b, a + b * x
    return a
