"""``tape_limit``: running a checkpointed adjoint within a memory limit.

A GradFunction made with ``tape_limit`` compiles its adjoint with checkpointed loops
(compiler/checkpoint.py) and runs it here. The limit covers the tape buffers and the
checkpoints. Each call splits it: about half for the tape of one *unit* (the iterations
reversed at once) and the rest for checkpoints. The first call reverses one iteration at
a time and measures its tape; later calls take units of as many iterations as fit in
half the limit, which leaves fewer units to schedule and fewer to run again.
"""

from __future__ import annotations

import os
import re
import threading
from dataclasses import dataclass

import numpy as np

from .compiler.checkpoint import CK_TOO_SMALL, CKP_SIZE
from .compiler.tapegen import KINDS
from .errors import InternalError, TapeLimitError, UsageError

_DTYPES = {"f": np.float64, "i": np.int64, "b": np.bool_}
_WIDTH = dict(KINDS)   # bytes per value of each tape kind
_UNITS = {"": 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
          "KIB": 2**10, "MIB": 2**20, "GIB": 2**30, "TIB": 2**40}
_FIRST_BUFFER = 256


class TapeTooLarge(Exception):
    """A tape would pass the default limit (raised and caught inside gradfn)."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def default_limit() -> int | None:
    """The tape limit of a gradient made without tape_limit: SRCGRAD_TAPE_LIMIT (bytes,
    or a string such as "8GB"; "none" for no limit), else half the machine's memory.
    Below it the tape is unlimited, as fast as it gets; a tape that would pass it runs
    checkpointed within it instead of running out of memory."""
    text = os.environ.get("SRCGRAD_TAPE_LIMIT")
    if text is not None:
        return None if text.strip().lower() in ("", "none", "0") else parse_limit(text)
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):
        return None


def parse_limit(limit) -> int | None:
    """Bytes from an int or a string such as "64MB", "1.5GiB" or "512kB" (None stays)."""
    if limit is None:
        return None
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool):
        value = int(limit)
    elif isinstance(limit, float) and limit.is_integer():
        value = int(limit)
    elif isinstance(limit, str):
        m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]*)?)\s*([A-Za-z]*)\s*", limit)
        if m is None or m.group(2).upper() not in _UNITS:
            raise UsageError(f"tape_limit={limit!r}: write bytes as an int, or a string "
                             "such as '64MB', '512KB' or '2GiB'")
        value = int(float(m.group(1)) * _UNITS[m.group(2).upper()])
    else:
        raise UsageError(f"tape_limit={limit!r}: write bytes as an int, or a string such "
                         "as '64MB'")
    if value <= 0:
        raise UsageError(f"tape_limit={limit!r}: the limit must be positive")
    return value


@dataclass(frozen=True)
class TapeInfo:
    """What one call of a gradient with ``tape_limit`` used (``g.tape_info(...)``).

    peak_bytes: the most memory its tape and checkpoints held at once (at most the
        limit, plus a constant);
    checkpoint_bytes: the most the checkpoints held;
    unit_tape_bytes: the largest tape of one unit;
    checkpoints: checkpoints stored; iterations: iterations of the checkpointed loops;
    recomputed: iterations the reverse sweep ran again from checkpoints;
    unit: iterations reversed at once; loops: loops checkpointed."""

    limit: int
    peak_bytes: int
    checkpoint_bytes: int
    unit_tape_bytes: int
    checkpoints: int
    iterations: int
    recomputed: int
    unit: int
    loops: int


class Checkpointed(threading.local):
    """The buffers and unit size of one gradient function with a tape limit (per
    thread), and what its last call did."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.bufs: dict[str, np.ndarray] = {}
        self.unit = 1
        self.refs = 0            # bytes of array references one iteration tapes
        self.base = 0            # bytes the forward sweep tapes outside checkpointed loops
        self.last: TapeInfo | None = None

    def _buffers(self, kinds: str) -> tuple:
        # the first buffers take at most a sixteenth of the limit: they grow when an
        # iteration needs more
        return tuple(self.bufs.setdefault(k, np.empty(self._first(k), _DTYPES[k]))
                     for k in kinds)

    def _first(self, kind: str) -> int:
        return max(4, min(_FIRST_BUFFER, self.limit // 16 // _WIDTH[kind]))

    def run(self, fn, kinds: str, args: tuple, seed):
        for _ in range(64):
            bufs = self._buffers(kinds)
            held = sum(b.nbytes for b in bufs) + self.refs * self.unit + self.base
            ckp = np.zeros(CKP_SIZE, np.int64)
            ckp[0] = self.limit - held
            ckp[1] = self.unit
            value, grads, nbytes, tops = fn(*args, seed, *bufs, ckp)
            if ckp[2] == CK_TOO_SMALL:
                if self.unit > 1:
                    self.unit = max(1, self.unit // 4)
                    continue
                # buffers that fit one iteration exactly, if the limit then holds them
                # and a checkpoint; else the error says how much that is
                sizes, refs = self._probe(fn, kinds, args, seed, int(ckp[3]))
                need = int(ckp[3]) + refs + sum(sizes[k] * _WIDTH[k] for k in kinds)
                if need <= self.limit and any(len(self.bufs[k]) != sizes[k] for k in kinds):
                    self.bufs = {k: np.empty(sizes[k], _DTYPES[k]) for k in kinds}
                    self.refs = refs
                    continue
                raise TapeLimitError(
                    f"tape_limit={self.limit:,} bytes is too small: the tape of one "
                    f"iteration and one checkpoint need {need:,} bytes. "
                    f"Pass tape_limit={_round_up(need)} or more")
            if nbytes < 0:   # a tape of the forward sweep or of one unit did not fit
                need = {k: int(tops["fib".index(k)]) for k in kinds}
                grown = {k: max(len(self.bufs[k]), n + n // 8 + 16) for k, n in need.items()}
                total = sum(grown[k] * _WIDTH[k] for k in kinds)
                if total + self.refs * self.unit > self.limit // 2 and self.unit > 1:
                    self.unit = max(1, self.unit // 4)
                    continue
                if total >= self.limit:
                    raise TapeLimitError(
                        f"tape_limit={self.limit:,} bytes is too small: the tape of one "
                        f"iteration and one checkpoint need {2 * total:,} bytes. Pass "
                        f"tape_limit={_round_up(2 * total)} or more")
                self.bufs = {k: np.empty(grown[k], _DTYPES[k]) for k in kinds}
                continue
            known = (self.refs, self.base)
            self._note(ckp, nbytes, kinds)
            if self.last.peak_bytes > self.limit:
                if (self.refs, self.base) != known:
                    # the arrays one iteration tapes, or the tape outside the loops, were
                    # not known before this call: run again with room for them
                    continue
                need = self.last.peak_bytes
                raise TapeLimitError(
                    f"tape_limit={self.limit:,} bytes is too small: the tape of one "
                    f"iteration and one checkpoint need {need:,} bytes. Pass "
                    f"tape_limit={_round_up(need)} or more")
            return value, grads, self.last.peak_bytes
        raise InternalError("srcgrad failed running a checkpointed gradient: the tape "
                            "sizes did not settle. This is a bug in srcgrad; please "
                            "report it")

    def _probe(self, fn, kinds: str, args: tuple, seed, slot: int) -> tuple[dict, int]:
        """The buffer sizes (values of each kind) and array bytes that the forward sweep
        and the tape of one iteration need: a run that stops after reversing its first
        unit, with one checkpoint."""
        bufs = {k: np.empty(1 << 12, _DTYPES[k]) for k in kinds}
        for _ in range(64):
            ckp = np.zeros(CKP_SIZE, np.int64)
            ckp[0], ckp[1], ckp[14] = slot, 1, 1
            _, _, nbytes, tops = fn(*args, seed, *(bufs[k] for k in kinds), ckp)
            need = {k: int(tops["fib".index(k)]) for k in kinds}
            if all(need[k] <= len(bufs[k]) for k in kinds):
                return {k: n + n // 8 + 16 for k, n in need.items()}, int(ckp[13])
            bufs = {k: np.empty(max(need[k], len(bufs[k])), _DTYPES[k]) for k in kinds}
        raise InternalError("srcgrad failed measuring the tape of one iteration. This is a "
                            "bug in srcgrad; please report it")

    def _note(self, ckp: np.ndarray, nbytes: int, kinds: str) -> None:
        unit_bytes = int(ckp[6])
        self.last = TapeInfo(limit=self.limit, peak_bytes=int(ckp[5]) + unit_bytes + int(nbytes),
                             checkpoint_bytes=int(ckp[5]), unit_tape_bytes=unit_bytes,
                             checkpoints=int(ckp[7]), iterations=int(ckp[9]),
                             recomputed=int(ckp[4]), unit=self.unit, loops=int(ckp[8]))
        self.base = max(self.base, int(nbytes))
        if not ckp[8] or not unit_bytes:
            return
        # the next call: units of as many iterations as fit in half the limit
        per = {k: ckp[10 + "fib".index(k)] / self.unit for k in kinds}
        self.refs = int(np.ceil(ckp[13] / self.unit))
        per_iteration = unit_bytes / self.unit
        unit = int(max(1, min((self.limit // 2) // max(per_iteration, 1),
                              max(int(ckp[9]), 1))))
        if unit != self.unit:
            for k in kinds:
                want = int(np.ceil(per[k] * unit * 1.125)) + self._first(k)
                if want != len(self.bufs[k]):
                    self.bufs[k] = np.empty(want, _DTYPES[k])
            self.unit = unit


def _round_up(n: int) -> str:
    for unit, size in (("GB", 10**9), ("MB", 10**6), ("KB", 10**3)):
        if n >= size:
            return repr(f"{-(-n * 10 // size) / 10:g}{unit}")
    return str(n)
