"""Stage 9, compile: write the generated module to a file, import it, njit it.

The module is written under a content-hash name in the cache folder
(``$SRCGRAD_CACHE_DIR``, else ``~/.cache/srcgrad``): a real file, so Numba's
on-disk cache works across processes and tracebacks show generated lines.
Compiled functions are also cached in memory by source hash.
"""

from __future__ import annotations

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
