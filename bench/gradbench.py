"""srcgrad as a GradBench tool: ``python -m bench.gradbench`` speaks GradBench's protocol.

GradBench (https://github.com/gradbench/gradbench) runs an *eval* and a *tool* as
two processes and passes JSON lines between them.  The tool reads one message per
line on standard input and answers each with one line on standard output, with
the message's ``id``:

* ``{"kind": "start", ...}`` -> ``{"id", "tool": "srcgrad", "config": {...}}``;
* ``{"kind": "define", "module": M}`` -> ``{"id", "success": true|false}``: true for
  the evals implemented here (``hello``, ``lse``, ``llsq``, ``ode``, ``det``,
  ``gmm``, ``lstm``, ``ba``, ``kmeans``, ``particle``, ``saddle``), false with an
  ``error`` otherwise (``PENDING`` gives the reason: ``ht`` is not written).
  Defining a module builds its gradients and calls each function once on a small
  input of the right types, so Numba's compile (or its load from the disk cache)
  happens here, reported as a ``"compile"`` timing, not in the first evaluation;
* ``{"kind": "evaluate", "module", "function", "input"}`` -> ``{"id", "success",
  "output", "timings"}``: the function runs at least ``input["min_runs"]`` times
  and until the runs add up to ``input["min_seconds"]`` (both default to 1 and 0),
  one ``{"name": "evaluate", "nanoseconds": ...}`` timing per run, plus one
  ``"prepare"`` timing for turning the JSON input into arrays; a failure is
  ``{"success": false, "error": ...}``;
* any other kind (``analysis``, ...) -> ``{"id"}``.

The functions and their input and output formats are GradBench's (each eval's
README): ``lse``/``llsq``/``ode``/``det`` have ``primal`` and ``gradient``,
``gmm``/``lstm``/``ba`` have ``objective`` and ``jacobian``, ``kmeans`` has
``cost`` and ``dir`` (the Newton direction: ``srcgrad.value_and_grad`` plus one
``srcgrad.hvp`` along ones, the Hessian being diagonal; ``bench.kmeans``, the
cost in its argmin form), ``particle`` and ``saddle`` have ``ff``, ``fr``, ``rf`` and
``rr`` (the eval's output, an argmin by GradBench's gradient descent: ``w`` for
``particle``, the saddle point for ``saddle``; the four names are the four
combinations of forward and reverse mode for the outer and the inner derivative,
and srcgrad answers all four with its one: reverse mode outside, the inner
gradient, a ``srcgrad.grad`` object called inside the differentiated function, by
forward mode; ``bench.particle``'s ``naive_euler_scalar``, ``bench.saddle``'s ``max_f``),
``hello`` has ``square`` and ``double``.  Gradients are ``srcgrad.grad`` of the workloads in
``bench/`` (GradBench's formulations; ``gmm`` is ``bench.gmm.gmm_gradbench``);
primal values are ``numba.njit`` of the same user functions.  ``ba``'s
``jacobian`` builds the per-observation row copies, takes one gradient, and
assembles the whole sparse matrix every run (``bench.ba``), then reports
GradBench's excerpt of it (its first 30 entries and its last).

Try it: ``printf '%s\\n' '{"id":0,"kind":"start"}' '{"id":1,"kind":"define","module":"lse"}'
'{"id":2,"kind":"evaluate","module":"lse","function":"gradient","input":{"x":[1,2,3]}}' |
python -m bench.gradbench``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

# GradBench evals this tool refuses at ``define``, with the reason (a module listed here is
# refused even if BUILDERS has it: put ``particle`` and ``saddle`` back here, with the reason, if
# srcgrad's nested derivatives stop working).
PENDING = {
    "ht": "not implemented for srcgrad",
}


# --------------------------------------------------------------------------
# modules: function name -> (prepare(input) -> args, compute(*args) -> result, output(result) -> JSON)
# --------------------------------------------------------------------------

def _floats(v) -> np.ndarray:
    return np.asarray(v, dtype=np.float64)


def _matrix(rows, width: int) -> np.ndarray:
    a = np.asarray(rows, dtype=np.float64)
    return a.reshape((len(rows), width)) if a.size == 0 else a


class Module:
    """The functions of one eval, built lazily (imports and srcgrad objects)."""

    def __init__(self, name: str):
        self.name = name
        self.functions: dict[str, tuple[Callable, Callable, Callable]] = {}
        self.warm_input: dict = {}


def _module_hello() -> Module:
    import srcgrad

    g = srcgrad.grad(_hello_square)
    m = Module("hello")
    m.functions = {
        "square": (lambda inp: (float(inp),), _hello_square, float),
        "double": (lambda inp: (float(inp),), g, float),
    }
    m.warm_input = {"square": 1.0, "double": 1.0}
    return m


def _hello_square(x):
    return x * x


def _primal_and_gradient(name: str, fn, primal, prep, primal_out, gradient_out, warm: dict) -> Module:
    """An eval whose ``primal`` is Numba's compile of ``primal`` and whose ``gradient`` is
    ``srcgrad.grad(fn, wrt=0)``, both of ``prep(input)``."""
    import numba
    import srcgrad

    m = Module(name)
    m.functions = {"primal": (prep, numba.njit(primal, cache=True), primal_out),
                   "gradient": (prep, srcgrad.grad(fn, wrt=0), gradient_out)}
    m.warm_input = {f: warm for f in m.functions}
    return m


def _tolist(a) -> list:
    return a.tolist()


def _module_lse() -> Module:
    from bench import lse
    return _primal_and_gradient("lse", lse.lse, lse.lse, lambda inp: (_floats(inp["x"]),), float, _tolist,
                                {"x": [0.5, 0.25, 0.75]})


def _module_llsq() -> Module:
    from bench import llsq
    return _primal_and_gradient("llsq", llsq.llsq, llsq.llsq, lambda inp: (_floats(inp["x"]), int(inp["n"])), float,
                                _tolist, {"x": [0.5, 0.25], "n": 4})


def _module_ode() -> Module:
    from bench import ode
    return _primal_and_gradient("ode", ode.ode_last, ode.ode_solution, lambda inp: (_floats(inp["x"]), int(inp["s"])),
                                _tolist, _tolist, {"x": [0.5, 0.25, 0.75], "s": 2})


def _module_det() -> Module:
    from bench import det

    def prep(inp):
        ell = int(inp["ell"])
        return (_floats(inp["A"]).reshape((ell, ell)),)

    return _primal_and_gradient("det", det.det_by_minors, det.det_by_minors, prep, float,
                                lambda a: a.ravel().tolist(), {"A": [1.0, 2.0, 3.0, 4.0], "ell": 2})


def _module_gmm() -> Module:
    import numba
    import srcgrad

    from bench import gmm
    g = srcgrad.grad(gmm.gmm_gradbench, wrt=(0, 1, 2, 3))
    fwd = numba.njit(gmm.gmm_gradbench, cache=True)

    def prep(inp):
        d = int(inp["d"])
        return (_floats(inp["alpha"]), _matrix(inp["mu"], d), _matrix(inp["q"], d),
                _matrix(inp["l"], d * (d - 1) // 2), _matrix(inp["x"], d), float(inp["gamma"]), int(inp["m"]))

    def jac_out(gr):
        return {"alpha": gr[0].tolist(), "mu": gr[1].tolist(), "q": gr[2].tolist(), "l": gr[3].tolist()}

    m = Module("gmm")
    m.functions = {"objective": (prep, fwd, float), "jacobian": (prep, g, jac_out)}
    warm = {"d": 2, "k": 2, "n": 2, "x": [[0.1, 0.2], [0.3, -0.4]], "m": 0, "gamma": 1.0, "alpha": [0.5, -0.5],
            "mu": [[0.1, 0.2], [0.3, 0.4]], "q": [[0.1, -0.1], [0.2, 0.3]], "l": [[0.5], [-0.5]]}
    m.warm_input = {f: warm for f in m.functions}
    return m


def _module_lstm() -> Module:
    import numba
    import srcgrad

    from bench import lstm
    g = srcgrad.grad(lstm.lstm_objective, wrt=(0, 1))
    fwd = numba.njit(lstm.lstm_objective, cache=True)

    def prep(inp):
        b = len(inp["extra_params"][0])
        return (_matrix(inp["main_params"], 4 * b), _matrix(inp["extra_params"], b), _matrix(inp["state"], b),
                _matrix(inp["sequence"], b))

    def jac_out(gr):
        return np.concatenate([gr[0].ravel(), gr[1].ravel()]).tolist()

    m = Module("lstm")
    m.functions = {"objective": (prep, fwd, float), "jacobian": (prep, g, jac_out)}
    mp, ep, st, sq = lstm.lstm_args((1, 3))
    warm = {"main_params": mp.tolist(), "extra_params": ep.tolist(), "state": st.tolist(), "sequence": sq.tolist()}
    m.warm_input = {f: warm for f in m.functions}
    return m


def _module_ba() -> Module:
    import numba
    import srcgrad

    from bench import ba
    g = srcgrad.grad(ba.ba_rows, wrt=(0, 1, 2))
    objective_nb = numba.njit(ba.reprojection_loop, cache=True)

    def prep(inp):
        n, mm, p = int(inp["n"]), int(inp["m"]), int(inp["p"])
        cams = np.tile(_floats(inp["cam"]), (n, 1))
        X = np.tile(_floats(inp["x"]), (mm, 1))
        w = np.full(p, float(inp["w"]))
        feats = np.tile(_floats(inp["feat"]), (p, 1))
        obs = np.stack([np.arange(p) % n, np.arange(p) % mm], axis=1)
        return ({"cams": cams, "X": X, "w": w, "feats": feats, "obs": obs},)

    def objective(prob):
        return objective_nb(prob["cams"], prob["X"], prob["w"], prob["feats"], prob["obs"])

    def objective_out(res):
        reproj, werr = res
        return {"reproj_error": {"elements": reproj[:2].tolist(), "repeated": int(reproj.shape[0] // 2)},
                "w_err": {"element": float(werr[0]), "repeated": int(werr.shape[0])}}

    def jacobian(prob):
        grads = g(*ba.row_copies(prob))
        return ba.jacobian_coo(prob, *grads)

    def jacobian_out(coo):
        rows, cols, vals = coo
        return {"rows": [int(v) for v in rows[:30]] + [int(rows[-1])],
                "cols": [int(v) for v in cols[:30]] + [int(cols[-1])],
                "vals": [float(v) for v in vals[:30]] + [float(vals[-1])]}

    m = Module("ba")
    m.functions = {"objective": (prep, objective, objective_out), "jacobian": (prep, jacobian, jacobian_out)}
    warm = {"n": 2, "m": 3, "p": 4, "cam": [0.1, -0.2, 0.05, 0.1, 0.0, -0.1, 500.0, 1.0, -1.0, 0.01, 0.001],
            "x": [0.5, -0.3, 6.0], "w": 0.9, "feat": [10.0, -20.0]}
    m.warm_input = {f: warm for f in m.functions}
    return m


def _module_kmeans() -> Module:
    import numba

    from bench import kmeans
    newton = kmeans.KMeansSrcgrad(kmeans.kmeans_cost_argmin)
    fwd = numba.njit(kmeans.kmeans_cost, cache=True)

    def prep(inp):
        points = inp["points"]
        d = len(points[0]) if points else len(inp["centroids"][0])
        return (_matrix(points, d), _matrix(inp["centroids"], d))

    def direction(points, centroids):
        return newton(points, centroids)[3]

    m = Module("kmeans")
    m.functions = {"cost": (prep, fwd, float), "dir": (prep, direction, lambda a: a.tolist())}
    warm = {"points": [[0.1, 0.2], [0.3, 0.4], [0.9, 0.8]], "centroids": [[0.3, 0.4], [0.9, 0.8]]}
    m.warm_input = {f: warm for f in m.functions}
    return m


NESTED_VARIANTS = ("ff", "fr", "rf", "rr")  # GradBench's four names, one srcgrad answer (reverse over forward)


def _module_particle() -> Module:
    import srcgrad

    from bench import particle
    vg = srcgrad.value_and_grad(particle.naive_euler_scalar, wrt=0)  # the position as floats: faster

    def argmin_w(w0):
        return particle.solve(lambda w: vg(w, particle.GRADBENCH_DT), w0)[0]

    m = Module("particle")
    m.functions = {v: (lambda inp: (float(inp["w"]),), argmin_w, float) for v in NESTED_VARIANTS}
    m.warm_input = {v: {"w": particle.GRADBENCH_W0} for v in NESTED_VARIANTS}
    return m


def _module_saddle() -> Module:
    import srcgrad

    from bench import saddle
    vg = srcgrad.value_and_grad(saddle.max_f, wrt=0)

    def saddle_point(start):
        return saddle.solve(lambda x: vg(x, start), saddle.grad_f_y, start)[0]

    m = Module("saddle")
    m.functions = {v: (lambda inp: (_floats(inp["start"]),), saddle_point, lambda a: a.tolist())
                   for v in NESTED_VARIANTS}
    m.warm_input = {v: {"start": list(saddle.GRADBENCH_START)} for v in NESTED_VARIANTS}
    return m


BUILDERS: dict[str, Callable[[], Module]] = {
    "hello": _module_hello, "lse": _module_lse, "llsq": _module_llsq, "ode": _module_ode, "det": _module_det,
    "gmm": _module_gmm, "lstm": _module_lstm, "ba": _module_ba, "kmeans": _module_kmeans,
    "particle": _module_particle, "saddle": _module_saddle,
}


# --------------------------------------------------------------------------
# the protocol
# --------------------------------------------------------------------------

class Tool:
    def __init__(self):
        self.modules: dict[str, Module] = {}

    def handle(self, message: dict) -> dict:
        kind = message.get("kind")
        reply: dict[str, Any] = {"id": message.get("id")}
        if kind == "start":
            import srcgrad
            reply["tool"] = "srcgrad"
            reply["config"] = {"srcgrad": srcgrad.__version__, "multithreaded": False}
        elif kind == "define":
            reply.update(self.define(message.get("module")))
        elif kind == "evaluate":
            reply.update(self.evaluate(message.get("module"), message.get("function"), message.get("input")))
        return reply

    def define(self, name) -> dict:
        if name in PENDING or name not in BUILDERS:
            why = PENDING.get(name, "no such module in srcgrad's GradBench tool")
            return {"success": False, "error": f"{name}: {why}"}
        t0 = time.perf_counter_ns()
        try:
            mod = BUILDERS[name]()
            t1 = time.perf_counter_ns()
            for fname, (prep, compute, post) in mod.functions.items():
                post(compute(*prep(mod.warm_input[fname])))
            t2 = time.perf_counter_ns()
        except Exception as exc:  # noqa: BLE001 - reported to the eval
            return {"success": False, "error": "".join(traceback.format_exception(exc))[-4000:]}
        self.modules[name] = mod
        return {"success": True, "timings": [{"name": "build", "nanoseconds": t1 - t0},
                                             {"name": "compile", "nanoseconds": t2 - t1}]}

    def evaluate(self, module, function, inp) -> dict:
        mod = self.modules.get(module)
        if mod is None:
            return {"success": False, "error": f"module {module!r} was not defined"}
        if function not in mod.functions:
            return {"success": False, "error": f"module {module!r} has no function {function!r}"}
        prep, compute, post = mod.functions[function]
        try:
            t0 = time.perf_counter_ns()
            args = prep(inp)
            timings = [{"name": "prepare", "nanoseconds": time.perf_counter_ns() - t0}]
            min_runs = int(inp.get("min_runs", 1)) if isinstance(inp, dict) else 1
            min_seconds = float(inp.get("min_seconds", 0.0)) if isinstance(inp, dict) else 0.0
            runs = 0
            elapsed = 0
            while runs < max(1, min_runs) or elapsed < min_seconds * 1e9:
                start = time.perf_counter_ns()
                result = compute(*args)
                dt = time.perf_counter_ns() - start
                timings.append({"name": "evaluate", "nanoseconds": dt})
                runs += 1
                elapsed += dt
            return {"success": True, "output": post(result), "timings": timings}
        except Exception as exc:  # noqa: BLE001 - reported to the eval
            return {"success": False, "error": "".join(traceback.format_exception(exc))[-4000:]}


def serve(lines, write: Callable[[str], None]) -> None:
    """Answer every message line with one response line."""
    tool = Tool()
    for line in lines:
        if not line.strip():
            continue
        message = json.loads(line)
        write(json.dumps(tool.handle(message)))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.gradbench", description=__doc__.split("\n\n")[0])
    ap.add_argument("--multithreaded", action="store_true", help="accepted for GradBench; srcgrad runs on one thread")
    ap.parse_args(argv)
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol

    def write(s: str) -> None:
        out.write(s + "\n")
        out.flush()

    try:
        serve(sys.stdin, write)
    finally:
        sys.stdout = out
    return 0


if __name__ == "__main__":
    sys.exit(main())
