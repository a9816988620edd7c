"""Checkpointed reverse sweeps of long loops (``tape_limit``): the schedule.

A checkpointed loop keeps no tape of its iterations in the forward sweep. It stores the
loop-carried state (the checkpoint) at some iterations instead, in *slots*; the reverse
sweep restores a slot, runs forward from it (untaped) to where it needs to be, and then
runs one *unit* (a few iterations, ``k``) taped and reverses it at once. Slot 0 holds
the state at the loop's entry.

The schedule lives in one int64 array (``ck_new``): its header, then the position (in
units) of the checkpoint in each slot. Checkpoints form a stack: the reverse sweep always
works on the segment from the top checkpoint to ``b``, the first unit not yet reversed.
The generated code asks ``ck_next`` what to do and does it: the compiled loop body is the
generated code's, the bookkeeping is here.

**Binomial (Griewank and Walther's Revolve), for a loop whose trip count is known when
it starts.** With ``s`` free slots, the segment of ``l`` units is split where the
recursion costs least: run forward ``j`` units, store a checkpoint, reverse the ``l - j``
units after it with ``s - 1`` slots, free it, reverse the first ``j`` with ``s``. With
``c = s + 1`` checkpoints (the segment's own start counts) and ``r`` the least number
such that ``beta(c, r) = C(c + r, c) >= l``, the least number of units run forward is
``r * l - beta(c + 1, r - 1)``, reached by any ``j`` from
``max(beta(c, r - 2), l - beta(c - 1, r))`` to ``min(beta(c, r - 1), l - beta(c - 1, r - 1))``
(tests/test_checkpoint.py checks it against a search of
every schedule). The forward sweep already runs the loop, so it stores the first chain of
checkpoints on its way (``ck_plan_next``), exactly those this recursion would store.

**Online, for a ``while`` loop (or a ``for`` that may break).** The trip count is known
only at the end. The forward sweep stores a checkpoint every ``d`` units; when the slots
it has filled half the slots, it keeps every other checkpoint and doubles ``d``
(``ck_thin``). At the end the checkpoints are evenly spaced, at most ``d`` apart, and use
between a quarter and half of the slots; the reverse sweep then reverses each gap from the
last with the binomial split and the slots left free (at least half of them: with none,
a gap would be reversed in quadratic time).
"""

from __future__ import annotations

import numpy as np
from numba.extending import register_jitable

__all__ = ["ck_new", "ck_slots", "ck_begin", "ck_plan_next", "ck_push", "ck_online_next",
           "ck_full", "ck_thin", "ck_end", "ck_next", "ck_note_unit", "ck_copy_into",
           "ck_put", "ck_state_bytes", "ck_ref_bytes", "ck_report", "ck_online_due",
           "binomial_beta", "binomial_split",
           "revolve_forward_steps", "CK_HEADER"]

# header fields of a schedule array
_N_UNITS = 0      # units in the loop (-1 while unknown)
_B = 1            # the first unit not yet reversed
_TOP = 2          # the top slot in use (-1: done)
_SLOTS = 3        # slots available
_K = 4            # iterations per unit
_N = 5            # iterations in the loop
_RECOMPUTED = 6   # iterations run again, untaped, by the reverse sweep
_STORED = 7       # checkpoints stored
_PEAK_SLOTS = 8   # the most slots in use at once
_UNIT_BYTES = 9   # the largest tape of one unit (bytes)
_STATE_BYTES = 10  # bytes of one checkpoint
_D = 11           # online: the distance (units) between checkpoints
_CHAIN = 12       # binomial: units the forward sweep ran to its last checkpoint
CK_HEADER = 16

_BIG = 1 << 62


@register_jitable
def binomial_beta(s, r):
    """C(s + r, s): the most units `s` slots reverse with each unit run forward at most
    `r` times (capped at 2**62)."""
    if s < 0 or r < 0:
        return 0
    out = 1
    for j in range(1, min(s, r) + 1):
        # out = C(max + j, j), exact at each step
        out = out * (max(s, r) + j) // j
        if out >= _BIG:
            return _BIG
    return out


@register_jitable
def _repetitions(units, slots):
    r = 0
    while binomial_beta(slots, r) < units:
        r += 1
    return r


