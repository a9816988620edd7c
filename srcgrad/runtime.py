"""The tape used by generated adjoints: typed stacks on NumPy buffers.

A tape is a buffer and its top, held in two local variables of the generated
function: ``_tf, _nf`` for floats, ``_ti, _ni`` for integers and ``_tb, _nb``
for booleans (branch decisions). Before a loop the forward sweep reserves room
for everything the loop will push (``reserve``), so ``push`` itself never
reallocates: rebinding a buffer inside a hot loop costs Numba a reference
count update per iteration, several times the cost of the store.

The helpers are plain Python functions registered with Numba, so the same
generated module runs compiled (Numba inlines them) and uncompiled
(``jit=False``) without change.
"""

from __future__ import annotations

import numpy as np
from numba.extending import overload, register_jitable
from numba.typed import List

__all__ = ["tape_f", "tape_i", "tape_b", "reserve", "push", "pop", "range_len", "tape_ref",
           "ref_bytes"]


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
def reserve(buf, top, n):
    """`buf`, or a larger copy of it, with room for `n` more values above `top`."""
    if top + n <= buf.shape[0]:
        return buf
    size = max(2 * buf.shape[0], top + n)
    new = np.empty(size, buf.dtype)
    for k in range(top):  # a loop: a slice copy costs Numba ~2 s more to compile
        new[k] = buf[k]
    return new


@register_jitable
def push(buf, top, value):
    """Store `value` at `top`; return the new top."""
    if top >= buf.shape[0]:
        raise IndexError("srcgrad internal error: tape overflow (reserve was too small)")
    buf[top] = value
    return top + 1


@register_jitable
def pop(buf, top):
    """The value below `top`, and the new top."""
    return buf[top - 1], top - 1


@register_jitable
def range_len(start, stop, step):
    """len(range(start, stop, step)), for running a loop backwards."""
    if step > 0:
        n = (stop - start + step - 1) // step
    else:
        n = (start - stop - step - 1) // (-step)
    return n if n > 0 else 0


def tape_ref(like):
    """A tape of references to arrays of `like`'s type (a list: push is append)."""
    return []


@overload(tape_ref)
def _tape_ref_jit(like):
    item = like

    def impl(like):
        return List.empty_list(item)
    return impl


@register_jitable
def ref_bytes(refs):
    """Bytes held by the arrays a reference tape keeps alive."""
    total = 0
    for a in refs:
        total += a.size * a.itemsize
    return total
