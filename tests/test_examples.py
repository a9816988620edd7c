"""The example scripts run and print what they promise."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent.parent / "examples"


def _run(name: str) -> str:
    return subprocess.run([sys.executable, str(EXAMPLES / name)], capture_output=True,
                          text=True, check=True, timeout=300).stdout


def test_quickstart():
    out = _run("quickstart.py")
    assert "df/da    = 2048.0" in out
    assert "def f_adjoint(a, _seed):" in out


@pytest.mark.slow
def test_lotka_volterra_example():
    out = _run("lotka_volterra.py")
    assert "tape: 16 bytes per step" in out
