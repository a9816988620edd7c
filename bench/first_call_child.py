"""One fresh process of the first-call benchmark (started by ``bench/first_call.py``).

Run as a script, not as part of the ``bench`` package, so that the parent can put
another checkout's srcgrad first on ``PYTHONPATH`` (the "before" numbers) while
the user functions still come from this directory::

    python bench/first_call_child.py '{"kind": "srcgrad", "case": "mlp"}'

Kinds: ``srcgrad`` (``srcgrad.grad`` and its first call), ``numba`` (``numba.njit(cache=True)`` of
the forward and its first call), ``jax`` (``jax.jit(jax.grad(...))`` and its first call), and
``overhead`` (after warm-up: the per-call time of the srcgrad gradient, the Numba forward and a
trivial njit function on the case's tiny arguments and at its benchmark size, and for the least
squares case a gradient-descent loop).  The result is one line of JSON after ``@@RESULT@@``.
"""

import time

T_START = time.perf_counter()

import gc  # noqa: E402
import importlib.util  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == HERE:
    sys.path.pop(0)  # bench/'s modules (common, results, ...) must not shadow anything


def load_local(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(HERE, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return mod


def per_call(peers, samples, min_sample_s=2e-3):
    """Median seconds per call of each ``name -> (fn, args)``: ``samples`` samples of a calibrated
    number of back-to-back calls, peers in rotating order, garbage collector off."""
    pc = time.perf_counter
    numbers = {}
    for name, (fn, args) in peers.items():
        fn(*args)
        n = 1
        while True:
            t = pc()
            for _ in range(n):
                fn(*args)
            if pc() - t >= min_sample_s or n >= 1 << 20:
                break
            n *= 2
        numbers[name] = n
    names = list(peers)
    got = {name: [] for name in names}
    gc.collect()
    gc.disable()
    try:
        for r in range(samples):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                fn, args = peers[name]
                n = numbers[name]
                t = pc()
                for _ in range(n):
                    fn(*args)
                got[name].append((pc() - t) / n)
    finally:
        gc.enable()
    out = {}
    for name in names:
        s = sorted(got[name])
        out[name] = {"median_s": s[len(s) // 2], "min_s": s[0], "q1_s": s[len(s) // 4], "q3_s": s[(3 * len(s)) // 4],
                     "samples": len(s), "calls_per_sample": numbers[name]}
    return out


def trivial_njit(numba, nargs):
    """numba.njit of a function of ``nargs`` arguments that returns 0.0."""
    names = ", ".join(f"a{i}" for i in range(nargs))
    ns = {}
    exec(f"def trivial({names}):\n    return 0.0\n", ns)  # noqa: S102 - a fixed template
    return numba.njit(ns["trivial"])


def gradient_descent(F, g, fw, triv, repeats):
    """The least squares case: LSTSQ_STEPS steps of w -= rate * grad(w), seconds per step (median over
    ``repeats`` loops), beside loops of as many forward calls and trivial calls on the same arguments."""
    pc = time.perf_counter
    w0, A, y = F.lstsq_args()
    rate, steps = F.LSTSQ_RATE, F.LSTSQ_STEPS

    def descend():
        w = w0.copy()
        for _ in range(steps):
            w = w - rate * g(w, A, y)
        return w

    def loop(fn):
        w = w0
        for _ in range(steps):
            fn(w, A, y)

    res = {"steps": steps, "rate": rate}
    w = descend()
    res["loss_start"] = float(F.lstsq_loss(w0, A, y))
    res["loss_end"] = float(F.lstsq_loss(w, A, y))
    times = {"grad_step": [], "forward": [], "trivial": []}
    gc.collect()
    gc.disable()
    try:
        for _ in range(repeats):
            t = pc(); descend(); times["grad_step"].append((pc() - t) / steps)  # noqa: E702
            t = pc(); loop(fw); times["forward"].append((pc() - t) / steps)  # noqa: E702
            t = pc(); loop(triv); times["trivial"].append((pc() - t) / steps)  # noqa: E702
    finally:
        gc.enable()
    for k, v in times.items():
        v.sort()
        res[k + "_s"] = v[len(v) // 2]
    return res


def checksum(out):
    """The sum of every component of a result (a float, an array or a tuple of them): to compare peers."""
    import numpy as np
    parts = out if isinstance(out, (tuple, list)) else (out,)
    return float(sum(float(np.sum(np.asarray(p, dtype=np.float64))) for p in parts))


def main(spec):
    kind, case = spec["kind"], spec["case"]
    load = os.getloadavg()[0]
    res = {"kind": kind, "case": case, "load_1min_at_start": load}
    if kind in ("srcgrad", "overhead"):
        import srcgrad
        res["srcgrad_file"] = srcgrad.__file__
    elif kind == "numba":
        import numba
    elif kind == "jax":
        import jax
        jax.config.update("jax_enable_x64", True)
    t_import = time.perf_counter()
    F = load_local("first_call_functions")
    f, wrt, make_args, tiny_args, _ = F.CASES[case]
    args = make_args()
    t_setup = time.perf_counter()
    if kind == "srcgrad":
        fn = srcgrad.grad(f, wrt=wrt)
    elif kind == "numba":
        fn = numba.njit(cache=True)(f)
    elif kind == "jax":
        FJ = load_local("first_call_jax")
        g = FJ.make(case, wrt)

        def fn(*a):
            return jax.block_until_ready(g(*a))
    if kind != "overhead":
        out = fn(*args)
        t_first = time.perf_counter()
        res["checksum"] = checksum(out)
        steady = []
        for _ in range(5):
            t = time.perf_counter()
            fn(*args)
            steady.append(time.perf_counter() - t)
        res.update(import_s=t_import - T_START, setup_s=t_setup - t_import, first_s=t_first - t_setup,
                   to_first_s=t_first - T_START, steady_s=sorted(steady)[2])
    else:
        import numba
        g = srcgrad.grad(f, wrt=wrt)
        fw = numba.njit(f)
        triv = trivial_njit(numba, len(args))
        samples = spec.get("samples", 51)
        tiny = tiny_args()
        peers = {"srcgrad_grad": (g, tiny), "numba_forward": (fw, tiny), "trivial_njit": (triv, tiny)}
        if hasattr(type(g), "njit"):   # the same derivative as a Numba function (a --srcgrad before it has none)
            g(*tiny)
            peers["srcgrad_njit"] = (g.njit, tiny)
        res["tiny"] = per_call(peers, samples)
        res["full"] = per_call({"srcgrad_grad": (g, args), "numba_forward": (fw, args), "trivial_njit": (triv, args)},
                               samples)
        if case == "lstsq":
            res["descent"] = gradient_descent(F, g, fw, triv, spec.get("loops", 7))
    res["load_1min_at_end"] = os.getloadavg()[0]
    print("@@RESULT@@" + json.dumps(res), flush=True)


if __name__ == "__main__":
    main(json.loads(sys.argv[1]))
