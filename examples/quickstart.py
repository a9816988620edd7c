"""The README's 30-second example: a gradient through a while loop and a branch."""

import srcgrad


def f(a):
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    c = b if b > 0 else 100 * b
    return c


if __name__ == "__main__":
    df = srcgrad.grad(f)
    a = 0.8137
    print("f(a)     =", f(a))
    print("df/da    =", df(a))
    print("f(a) / a =", f(a) / a)
    srcgrad.show(df)
