"""check_grad: compare srcgrad's gradient with finite differences of the plain function.

For a few random unit directions ``v`` in the joint space of the ``wrt``
arguments, the directional derivative ``<grad, v>`` of srcgrad's gradient is
compared with a 4th-order central finite difference of ``f`` along ``v``::

    fd = (-f(x + 2hv) + 8 f(x + hv) - 8 f(x - hv) + f(x - 2hv)) / (12 h)

Checking directional derivatives costs 4 evaluations of ``f`` per direction,
whatever the number of parameters, and a random direction touches every
component of the gradient, so a wrong component is found with probability one.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass

import numpy as np

from .compiler.capture import unwrap
from .compiler.infer import arg_type_of
from .compiler.tangent import module_for_second_order, tangent_function
from .errors import GradientCheckError, UsageError
from .gradfn import GradFunction
from .higher import hvp

RTOL = 1e-6            # default rtol when every wrt argument is float64
RTOL_FLOAT32 = 1e-3    # default rtol when some wrt argument is float32
STEP = 1e-3            # default step: STEP * max(1, scale), scale = max |wrt argument|
STEP_FLOAT32 = 1e-2    # the same for float32 arguments
_FD_WEIGHTS = ((2.0, -1.0), (1.0, 8.0), (-1.0, -8.0), (-2.0, 1.0))  # (multiple of h, weight)


@dataclass(frozen=True)
class GradCheck:
    """The result of a gradient check.

    ``rel_errors[k] = |ad_k - fd_k| / max(|ad_k|, |fd_k|, atol / rtol)`` for direction k
    (infinite when either number is not finite), ``max_rel_error`` their maximum, and
    ``ok`` is ``max_rel_error <= rtol``: that is, every direction has
    ``|ad - fd| <= max(rtol * max(|ad|, |fd|), atol)``.
    """

    max_rel_error: float
    directional_ad: tuple[float, ...]
    directional_fd: tuple[float, ...]
    step: float
    ok: bool
    rel_errors: tuple[float, ...] = ()
    rtol: float = RTOL
    atol: float = 1e-9

    def __str__(self) -> str:
        verdict = "ok" if self.ok else "FAILED"
        cmp = "<=" if self.ok else ">"
        lines = [f"gradient check {verdict}: max relative error {self.max_rel_error:.3g} {cmp} "
                 f"rtol {self.rtol:.3g} (atol {self.atol:.3g}) over {len(self.directional_ad)} "
                 f"direction(s), finite-difference step {self.step:.3g}",
                 f"  {'direction':>9}  {'<grad, v> (srcgrad)':>22}  {'finite difference':>22}  "
                 f"{'rel. error':>10}"]
        for k, (ad, fd) in enumerate(zip(self.directional_ad, self.directional_fd)):
            rel = self.rel_errors[k] if k < len(self.rel_errors) else float("nan")
            lines.append(f"  {k:>9}  {ad:>22.15g}  {fd:>22.15g}  {rel:>10.3g}")
        return "\n".join(lines)


# helpers -------------------------------------------------------------------


def _describe(f) -> tuple[str, str, int]:
    """(name, file, first line) of f, for messages."""
    fn = unwrap(f)
    code = getattr(fn, "__code__", None)
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    if code is None:
        return name, "<unknown>", 0
    return name, code.co_filename, code.co_firstlineno


def _param_names(f, indices) -> list[str]:
    try:
        params = list(inspect.signature(unwrap(f)).parameters)
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"argument {i}" for i in indices]


def _is_float32(arg, name: str) -> bool:
    """Validate one wrt argument (a float or a float32/float64 array); True for float32."""
    if type(arg) is float:
        return False
    if isinstance(arg, (np.floating, np.ndarray)) and arg.dtype in (np.float64, np.float32):
        return arg.dtype == np.float32
    if isinstance(arg, (bool, np.bool_)):
        hint = ""
    elif isinstance(arg, (int, np.integer)):
        hint = " (write 2.0, not 2)"
    elif isinstance(arg, np.ndarray):
        hint = " (convert it with .astype(np.float64))"
    else:
        hint = ""
    what = f"an array of {arg.dtype}" if isinstance(arg, np.ndarray) else type(arg).__name__
    raise UsageError(f"check_grad: cannot check the gradient with respect to {name!r}: it is {what}, "
                     f"not a float or a float32/float64 array{hint}")


def _scalar(value, fname: str) -> float:
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.ndarray):
        raise UsageError(f"check_grad: {fname} returns an array (shape {value.shape}, {value.dtype}), but a "
                         "gradient needs a scalar float output; reduce it to a scalar (e.g. .sum()) or "
                         "use srcgrad.vjp with a cotangent")
    if isinstance(value, (tuple, list)):
        raise UsageError(f"check_grad: {fname} returns a {type(value).__name__} of {len(value)} values, but a "
                         "gradient needs one scalar float; return one float or use srcgrad.vjp")
    raise UsageError(f"check_grad: {fname} returns {type(value).__name__} {value!r}, not a float, so its "
                     "gradient is not defined; return a float (reduce arrays to a scalar, or use srcgrad.vjp)")


def _copy(arg):
    return arg.copy() if isinstance(arg, np.ndarray) else arg


def _moved(arg, d):
    """arg + d as a new value of arg's type (d: a float or a float64 array of arg's shape)."""
    if isinstance(arg, np.ndarray):
        return (arg.astype(np.float64) + d).astype(arg.dtype)
    if isinstance(arg, np.floating):
        return type(arg)(float(arg) + d)
    return float(arg) + d


def central_difference(g, h: float) -> float:
    """The derivative at 0 of ``g``, a scalar function of one float, by the 4th-order central difference
    ``(-g(2h) + 8 g(h) - 8 g(-h) + g(-2h)) / (12 h)``, g called at 2h, h, -h, -2h in that order.

    Its truncation error is O(h**4) and its rounding error about eps |g| / h, so h near eps**(1/5) balances
    them for a g that varies on the scale of 1. The directional derivative of ``f`` at ``x`` along ``v`` is
    ``central_difference(lambda t: f(x + t * v), h)``.
    """
    total = 0.0
    for t, w in _FD_WEIGHTS:
        total += w * g(t * h)
    return total / (12.0 * h)


def _rel_error(ad: float, fd: float, floor: float) -> float:
    if not (math.isfinite(ad) and math.isfinite(fd)):
        return math.inf
    diff = abs(ad - fd)
    return 0.0 if diff == 0.0 else diff / max(abs(ad), abs(fd), floor)


# the checker ---------------------------------------------------------------


def directional_check(f, grad_fn, args, wrt_indices, *, directions: int = 3, step: float | None = None,
                      rtol: float | None = None, atol: float = 1e-9, seed: int | None = 0,
                      raise_on_failure: bool = True, directional=None, what: str = "<grad, v>",
                      describe=None) -> GradCheck:
    """Check any gradient callable against 4th-order central finite differences of `f`.

    ``grad_fn(*args)`` returns the gradient with respect to the arguments at positions
    `wrt_indices` (an int or a sequence of ints): one gradient, or a tuple of them in
    that order, each of its argument's shape. `f` and `grad_fn` are always called on
    copies of the array arguments. See `check_grad` for the other parameters.
    `directional(vs)`, if given, replaces ``<grad_fn(*args), v>`` (vs: one piece of the
    direction per wrt argument); `what` names it in messages; `describe` overrides the
    (name, file, line) reported for `f`.
    """
    args = tuple(args)
    indices = [wrt_indices] if isinstance(wrt_indices, (int, np.integer)) else list(wrt_indices)
    fname, filename, lineno = describe or _describe(f)
    names = _param_names(f, indices)
    if not indices:
        raise UsageError("check_grad: wrt is empty; name at least one parameter")
    for i, name in zip(indices, names):
        if isinstance(i, bool) or not isinstance(i, (int, np.integer)):
            raise UsageError(f"check_grad: wrt positions must be ints, got {i!r}")
        if not 0 <= i < len(args):
            raise UsageError(f"check_grad: cannot check the gradient with respect to {name!r}: only "
                             f"{len(args)} argument(s) were passed; pass it positionally")
    if isinstance(directions, bool) or not isinstance(directions, (int, np.integer)) or directions < 1:
        raise UsageError(f"check_grad: directions must be a positive int, got {directions!r}")
    low = [_is_float32(args[i], name) for i, name in zip(indices, names)]
    if rtol is None:
        rtol = RTOL_FLOAT32 if any(low) else RTOL
    if not (rtol > 0 and math.isfinite(rtol)) or not (atol >= 0 and math.isfinite(atol)):
        raise UsageError(f"check_grad: need rtol > 0 and atol >= 0, got rtol={rtol!r}, atol={atol!r}")
    xs = [args[i] for i in indices]
    sizes = [int(np.size(x)) for x in xs]
    if sum(sizes) == 0:
        raise UsageError("check_grad: the wrt arguments are empty arrays; there is nothing to check")
    scale = max(float(np.max(np.abs(x))) for x, n in zip(xs, sizes) if n)
    if not math.isfinite(scale):
        raise UsageError("check_grad: a wrt argument contains nan or inf; check the gradient at finite values")
    if step is None:
        step = (STEP_FLOAT32 if any(low) else STEP) * max(1.0, scale)
    elif not (step > 0 and math.isfinite(step)):
        raise UsageError(f"check_grad: step must be a positive float, got {step!r}")
    step = float(step)

    fn = unwrap(f)

    def f_at(ds, t: float, h: float) -> float:
        call = [_copy(a) for a in args]
        for i, x, d in zip(indices, xs, ds):
            call[i] = _moved(x, d)
        try:
            value = fn(*call)
        except Exception as exc:
            exc.add_note(f"check_grad: raised by {fname} at the finite-difference point x {t:+g} * {h:.3g} * v "
                         "(v a random unit direction); if x is near the edge of f's domain, pass a smaller step=")
            raise
        return _scalar(value, fname)

    _scalar(fn(*(_copy(a) for a in args)), fname)  # a non-scalar output fails before any compile

    grads = grad_fn(*(_copy(a) for a in args)) if directional is None \
        else tuple(np.zeros(np.shape(x)) for x in xs)
    if len(indices) == 1 and not isinstance(grads, (tuple, list)):
        grads = (grads,)
    if not isinstance(grads, (tuple, list)) or len(grads) != len(indices):
        raise UsageError(f"check_grad: the gradient function returned {type(grads).__name__}; expected "
                         f"{len(indices)} gradient(s) for {', '.join(names)}")
    gs = []
    for g, x, name in zip(grads, xs, names):
        g = np.asarray(g, dtype=np.float64)
        if g.shape != np.shape(x):
            raise UsageError(f"check_grad: the gradient for {name!r} has shape {g.shape}, but the argument "
                             f"has shape {np.shape(x)}")
        gs.append(g)

    rng = np.random.default_rng(seed)
    splits = np.cumsum(sizes)[:-1]

    def fd_along(vs, h) -> float:
        return central_difference(lambda s: f_at([s * v for v in vs], s / h, h), h)

    floor = atol / rtol
    ads, fds, rels, dirs = [], [], [], []
    for _ in range(directions):
        flat = rng.standard_normal(sum(sizes))
        flat /= np.linalg.norm(flat)
        vs = [float(p[0]) if np.ndim(x) == 0 else p.reshape(np.shape(x))
              for p, x in zip(np.split(flat, splits), xs)]
        ad = float(sum(np.sum(g * v) for g, v in zip(gs, vs))) if directional is None \
            else float(directional(vs))
        fd = fd_along(vs, step)
        ads.append(ad)
        fds.append(fd)
        rels.append(_rel_error(ad, fd, floor))
        dirs.append(vs)
    worst = max(range(directions), key=rels.__getitem__)
    max_rel = rels[worst]
    ok = max_rel <= rtol
    result = GradCheck(max_rel_error=max_rel, directional_ad=tuple(ads), directional_fd=tuple(fds),
                       step=step, ok=ok, rel_errors=tuple(rels), rtol=float(rtol), atol=float(atol))
    if not ok and raise_on_failure:
        try:
            finer = f"{fd_along(dirs[worst], step / 10):.12g}"
        except Exception as exc:  # only for the message
            finer = f"an error ({type(exc).__name__}: {exc})"
        error = GradientCheckError(
            f"{filename}:{lineno}: gradient check failed for {fname} with respect to {', '.join(names)}: "
            f"along random unit direction {worst} of {directions} (seed={seed}), srcgrad's directional "
            f"derivative {what} is {ads[worst]:.12g} but the 4th-order central finite difference with "
            f"step {step:.3g} gives {fds[worst]:.12g} (relative error {max_rel:.3g} > rtol {rtol:.3g}); "
            f"with step {step / 10:.3g} the finite difference gives {finer}\n"
            "  hint: if the two finite differences disagree, f is not smooth near these arguments "
            "(abs, min/max or an if on a float comparison at a tie, a loop whose trip count changes): "
            "move the point or pass a smaller step=; if they agree with each other but not with "
            f"{what}, the derivative is wrong; if the error is only slightly above rtol, rounding in f "
            "may be the cause: pass a larger step= or a looser rtol=")
        error.result = result
        error.filename = filename
        error.lineno = lineno
        raise error
    return result


_GRADS: dict = {}


def _grad_function(f, wrt, jit: bool):
    """One GradFunction per (f, wrt, jit), so repeated checks reuse compiled code."""

    key = (id(f), repr(wrt), bool(jit))
    entry = _GRADS.get(key)
    if entry is None or entry[0] is not f:
        entry = (f, GradFunction(f, wrt=wrt, jit=jit))
        _GRADS[key] = entry
    return entry[1]


def check_grad(f, *args, wrt=0, directions: int = 3, step: float | None = None, rtol: float | None = None,
               atol: float = 1e-9, seed: int | None = 0, raise_on_failure: bool = True,
               jit: bool = True, modes=("rev",), order: int = 1):
    """Check ``srcgrad.grad(f, wrt=wrt, jit=jit)`` at `args` against finite differences of `f`.

    For `directions` random unit vectors v (``numpy.random.default_rng(seed)``) in the
    joint space of the wrt arguments, compares ``<grad, v>`` with the 4th-order central
    difference ``(-f(x+2hv) + 8f(x+hv) - 8f(x-hv) + f(x-2hv)) / (12h)``; f runs as plain
    Python on copies of the arguments (the caller's arrays are never changed).

    - `wrt`: a position, a parameter name, or a tuple of those, as in ``srcgrad.grad``;
      the wrt arguments must be floats or float32/float64 arrays, passed positionally.
    - `step`: h; default ``1e-3 * max(1, scale)`` (``1e-2 * max(1, scale)`` if any wrt
      argument is float32), scale = the largest absolute value in the wrt arguments.
      1e-3 is about eps**(1/5) for float64, where the h**4 truncation error and the
      eps/h rounding error of this formula balance, for a function that varies on the
      scale of its arguments; for one that varies faster (sin(x) at large x), pass a
      smaller step. float32 arguments stay float32, so f runs in float32 and its
      rounding (eps 6e-8) needs the larger step.
    - `rtol`: default 1e-6 (1e-3 if any wrt argument is float32). Each direction's
      relative error is ``|ad - fd| / max(|ad|, |fd|, atol / rtol)``; the check passes
      when every one is ``<= rtol``, i.e. ``|ad - fd| <= max(rtol * max(|ad|, |fd|), atol)``.
      A non-finite ad or fd counts as an infinite error.

    - `modes`: "rev" (``grad``) and/or "fwd" (``jvp``: the directional derivative along
      v computed directly).
    - `order`: 1, or 2 for second derivatives (one wrt argument): for a random unit
      vector w, ``<H w, v>`` (from ``hvp`` for "rev", from the jvp of the tangent
      function for "fwd") against finite differences of ``<w, grad f>``.

    Returns a `GradCheck` (a tuple of them, one per mode, when `modes` has several).
    Raises ``srcgrad.errors.GradientCheckError`` (with attributes ``result``,
    ``filename``, ``lineno``) if the check fails and `raise_on_failure`, and
    ``srcgrad.errors.UsageError`` if f's value is not a scalar float or a wrt argument
    is not a float or float array.
    """
    modes = (modes,) if isinstance(modes, str) else tuple(modes)
    if not modes or any(m not in ("rev", "fwd") for m in modes):
        raise UsageError(f"check_grad: modes must hold 'rev' and/or 'fwd', got {modes!r}")
    if order not in (1, 2):
        raise UsageError(f"check_grad: order must be 1 or 2, got {order!r}")
    gf = _grad_function(f, wrt, jit)
    indices = list(gf._wrt)
    common = dict(directions=directions, step=step, rtol=rtol, atol=atol, seed=seed,
                  raise_on_failure=raise_on_failure)
    if order == 2:
        return _check_second_order(f, gf, args, indices, jit, modes, common)
    results = []
    for mode in modes:
        if mode == "rev":
            results.append(directional_check(f, gf, args, indices, **common))
            continue
        tangent = tangent_function(f, jit)

        def along(vs, tangent=tangent):
            call = [_copy(a) for a in args]
            tangents = [0.0] * len(args)
            for i, v in zip(indices, vs):
                tangents[i] = v
            return tangent(tuple(call), tuple(tangents), wrt=tuple(indices))[1]

        results.append(directional_check(f, None, args, indices, directional=along,
                                         what="the jvp along v", **common))
    return results[0] if len(results) == 1 else tuple(results)


def _check_second_order(f, gf, args, indices, jit, modes, common):
    """order=2: <H w, v> against finite differences of t -> <w, grad f(x + t v)>, for a
    random unit w; H w by reverse over forward (hvp, mode "rev") or forward over
    forward (the jvp of the tangent function, mode "fwd")."""
    if len(indices) != 1:
        raise UsageError("check_grad(order=2) checks one wrt argument at a time")
    i = indices[0]
    x = args[i]
    rng = np.random.default_rng(None if common["seed"] is None else common["seed"] + 1)
    if np.ndim(x):
        w = rng.standard_normal(np.shape(x))
        w = (w / np.linalg.norm(w)).astype(np.asarray(x).dtype)
    else:
        w = 1.0

    def w_dot_grad(*a):
        return float(np.sum(np.asarray(gf(*a), dtype=np.float64) * w))

    results = []
    for mode in modes:
        if mode == "rev":
            hw = np.asarray(hvp(f, wrt=i, jit=jit)(*(_copy(a) for a in args), w),
                            dtype=np.float64)

            def along(vs, hw=hw):
                return float(np.sum(hw * vs[0]))
        else:
            tangent = tangent_function(f, jit)
            types = tuple(arg_type_of(a) for a in args)
            module = module_for_second_order(tangent, types, (i,))
            inner = tangent_function(getattr(module, f"{tangent.cap.name}_tangent"), jit)

            def along(vs, inner=inner):
                primals = tuple(_copy(a) for a in args) + (w,)
                tangents = [0.0] * len(primals)
                tangents[i] = vs[0]
                return float(inner(primals, tuple(tangents), wrt=(i,))[1])
        results.append(directional_check(
            w_dot_grad, None, args, indices, directional=along,
            what=f"<H w, v> ({'hvp' if mode == 'rev' else 'jvp of the jvp'})",
            describe=_describe(f), **common))
    return results[0] if len(results) == 1 else tuple(results)


__all__ = ["check_grad", "directional_check", "central_difference", "GradCheck", "RTOL", "RTOL_FLOAT32", "STEP",
           "STEP_FLOAT32"]
