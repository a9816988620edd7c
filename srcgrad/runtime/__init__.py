"""The runtime: what generated code imports, and nothing else of srcgrad's.

Generated adjoint and tangent modules write ``from srcgrad.runtime import push, pop,
accum, ...`` and ``from srcgrad.runtime import np_ops, special``:

* ``tape``: the typed stacks of the reverse sweep (push, pop, reference tapes);
* ``checkpoint``: the schedule of checkpointed loops (``tape_limit``);
* ``arrays``: the adjoints of NumPy operations (unbroadcast, accum, reductions,
  products, advanced indexing, the forward-mode helper broadcast_like);
* ``np_ops``: NumPy functions with the arguments Numba lacks (axis, keepdims), and
  arrays from literals;
* ``special``: scipy.special functions, compiled;
* ``linalg``: np.linalg functions and the parts of those that return tuples;
* ``shapes`` and ``stats``: NumPy functions Numba lacks, and helpers of their rules.

Each function is plain Python/NumPy (what runs with ``jit=False``) with a Numba
implementation registered for compiled code. This package imports nothing from the
rest of srcgrad (tests/test_layers.py checks it): the compiler names these functions
in the source it writes, and the face re-exports the two users call.
"""

from . import arrays, checkpoint, linalg, np_ops, shapes, special, stats, tape
from .arrays import *  # noqa: F403
from .checkpoint import *  # noqa: F403
from .tape import *  # noqa: F403

__all__ = [*tape.__all__, *arrays.__all__, *checkpoint.__all__, "linalg", "np_ops", "shapes", "special", "stats"]
