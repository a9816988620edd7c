"""Shared helpers for srcgrad benchmarks.

Everything here is deliberately free of srcgrad imports at module level, so a
benchmark can still check and time its non-srcgrad peers while the engine is
broken.

Pieces:

* :func:`time_interleaved` -- wall-time per call for several peers, sampled in
  interleaved (rotating) order, summarised as median / min / quartiles / IQR.
* :func:`summarize` -- the summary statistics used everywhere.
* :func:`fd4_gradient` -- 4th-order central finite differences
  (``srcgrad.check.central_difference``, imported when called).
* :func:`fd4_directional` -- the same along one direction of array arguments.
* :func:`check_close` / :class:`CheckFailed` -- loud agreement checks;
  :func:`check_close_scaled` for arrays whose small components are
  compared against the array's scale.
* :func:`first_call_subprocess` -- first-call latency (transform + compile +
  one call) measured in a fresh interpreter with a chosen ``SRCGRAD_CACHE_DIR``
  (array arguments via ``args_factory``; any peer via ``kind="factory"``).
* :func:`describe_exception` -- one-line reason for a peer that failed.
* :func:`load_warning` -- a warning line when the machine was busy.
* :func:`machine_info` -- CPU model, core count, library versions, date.
* :func:`write_json`, :func:`format_table`, :func:`fmt_time`.
* :func:`blocking` -- a JAX function wrapped to wait for its result.
* :func:`memory_status`, :func:`peak_rss_of_call` -- resident memory (Linux
  ``/proc``): the extra peak resident set of one call.
* :func:`replace_marked_section` -- regenerate a part of a Markdown file between
  ``<!-- bench:NAME:begin -->`` / ``<!-- bench:NAME:end -->`` markers.
"""

from __future__ import annotations

import datetime as _dt
import gc
import importlib
import json
import math
import os
import platform
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

PROJECT_ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = Path(__file__).resolve().parent / "results"  # tracked: what docs/benchmarks.md shows
LOCAL_RESULTS_DIR = RESULTS_DIR / "local"  # untracked (.gitignore): where runs write unless told to save


# --------------------------------------------------------------------------
# statistics and timing
# --------------------------------------------------------------------------

def summarize(samples: Sequence[float]) -> dict:
    """Median, min, max, mean, quartiles and IQR of a list of samples (seconds)."""
    a = np.asarray(samples, dtype=float)
    q1, med, q3 = np.percentile(a, [25.0, 50.0, 75.0])
    return {
        "median": float(med),
        "min": float(a.min()),
        "max": float(a.max()),
        "mean": float(a.mean()),
        "q1": float(q1),
        "q3": float(q3),
        "iqr": float(q3 - q1),
        "repeats": int(a.size),
    }


def _time_loop(fn: Callable, args: tuple, number: int) -> float:
    pc = time.perf_counter
    t0 = pc()
    for _ in range(number):
        fn(*args)
    return pc() - t0


def calibrate_number(fn: Callable, args: tuple, min_sample_s: float, max_number: int = 1_000_000) -> int:
    """Smallest number of back-to-back calls (1, 2, 5, 10, 20, ...) taking >= min_sample_s."""
    fn(*args)  # warm-up (also triggers any lazy compilation)
    number = 1
    steps = (1, 2, 5)
    k = 0
    while number < max_number:
        if _time_loop(fn, args, number) >= min_sample_s:
            return number
        k += 1
        number = steps[k % 3] * 10 ** (k // 3)
    return max_number


def time_interleaved(
    peers: Mapping[str, tuple[Callable, tuple]],
    repeats: int,
    min_sample_s: float = 2e-3,
    max_seconds_per_peer: float | None = None,
    min_repeats: int = 3,
) -> dict[str, dict]:
    """Time several peers, interleaved, and return per-call statistics for each.

    ``peers`` maps a name to ``(fn, args)``.  For each peer a loop count
    ``number`` is calibrated so that one sample (``number`` back-to-back calls)
    lasts at least ``min_sample_s``; a sample's per-call time is its wall time
    divided by ``number``.  The ``repeats`` samples of all peers are taken in
    rounds, one sample per peer per round, with the order rotated each round so
    that no peer is always first after another.  The garbage collector is off
    while sampling.  With ``max_seconds_per_peer``, a peer stops sampling once
    its samples add up to that many seconds and it has ``min_repeats`` of them
    (slow peers get fewer samples, the others keep rotating).  Returns
    ``{name: summarize(samples) | {"number": n, "samples": [...]}}``.
    """
    names = list(peers)
    numbers = {name: calibrate_number(*peers[name], min_sample_s) for name in names}
    samples: dict[str, list[float]] = {name: [] for name in names}
    spent = dict.fromkeys(names, 0.0)
    gc_was_enabled = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        for r in range(repeats):
            k = r % len(names)
            for name in names[k:] + names[:k]:
                if (max_seconds_per_peer is not None and spent[name] >= max_seconds_per_peer
                        and len(samples[name]) >= min_repeats):
                    continue
                fn, args = peers[name]
                wall = _time_loop(fn, args, numbers[name])
                spent[name] += wall
                samples[name].append(wall / numbers[name])
    finally:
        if gc_was_enabled:
            gc.enable()
    out = {}
    for name in names:
        s = summarize(samples[name])
        s["number"] = numbers[name]
        s["samples"] = samples[name]
        out[name] = s
    return out


# --------------------------------------------------------------------------
# correctness checks
# --------------------------------------------------------------------------

class CheckFailed(AssertionError):
    """A benchmark's peers disagree; no timing is reported for wrong answers."""


def rel_err(got, want) -> np.ndarray:
    got = np.atleast_1d(np.asarray(got, dtype=float))
    want = np.atleast_1d(np.asarray(want, dtype=float))
    return np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)