@register_jitable
def binomial_split(units, slots):
    """Where to store the next checkpoint of a segment of `units` (>= 2) units reversed
    with `slots` (>= 1) free slots: the number of units to run forward first."""
    c = slots + 1   # the checkpoint the segment starts from counts
    r = _repetitions(units, c)
    lo = max(1, binomial_beta(c, r - 2), units - binomial_beta(c - 1, r))
    hi = min(units - 1, binomial_beta(c, r - 1), units - binomial_beta(c - 1, r - 1))
    return lo if lo <= hi else hi


@register_jitable
def revolve_forward_steps(units, slots):
    """The least number of units run forward (untaped) to reverse `units` units from a
    stored start with `slots` free slots, each unit taped once: Revolve's optimum."""
    if units <= 1:
        return 0
    c = slots + 1
    r = _repetitions(units, c)
    return r * units - binomial_beta(c + 1, r - 1)


@register_jitable
def ck_new(slots):
    """A schedule with room for `slots` checkpoints (slot 0 included)."""
    s = np.zeros(CK_HEADER + max(slots, 1), np.int64)
    s[_SLOTS] = max(slots, 1)
    return s


@register_jitable
def ck_slots(budget, state_bytes, n_units):
    """How many slots fit in `budget` bytes, each holding `state_bytes` (and its position);
    never more than the loop has units (0: not even one fits)."""
    per = state_bytes + 8
    slots = budget // per
    if n_units >= 0:
        slots = min(slots, n_units + 1)
    return max(min(slots, 1 << 40), 0)


@register_jitable
def ck_begin(s, n, k, state_bytes):
    """Start a loop of `n` iterations (-1: unknown) in units of `k`, with checkpoints of
    `state_bytes`; slot 0 holds the entry."""
    s[_STATE_BYTES] = state_bytes
    s[_K] = max(k, 1)
    s[_N] = n
    s[_N_UNITS] = (n + s[_K] - 1) // s[_K] if n >= 0 else -1
    s[_TOP] = 0
    s[CK_HEADER] = 0
    s[_RECOMPUTED] = 0
    s[_STORED] = 1
    s[_PEAK_SLOTS] = 1
    s[_UNIT_BYTES] = 0
    s[_D] = 1
    s[_CHAIN] = 0


@register_jitable
def ck_plan_next(s):
    """Binomial: the iteration before which the forward sweep stores the next checkpoint,
    or -1."""
    top = s[_TOP]
    a = s[CK_HEADER + top]
    units = s[_N_UNITS] - a
    free = s[_SLOTS] - 1 - top
    if units < 2 or free < 1:
        return -1
    return (a + binomial_split(units, free)) * s[_K]


@register_jitable
def ck_push(s, it):
    """A checkpoint at iteration `it` (a unit boundary): the slot to store it in."""
    top = s[_TOP] + 1
    s[_TOP] = top
    s[CK_HEADER + top] = it // s[_K]
    s[_STORED] += 1
    s[_PEAK_SLOTS] = max(s[_PEAK_SLOTS], top + 1)
    if s[_N_UNITS] >= 0:
        s[_CHAIN] = it
    return top


@register_jitable
def ck_online_next(s):
    """Online: the iteration before which the forward sweep stores the next checkpoint
    (-1: none, with a single slot)."""
    if s[_SLOTS] < 2:
        return -1
    return (s[CK_HEADER + s[_TOP]] + s[_D]) * s[_K]


