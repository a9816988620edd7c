"""`python -m srcgrad demo`: the classic control-flow example of d2l's autograd section.

    b = 2a; double b while |b| < 1000; c = b if b > 0 else 100 b

c is piecewise linear in a, so dc/da = c / a. srcgrad differentiates the
while loop and the branch as written, without unrolling or tracing.
"""

from __future__ import annotations

import statistics
import time


def control_flow(a):
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    c = b if b > 0 else 100 * b
    return c


def _median_seconds(fn, *args, repeats: int = 2000) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    import srcgrad

    a = 0.8137
    start = time.perf_counter()
    g = srcgrad.value_and_grad(control_flow)
    c, dc_da = g(a)
    first = time.perf_counter() - start
    print("srcgrad demo: the d2l control-flow example\n")
    print("    def control_flow(a):")
    print("        b = a * 2")
    print("        while abs(b) < 1000:")
    print("            b = b * 2")
    print("        c = b if b > 0 else 100 * b")
    print("        return c\n")
    print(f"a = {a}")
    print(f"c = control_flow(a) = {c}")
    print(f"dc/da (srcgrad)     = {dc_da}")
    print(f"c / a (closed form) = {c / a}")
    ok = abs(dc_da - c / a) <= 1e-12 * abs(c / a)
    print(f"agree: {ok}\n")
    neg_c, neg_grad = g(-a)
    print(f"at a = {-a}: dc/da = {neg_grad}, c / a = {neg_c / -a}\n")
    print("The generated adjoint (what Numba compiles):\n")
    srcgrad.show(g)
    compiled = _median_seconds(g, a)
    python = _median_seconds(srcgrad.value_and_grad(control_flow, jit=False), a, repeats=200)
    print(f"first call (transform + compile, or load from cache): {first * 1e3:.1f} ms")
    print(f"compiled gradient, median of 2000 calls: {compiled * 1e6:.2f} us")
    print(f"same source as plain Python (jit=False): {python * 1e6:.2f} us")
    return 0 if ok else 1