def check_close(label: str, got, want, rtol: float, names: Sequence[str] | None = None) -> float:
    """Raise :class:`CheckFailed` unless every component agrees to ``rtol`` (relative).

    Returns the largest relative error (for the record).
    """
    got_a = np.atleast_1d(np.asarray(got, dtype=float))
    want_a = np.atleast_1d(np.asarray(want, dtype=float))
    if got_a.shape != want_a.shape:
        raise CheckFailed(f"{label}: shape mismatch {got_a.shape} vs {want_a.shape}")
    if not (np.all(np.isfinite(got_a)) and np.all(np.isfinite(want_a))):
        raise CheckFailed(f"{label}: non-finite values: got={got_a.tolist()} want={want_a.tolist()}")
    err = rel_err(got_a, want_a)
    if np.any(err > rtol):
        names = list(names) if names is not None else [str(i) for i in range(got_a.size)]
        lines = [f"{label}: relative error exceeds rtol={rtol:g}"]
        for nm, g, w, e in zip(names, got_a, want_a, err):
            flag = "  <-- FAIL" if e > rtol else ""
            lines.append(f"    {nm:>8}: got {g!r:>24}  want {w!r:>24}  rel.err {e:.3e}{flag}")
        raise CheckFailed("\n".join(lines))
    return float(err.max())


def fd4_gradient(f: Callable[..., float], args: Sequence, wrt: Iterable[int], rel_step: float = 1e-3) -> np.ndarray:
    """4th-order central finite differences (``srcgrad.check.central_difference``) of scalar ``f`` at
    ``args`` w.r.t. the float arguments at positions ``wrt``, the step for argument k
    ``rel_step * max(|args[k]|, 1e-3)``."""
    from srcgrad.check import central_difference
    args = list(args)
    out = []
    for k in wrt:
        def ev(d, k=k):
            a = list(args)
            a[k] = float(args[k]) + d
            return float(f(*a))

        out.append(central_difference(ev, rel_step * max(abs(float(args[k])), 1e-3)))
    return np.asarray(out)


def scaled_err(got, want, floor_rel: float) -> np.ndarray:
    """|got - want| / max(|want|, floor_rel * max|want|), componentwise (flattened)."""
    got_a = np.ravel(np.asarray(got, dtype=float))
    want_a = np.ravel(np.asarray(want, dtype=float))
    scale = float(np.max(np.abs(want_a))) if want_a.size else 0.0
    floor = max(floor_rel * scale, np.finfo(float).tiny)
    return np.abs(got_a - want_a) / np.maximum(np.abs(want_a), floor)