@register_jitable
def ck_full(s):
    """Online: the forward sweep fills at most half the slots (at least one), leaving
    the rest for reversing the gaps between its checkpoints."""
    return s[_TOP] + 1 >= max(1, s[_SLOTS] // 2)


@register_jitable
def ck_online_due(s, it):
    """Online: whether iteration `it` (where a checkpoint was due before the slots were
    thinned) is still on the grid of checkpoints."""
    return it // s[_K] - s[CK_HEADER + s[_TOP]] == s[_D] and s[_TOP] + 1 < s[_SLOTS]


@register_jitable
def ck_thin(s):
    """Online, slots full: keep the checkpoints in even slots (moved down by the caller:
    slot j takes slot 2j), and double the distance. Returns how many remain."""
    top = s[_TOP]
    kept = top // 2 + 1
    for j in range(1, kept):
        s[CK_HEADER + j] = s[CK_HEADER + 2 * j]
    s[_TOP] = kept - 1
    s[_D] *= 2
    return kept


@register_jitable
def ck_end(s, n):
    """The forward sweep ran `n` iterations: the reverse sweep starts after the last."""
    s[_N] = n
    s[_N_UNITS] = (n + s[_K] - 1) // s[_K]
    s[_B] = s[_N_UNITS]
    top = s[_TOP]
    # an online checkpoint may sit at the very end (nothing after it to reverse)
    while top > 0 and s[CK_HEADER + top] >= s[_N_UNITS]:
        top -= 1
    s[_TOP] = top


@register_jitable
def ck_next(s):
    """The reverse sweep's next action, as (what, slot, lo, mid, end), iterations:

    - (1, slot, lo, mid, new): restore `slot` (it holds iteration lo), run lo..mid
      forward, store the state in slot `new`;
    - (2, slot, lo, mid, end): restore `slot`, run lo..mid forward, then run mid..end
      taped and reverse it;
    - (0, ...): the loop is reversed."""
    k = s[_K]
    while True:
        top = s[_TOP]
        if top < 0:
            return 0, 0, 0, 0, 0
        a = s[CK_HEADER + top]
        b = s[_B]
        if b <= a:
            s[_TOP] = top - 1
            continue
        free = s[_SLOTS] - 1 - top
        if b - a == 1 or free < 1:
            s[_B] = b - 1
            s[_RECOMPUTED] += (b - 1 - a) * k
            return 2, top, a * k, (b - 1) * k, min(b * k, s[_N])
        m = a + binomial_split(b - a, free)
        s[_RECOMPUTED] += (m - a) * k
        s[_TOP] = top + 1
        s[CK_HEADER + top + 1] = m
        s[_STORED] += 1
        s[_PEAK_SLOTS] = max(s[_PEAK_SLOTS], top + 2)
        return 1, top, a * k, m * k, top + 1


@register_jitable
def ck_note_unit(out, s, nf, ni, nb, refs):
    """A unit's tape took `nf` floats, `ni` integers, `nb` booleans and `refs` bytes of
    arrays: note the largest of each in the caller's report `out`."""
    s[_UNIT_BYTES] = max(s[_UNIT_BYTES], 8 * (nf + ni) + nb + refs)
    out[10] = max(out[10], nf)
    out[11] = max(out[11], ni)
    out[12] = max(out[12], nb)
    out[13] = max(out[13], refs)


@register_jitable
def ck_copy_into(dst, src):
    """Write `src`'s elements into `dst` (same shape): an array restored in place."""
    dst[...] = src


@register_jitable
def ck_put(saved, j, value):
    """Slot `j` of a list of saved arrays takes a copy of `value`."""
    while len(saved) < j:
        saved.append(np.copy(value))
    if j < len(saved):
        saved[j] = np.copy(value)
    else:
        saved.append(np.copy(value))


# What an array costs beyond its data, counted in the limit: Numba's meminfo and the
# allocator's header, its slot in a list, and the adjoint temporaries the reverse sweep
# makes for it. Measured with a loop taping six 2-element arrays a step (bench/memory.py,
# "rotate"): at 64 bytes it held 36 MiB within a 16 MB limit; at 160, 13 MiB.
ARRAY_OVERHEAD = 160


@register_jitable
def ck_state_bytes(arr):
    """Bytes an array takes in a checkpoint."""
    return arr.size * arr.itemsize + ARRAY_OVERHEAD


@register_jitable
def ck_ref_bytes(refs):
    """Bytes the arrays a reference tape holds take."""
    total = 0
    for a in refs:
        total += a.size * a.itemsize + ARRAY_OVERHEAD
    return total


@register_jitable
def ck_report(out, s):
    """Add what schedule `s` did to the caller's report `out` (fields as
    compiler.checkpoint.CKP_FIELDS names them)."""
    out[4] += s[_RECOMPUTED]
    out[5] = max(out[5], s[_PEAK_SLOTS] * (s[_STATE_BYTES] + 8))
    out[6] = max(out[6], s[_UNIT_BYTES])
    out[7] += s[_STORED]
    out[8] += 1
    out[9] += s[_N]
