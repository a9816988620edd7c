"""Stage 9, compile: write the generated module to a file, import it, njit it.

The module is written under a content-hash name in the cache folder
(``$SRCGRAD_CACHE_DIR``, else ``~/.cache/srcgrad``): a real file, so Numba's
on-disk cache works across processes and tracebacks show generated lines.
Compiled functions are also cached in memory by source hash.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import inspect
import os
import sys
import tempfile
import threading
from pathlib import Path

import numba
import numpy as np

_LOCK = threading.RLock()
_MODULES: dict[str, object] = {}
_COMPILED: dict[tuple[str, str, bool], object] = {}


def cache_dir() -> Path:
    env = os.environ.get("SRCGRAD_CACHE_DIR")
    if env:
        path = Path(env)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                                ".cache")
        path = Path(base) / "srcgrad"
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".writable"
        probe.touch()
    except OSError:
        path = Path(tempfile.gettempdir()) / "srcgrad"
        path.mkdir(parents=True, exist_ok=True)
    return path


def source_hash(source: str) -> str:
    return hashlib.sha256(source.encode()).hexdigest()[:20]


def module_path(name: str, source: str) -> Path:
    return cache_dir() / f"srcgrad_{name}_{source_hash(source)}.py"


def load_module(name: str, source: str, injected: dict | None = None):
    """Import the generated module (writing its file first if needed). `injected`
    global arrays are set on the module before its code runs (the source names them
    in a comment with a hash of their contents, so new contents mean a new module)."""
    path = module_path(name, source)
    key = str(path)
    with _LOCK:
        if key in _MODULES:
            return _MODULES[key]
        if not path.exists() or path.read_text() != source:
            tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(source)
            os.replace(tmp, path)
        mod_name = path.stem
        spec = importlib.util.spec_from_file_location(mod_name, path)
        module = importlib.util.module_from_spec(spec)
        module.__dict__.update(injected or {})
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        _MODULES[key] = module
        return module


def compiled(name: str, source: str, func_name: str, jit: bool,
             injected: dict | None = None):
    """The function `func_name` of the generated module, njit-ed unless jit=False."""
    key = (source_hash(source) + name, func_name, jit)
    with _LOCK:
        if key in _COMPILED:
            return _COMPILED[key]
        module = load_module(name, source, injected)
        fn = getattr(module, func_name)
        if jit:
            # what the adjoint calls (a fused loop's iteration adjoint, see
            # reverse.Reverse._outline) is compiled first, and called compiled
            for other, value in list(vars(module).items()):
                if "_adjoint_iteration" in other and inspect.isfunction(value):
                    setattr(module, other, numba.njit(cache=_cacheable(injected),
                                                      error_model="numpy")(value))
            fn = numba.njit(cache=_cacheable(injected), error_model="numpy")(fn)
        _COMPILED[key] = fn
        return fn


def _cacheable(injected: dict | None) -> bool:
    """Numba's disk cache can hold a function that calls other compiled functions
    (custom_vjp rules) only if their modules can be imported again in a new
    process; functions made by exec (a notebook cell, a doc test) cannot."""
    import importlib.util
    for value in (injected or {}).values():
        py_func = getattr(value, "py_func", None)
        module = getattr(py_func, "__module__", None)
        if py_func is None:
            continue
        try:
            if module is None or importlib.util.find_spec(module) is None:
                return False
        except (ImportError, ValueError):
            return False
    return True


def note_user_line(exc: Exception, fn, linemap: list, cap, call: tuple | None = None,
                   what: str = "adjoint") -> None:
    """An exception raised inside generated function `fn`: note the user's line the
    failing generated line came from (`linemap`, the emitter's line map). Compiled code
    keeps no traceback, so it is located by running the same generated source
    uncompiled on copies of `call` (the generated function's arguments): nothing is
    spent unless something raised."""
    located: BaseException | None = exc
    if hasattr(fn, "py_func"):
        if call is None:
            return
        fn = fn.py_func
        located = _rerun_uncompiled(fn, call)
        if located is None:
            exc.add_note("srcgrad: compiled code raised this; the same generated code run "
                         "uncompiled (jit=False) on these arguments does not, so no line of "
                         "yours is known")
            return
    code = getattr(fn, "__code__", None)
    if code is None:
        return
    line = None
    tb = located.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == code.co_filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    if line is None or not 1 <= line <= len(linemap) or linemap[line - 1] is None:
        return
    src = linemap[line - 1]
    filename = getattr(src, "file", cap.filename)
    text = getattr(src, "text", None) or cap.line_text(int(src))
    exc.add_note(f"srcgrad: raised at line {line} of the generated {what}, which comes from "
                 f"{filename}:{int(src)}: {text}")


def _rerun_uncompiled(py_func, call: tuple) -> BaseException | None:
    """The exception the uncompiled generated function raises on copies of `call`."""
    copies = tuple(np.copy(a) if isinstance(a, np.ndarray) else a for a in call)
    try:
        py_func(*copies)
    except Exception as again:  # noqa: BLE001 - whatever it is, it locates the line
        return again
    return None


# -- first calls and calls from Numba code ----------------------------------------------

ANNOUNCE_AFTER_S = 2.0   # a first call slower than this says what it compiles


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype}[{', '.join(':' * value.ndim)}]" if value.ndim else \
            f"{value.dtype}[()]"
    if isinstance(value, (tuple, list, dict)):
        return type(value).__name__
    return type(value).__name__


@contextlib.contextmanager
def announce_slow(what: str, args: tuple):
    """Around a first call: if it lasts more than ANNOUNCE_AFTER_S, one line on stderr
    says what is being compiled (SRCGRAD_QUIET=1 silences it)."""
    if os.environ.get("SRCGRAD_QUIET", "0") not in ("0", "", "false", "no"):
        yield
        return
    line = (f"srcgrad: compiling the {what} for ({', '.join(_describe(a) for a in args)}); "
            "the first call for these argument types compiles, later calls and processes "
            "reuse it (SRCGRAD_QUIET=1 silences this)\n")
    timer = threading.Timer(ANNOUNCE_AFTER_S, lambda: (sys.stderr.write(line),
                                                        sys.stderr.flush()))
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


_WRAPPERS: dict[tuple, object] = {}
_TAPE_NUMPY = {"f": "np.float64", "i": "np.int64", "b": np.bool_}


def njit_wrapper(built, nargs: int, single: bool, with_value: bool, sizes: dict | None = None):
    """A Numba function of the user's arguments that runs the compiled adjoint
    `built.fn` with a seed of 1.0 and its own tapes (`sizes`: a first size per tape
    kind; a call that needs more runs again on tapes that fit), and returns the
    gradient(s), after the value for value_and_grad."""
    sizes = sizes or {}
    key = (id(built.fn), nargs, single, with_value, tuple(sorted(sizes.items())))
    with _LOCK:
        if key in _WRAPPERS:
            return _WRAPPERS[key][1]
        args = ", ".join(f"a{j}" for j in range(nargs))
        kinds = built.tapes
        lines = [f"def gradient({args}):"]
        for k in kinds:
            lines.append(f"    t_{k} = np.empty({max(int(sizes.get(k, 4096)), 16)}, "
                         f"{'np.bool_' if k == 'b' else _TAPE_NUMPY[k]})")
        tapes = "".join(f", t_{k}" for k in kinds)
        lines.append(f"    out = adjoint({args}{', ' if args else ''}1.0{tapes})")
        if kinds:
            lines.append("    if out[2] < 0:")
            for k in kinds:
                lines.append(f"        t_{k} = np.empty(out[3][{'fib'.index(k)}] + 16, "
                             f"t_{k}.dtype)")
            lines.append(f"        out = adjoint({args}{', ' if args else ''}1.0{tapes})")
        grads = "out[1][0]" if single else "out[1]"
        lines.append(f"    return (out[0], {grads})" if with_value else f"    return {grads}")
        scope: dict = {"np": np, "adjoint": built.fn}
        exec(compile("\n".join(lines) + "\n", f"<srcgrad njit {built.func_name}>",  # noqa: S102
                     "exec"), scope)
        fn = numba.njit(error_model="numpy")(scope["gradient"])
        _WRAPPERS[key] = (built, fn)   # built kept alive with its id
        return fn