def check_close_scaled(label: str, got, want, rtol: float, floor_rel: float = 1e-6) -> float:
    """Like :func:`check_close` for arrays with components of very different sizes.

    Component i passes if ``|got_i - want_i| <= rtol * max(|want_i|, floor_rel * max_j |want_j|)``:
    relative for the components that matter, and components far below the array's
    scale (where summation order alone moves the last digits) are held to
    ``rtol * floor_rel`` of the largest one.  Shapes must match exactly.  Returns the
    largest scaled error; raises :class:`CheckFailed` listing the worst components.
    """
    got_a = np.asarray(got, dtype=float)
    want_a = np.asarray(want, dtype=float)
    if got_a.shape != want_a.shape:
        raise CheckFailed(f"{label}: shape mismatch {got_a.shape} vs {want_a.shape}")
    if not (np.all(np.isfinite(got_a)) and np.all(np.isfinite(want_a))):
        bad = int(np.sum(~np.isfinite(got_a))) + int(np.sum(~np.isfinite(want_a)))
        raise CheckFailed(f"{label}: {bad} non-finite values")
    err = scaled_err(got_a, want_a, floor_rel)
    if err.size and np.any(err > rtol):
        order = np.argsort(err)[::-1][:8]
        lines = [f"{label}: scaled error exceeds rtol={rtol:g} (floor {floor_rel:g} x max|want|) "
                 f"in {int(np.sum(err > rtol))} of {err.size} components; worst:"]
        flat_g, flat_w = got_a.ravel(), want_a.ravel()
        for i in order:
            idx = np.unravel_index(i, want_a.shape) if want_a.shape else ()
            lines.append(f"    {str(idx):>14}: got {flat_g[i]!r:>24}  want {flat_w[i]!r:>24}  err {err[i]:.3e}")
        raise CheckFailed("\n".join(lines))
    return float(err.max()) if err.size else 0.0


def fd4_directional(f: Callable[..., float], args: Sequence, direction: Mapping[int, Any], step: float) -> float:
    """4th-order central difference (``srcgrad.check.central_difference``, step ``step``) of
    ``t -> f(*args with args[k] + t * direction[k])`` at t = 0.

    ``direction`` maps argument positions to arrays (or floats) of the same shape;
    the other arguments are passed unchanged.  Compare it with ``sum_k <grad_k, direction[k]>``.
    """
    from srcgrad.check import central_difference
    args = list(args)

    def ev(t):
        a = list(args)
        for k, v in direction.items():
            a[k] = np.asarray(args[k], dtype=float) + t * np.asarray(v, dtype=float)
            if np.ndim(args[k]) == 0:
                a[k] = float(a[k])
        return float(f(*a))

    return central_difference(ev, step)


def describe_exception(exc: BaseException, limit: int = 300) -> str:
    """``"TypeName: first line of message"`` cut to ``limit`` characters (for "failed: <reason>")."""
    import re
    msg = re.sub(r"\x1b\[[0-9;]*m", "", str(exc)).strip().splitlines()  # Numba colours its errors
    text = f"{type(exc).__name__}: {msg[0] if msg else ''}"
    if len(msg) > 1:
        hint = next((m.strip() for m in msg[1:] if m.strip()), "")
        if hint:
            text += f" ({hint})"
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------
# first-call latency in a fresh interpreter
# --------------------------------------------------------------------------

_CHILD_CODE = r"""
import json, sys, time
t_start = time.perf_counter()
spec = json.loads(sys.argv[1])
import importlib
kind = spec["kind"]
if kind in ("srcgrad_grad", "srcgrad_value_and_grad"):
    import srcgrad
t_import_srcgrad = time.perf_counter()
mod = importlib.import_module(spec["module"])
if spec.get("args_factory"):
    args = tuple(getattr(mod, spec["args_factory"])(*spec["args"]))
else:
    args = tuple(spec["args"])
t_import_module = time.perf_counter()
f = getattr(mod, spec["func"])
if kind == "srcgrad_grad":
    g = srcgrad.grad(f, wrt=tuple(spec["wrt"]))
elif kind == "srcgrad_value_and_grad":
    g = srcgrad.value_and_grad(f, wrt=tuple(spec["wrt"]))
elif kind == "factory":
    g = f()
else:
    g = f
t_construct = time.perf_counter()
g(*args)
t_first = time.perf_counter()
g(*args)
t_second = time.perf_counter()
steady = []
for _ in range(spec.get("steady_calls", 5)):
    a = time.perf_counter(); g(*args); steady.append(time.perf_counter() - a)
steady.sort()
print("@@RESULT@@" + json.dumps({
    "import_srcgrad_s": t_import_srcgrad - t_start,
    "import_module_s": t_import_module - t_import_srcgrad,
    "construct_s": t_construct - t_import_module,
    "first_call_s": t_first - t_construct,
    "second_call_s": t_second - t_first,
    "steady_call_median_s": steady[len(steady) // 2],
}))
"""


