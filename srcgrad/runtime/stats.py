"""NumPy functions in compiled code that Numba lacks or that need helpers for their
derivatives: stats (filled in by the NumPy-surface work)."""

from __future__ import annotations

__all__: list[str] = []
