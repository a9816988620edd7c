"""The disk cache of generated modules: what stages types..emit made, kept across processes.

Numba's own disk cache keeps the machine code of a generated module, but generating
it again in a new process costs Numba's type inference of the normalized function
(stage types, seconds for a small MLP). So :func:`pipeline.generate` keeps its result
here, keyed by everything it depends on:

* the normalized function's text (helpers and nested derivatives inlined, each line
  with the user's line number and text), the file it came from, and the values of the
  constants it reads (arrays by a hash of their bytes);
* the argument types, the differentiated parameters and the mode;
* the versions of srcgrad, Numba, NumPy and Python, and a hash of srcgrad's own
  source (an edited compiler never reads an old entry).

A process that finds its entry skips types..emit and imports the module, which Numba
then loads from its cache: no type inference of the user's function, no compile.
Functions with custom_vjp rules (whose Python functions the module calls) are not
cached. ``SRCGRAD_DISK_CACHE=0`` turns the cache off; it lives in the folder of the
generated modules (jit.cache_dir()), under ``generated/``.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
import threading
from pathlib import Path

import numba
import numpy as np

from .._version import __version__
from .jit import cache_dir

_PACKAGE = Path(__file__).resolve().parent.parent
_LOCK = threading.Lock()
_SOURCE_HASH: list[str] = []


def enabled() -> bool:
    return os.environ.get("SRCGRAD_DISK_CACHE", "1") not in ("0", "false", "no", "off")


def _package_hash() -> str:
    """A hash of srcgrad's own source files, once per process."""
    with _LOCK:
        if not _SOURCE_HASH:
            h = hashlib.sha256()
            for path in sorted(_PACKAGE.rglob("*.py")):
                h.update(str(path.relative_to(_PACKAGE)).encode())
                h.update(path.read_bytes())
            _SOURCE_HASH.append(h.hexdigest()[:16])
        return _SOURCE_HASH[0]


def _value_digest(value) -> str | None:
    """A constant's contents as text for the key; None for one that cannot be keyed."""
    if isinstance(value, np.ndarray):
        data = np.ascontiguousarray(value)
        return f"array {data.dtype.str} {data.shape} " + hashlib.sha256(
            data.tobytes()).hexdigest()
    if isinstance(value, (bool, int, float, complex, str, np.generic)) or value is None:
        return f"{type(value).__name__} {value!r}"
    if isinstance(value, tuple):
        parts = [_value_digest(v) for v in value]
        return None if None in parts else "(" + ", ".join(parts) + ")"
    return None


def key_for(normalized: str, filename: str, constants: dict, customs: dict,
            arg_types: tuple, wrt, mode: str) -> str | None:
    """The cache key of one generation, or None when it cannot be cached."""
    if not enabled() or customs:
        return None
    parts = [__version__, numba.__version__, np.__version__, sys.version, _package_hash(),
             mode, repr(tuple(arg_types)), repr(tuple(wrt)), filename, normalized]
    for name in sorted(constants):
        value = constants[name]
        if callable(value):
            qualified = getattr(value, "__qualname__", None)
            module = getattr(value, "__module__", None)
            if not qualified or not module:
                return None
            parts.append(f"{name} = function {module}.{qualified}")
            continue
        digest = _value_digest(value)
        if digest is None:
            return None
        parts.append(f"{name} = {digest}")
    return hashlib.sha256("\n\x00".join(parts).encode()).hexdigest()[:32]


def _path(key: str) -> Path:
    return cache_dir() / "generated" / f"{key}.pkl"


def load(key: str | None):
    """The object stored under `key`, or None (absent, unreadable, another format)."""
    if key is None:
        return None
    try:
        with open(_path(key), "rb") as f:
            return pickle.load(f)
    except Exception:  # noqa: BLE001 - a bad entry is a miss, generated again
        return None


def store(key: str | None, value) -> None:
    """Keep `value` under `key` (written atomically; a failure only loses the entry)."""
    if key is None:
        return
    path = _path(key)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        with open(tmp, "wb") as f:
            pickle.dump(value, f, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, path)
    except Exception:  # noqa: BLE001 - caching is an optimization
        return
