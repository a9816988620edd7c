"""The result of a benchmark run, as the runner writes it and the report and plots read it.

A result is a dict (also its JSON file): ``peers`` (name -> family, kind, ...) and
``sizes`` (one record per size: each peer's timing or extrapolated time). These helpers
read it, so that the runner, report.py and plots.py share one reading of it.
"""

from __future__ import annotations

import json

FAMILY_ORDER = ("numba", "hand", "srcgrad", "jax", "torch", "autograd", "tangent")
SLOW_FAMILIES = ("torch", "autograd", "tangent")  # Python-taping peers


def size_key(size) -> str:
    """A size as JSON (a tuple as a list): how it travels to a fresh process and compares across results."""
    return json.dumps(list(size) if isinstance(size, (tuple, list)) else size)


def forward_ratio_key(result: dict, peer: str) -> str:
    """The key of ``peer``'s gradient/forward ratio: against its own forward (``x/forward`` when that is the
    Numba forward of the user function)."""
    own = result["peers"][peer].get("own_forward", "numba_fwd")
    return f"{peer}/forward" if own == "numba_fwd" else f"{peer}/{own}"


def peer_time(rec: dict, name: str) -> tuple[float | None, bool]:
    """(time, extrapolated?) of a peer at one size."""
    p = rec["peers"].get(name, {})
    if "timing" in p:
        return p["timing"]["median"], False
    if "extrapolated_s" in p:
        return p["extrapolated_s"], True
    return None, False


def srcgrad_peers(result: dict) -> list[str]:
    """The srcgrad peers that compute a gradient (``srcgrad`` first)."""
    return sorted((n for n, p in result["peers"].items() if p["family"] == "srcgrad" and p["kind"] != "forward"),
                  key=lambda n: (n != "srcgrad", n))
