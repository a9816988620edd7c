"""The tape used by generated adjoints: typed stacks on NumPy buffers.

A tape is a pair ``(buffer, top)`` held in two local variables of the
generated function: ``_tf, _nf`` for floats, ``_ti, _ni`` for integers and
``_tb, _nb`` for booleans (branch decisions). ``push_*`` returns the buffer
(grown by doubling when full) and the new top; ``pop_*`` returns the value and
the new top. The helpers are plain Python functions registered with Numba, so
the same generated module runs compiled (Numba inlines them) and uncompiled
(``jit=False``) without change.
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

__all__ = ["tape_f", "tape_i", "tape_b", "push_f", "push_i", "push_b",
           "pop_f", "pop_i", "pop_b"]


@register_jitable
def tape_f(capacity):
    return np.empty(capacity, np.float64)


@register_jitable
def tape_i(capacity):
    return np.empty(capacity, np.int64)


@register_jitable
def tape_b(capacity):
    return np.empty(capacity, np.bool_)


@register_jitable
def _grown(buf):
    new = np.empty(2 * buf.shape[0] + 16, buf.dtype)
    new[: buf.shape[0]] = buf
    return new


@register_jitable
def push_f(buf, top, value):
    if top == buf.shape[0]:
        buf = _grown(buf)
    buf[top] = value
    return buf, top + 1


@register_jitable
def push_i(buf, top, value):
    if top == buf.shape[0]:
        buf = _grown(buf)
    buf[top] = value
    return buf, top + 1


@register_jitable
def push_b(buf, top, value):
    if top == buf.shape[0]:
        buf = _grown(buf)
    buf[top] = value
    return buf, top + 1


@register_jitable
def pop_f(buf, top):
    return buf[top - 1], top - 1


@register_jitable
def pop_i(buf, top):
    return buf[top - 1], top - 1


@register_jitable
def pop_b(buf, top):
    return buf[top - 1], top - 1