def _dir_size(path: Path) -> tuple[int, int]:
    files = 0
    size = 0
    for p in path.rglob("*"):
        if p.is_file():
            files += 1
            size += p.stat().st_size
    return files, size


def first_call_subprocess(
    module: str,
    func: str,
    args: Sequence,
    wrt: Sequence[int] = (),
    kind: str = "srcgrad_grad",
    cache_dir: str | os.PathLike | None = None,
    timeout: float = 900.0,
    args_factory: str | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> dict:
    """Run ``func`` from ``module`` for the first time in a fresh Python process.

    ``kind`` is ``"srcgrad_grad"`` (time ``srcgrad.grad(f, wrt)`` and its first
    call), ``"srcgrad_value_and_grad"``, or ``"plain"`` (just call ``f``; for a
    ``numba.njit`` dispatcher that is Numba's compile + one call), or
    ``"factory"`` (``func`` takes no arguments and returns the callable to time,
    e.g. a fresh ``jax.jit(jax.grad(...))``; the construction counts as
    construct).  The child's ``SRCGRAD_CACHE_DIR`` is set to ``cache_dir`` when
    given, plus any ``extra_env``.  ``args`` must be JSON-serializable; for array
    arguments name a function ``args_factory`` of ``module`` that returns the
    argument tuple when called with ``*args`` (its run time is counted in
    ``import_module_s``, not in the first call).  Returns the child's phase
    timings plus:

    * ``first_call_total_s`` = construct + first call (transform + compile + one run),
    * ``first_call_overhead_s`` = that minus a steady-state call,
    * ``process_wall_s`` = whole subprocess wall time incl. interpreter start-up,
    * ``cache_files`` / ``cache_bytes`` in ``cache_dir`` afterwards.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    if cache_dir is not None:
        env["SRCGRAD_CACHE_DIR"] = str(cache_dir)
    if extra_env:
        env.update(extra_env)
    spec = {"kind": kind, "module": module, "func": func, "args": list(args), "wrt": list(wrt),
            "args_factory": args_factory}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD_CODE, json.dumps(spec)],
        cwd=str(PROJECT_ROOT), env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )
    wall = time.perf_counter() - t0
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("@@RESULT@@")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(
            f"first-call subprocess ({kind} {module}.{func}) failed, rc={proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-4000:]}\n--- stderr ---\n{proc.stderr[-4000:]}"
        )
    res = json.loads(line[len("@@RESULT@@"):])
    res["first_call_total_s"] = res["construct_s"] + res["first_call_s"]
    res["first_call_overhead_s"] = res["first_call_total_s"] - res["steady_call_median_s"]
    res["process_wall_s"] = wall
    if cache_dir is not None:
        res["cache_files"], res["cache_bytes"] = _dir_size(Path(cache_dir))
    if proc.stderr.strip():
        res["stderr_tail"] = proc.stderr[-2000:]
    return res


# --------------------------------------------------------------------------
# machine info, output
# --------------------------------------------------------------------------

def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for ln in fh:
                if ln.lower().startswith("model name"):
                    return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(modname: str) -> str | None:
    try:
        mod = importlib.import_module(modname)
    except Exception as exc:  # noqa: BLE001 - record why, don't fail
        return f"unavailable ({type(exc).__name__}: {exc})"
    v = getattr(mod, "__version__", None)
    if v is None:
        try:
            from importlib import metadata
            v = metadata.version(modname)
        except Exception:  # noqa: BLE001
            v = "unknown"
    return str(v)


def _git_info() -> dict:
    def git(*a):
        try:
            return subprocess.run(["git", *a], cwd=PROJECT_ROOT, capture_output=True, text=True,
                                  timeout=10, check=False).stdout.strip()
        except Exception:  # noqa: BLE001
            return ""
    return {"commit": git("rev-parse", "--verify", "-q", "HEAD") or None, "dirty": bool(git("status", "--porcelain"))}


def machine_info(packages: Sequence[str] = ("numpy", "numba", "llvmlite", "srcgrad")) -> dict:
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    info = {
        "date_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "versions": {p: _version(p) for p in packages},
        "git": _git_info(),
        "loadavg_1_5_15": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "env": {k: os.environ[k] for k in sorted(os.environ) if k.startswith(("NUMBA_", "SRCGRAD_", "OMP_"))},
    }
    return info


def _jsonable(o: Any):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, np.ndarray):
        return _jsonable(o.tolist())
    if isinstance(o, np.generic):
        return _jsonable(o.item())
    if isinstance(o, float) and not math.isfinite(o):
        return repr(o)  # JSON has no inf/nan
    if isinstance(o, Path):
        return str(o)
    return o


def write_json(path: str | os.PathLike, data: Any) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(_jsonable(data), indent=2, sort_keys=False) + "\n")
    tmp.replace(path)
    return path


def fmt_time(s: float | None) -> str:
    if s is None or not math.isfinite(s):
        return "-"
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
        if s >= scale:
            return f"{s / scale:.3g} {unit}"
    return f"{s / 1e-9:.3g} ns"


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = []
    for j, r in enumerate(cells):
        lines.append("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def load_warning(machine: Mapping, threshold: float = 0.75) -> str | None:
    """A warning if the 1-minute load average (from :func:`machine_info`, at start) or the
    current one exceeds ``threshold`` x the CPU count; else None."""
    cpus = os.cpu_count() or 1
    start = (machine.get("loadavg_1_5_15") or [0.0])[0]
    now = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    worst = max(start, now)
    if worst > threshold * cpus:
        return (f"WARNING: 1-minute load average was {start:.2f} at start and {now:.2f} at the end "
                f"({cpus} CPUs); other processes were probably busy, timings may be noisy.")
    return None


# --------------------------------------------------------------------------
# JAX
# --------------------------------------------------------------------------

def blocking(fn: Callable) -> Callable:
    """``fn`` (a JAX function) wrapped to block until its result is ready."""
    import jax

    def call(*a):
        return jax.block_until_ready(fn(*a))
    return call


# --------------------------------------------------------------------------
# memory
# --------------------------------------------------------------------------

def memory_status() -> dict:
    """``VmRSS`` and ``VmHWM`` (peak) of this process in bytes, from ``/proc/self/status`` ({} elsewhere)."""
    out = {}
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith(("VmRSS:", "VmHWM:")):
                    key, val = ln.split(":", 1)
                    out[key] = int(val.split()[0]) * 1024
    except OSError:
        pass
    return out


def peak_rss_of_call(fn: Callable, args: tuple) -> dict:
    """Run ``fn(*args)`` once and return how much its peak resident set exceeded the one before.

    Resets the kernel's peak counter first (``/proc/self/clear_refs`` with ``5``,
    Linux >= 4.0), so ``peak_extra_bytes = VmHWM after - VmRSS before`` is the extra
    resident memory at the call's peak: what it allocated and touched, less what it
    reused from memory the process already held (run it in a fresh process after a
    warm-up call at a small size to count a workload's own memory).  Returns
    ``{"rss_before_bytes", "peak_bytes", "peak_extra_bytes"}`` or ``{"error": ...}``.
    """
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
    except OSError as exc:
        return {"error": f"cannot reset the peak resident set: {exc}"}
    before = memory_status().get("VmRSS")
    fn(*args)
    after = memory_status()
    if before is None or "VmHWM" not in after:
        return {"error": "no /proc/self/status"}
    return {"rss_before_bytes": before, "peak_bytes": after["VmHWM"],
            "peak_extra_bytes": max(0, after["VmHWM"] - before)}


def fmt_bytes(b: float | None) -> str:
    if b is None or not math.isfinite(b):
        return "-"
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{int(b)} B"


# --------------------------------------------------------------------------
# Markdown sections regenerated by the suite
# --------------------------------------------------------------------------

def section_markers(name: str) -> tuple[str, str]:
    return f"<!-- bench:{name}:begin -->", f"<!-- bench:{name}:end -->"


def replace_marked_section(text: str, name: str, body: str, append_heading: str | None = None) -> str:
    """``text`` with what lies between the markers of ``name`` replaced by ``body``.

    If the markers are missing, they are appended at the end (after
    ``append_heading`` when given).  The markers themselves are kept, so a later
    run replaces the same part again.
    """
    begin, end = section_markers(name)
    block = f"{begin}\n{body.rstrip()}\n{end}"
    i = text.find(begin)
    j = text.find(end)
    if i >= 0 and j > i:
        return text[:i] + block + text[j + len(end):]
    tail = "" if text.endswith("\n") or not text else "\n"
    heading = f"\n{append_heading}\n\n" if append_heading else "\n"
    return text + tail + heading + block + "\n"
