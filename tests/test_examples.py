"""The example scripts run and print what they promise."""

from __future__ import annotations

import math
import re
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


def test_fit_ode():
    """L-BFGS-B with srcgrad's gradient recovers the 4 Lotka-Volterra parameters within 5%."""
    out = _run("fit_ode.py")
    fitted = re.findall(r"^(\w+) +true ([\d.]+) +fitted ([\d.]+)", out, re.MULTILINE)
    assert [name for name, _, _ in fitted] == ["alpha", "beta", "delta", "gamma"], out
    for name, true, value in fitted:
        assert abs(float(value) - float(true)) <= 0.05 * float(true), f"{name}: {value} vs {true}\n{out}"
    before, after, at_truth = map(float, re.search(r"^loss ([\d.]+) -> ([\d.]+) \(at the true parameters: "
                                                   r"([\d.]+)\)", out, re.MULTILINE).groups())
    assert after < 0.01 * before and after <= at_truth, out


@pytest.mark.slow
def test_logistic_regression():
    """Gradient descent lowers the loss from log 2 by at least 0.15 and classifies as well as the true
    weights do (within 0.02)."""
    out = _run("logistic_regression.py")
    initial, final = map(float, re.search(r"initial loss ([\d.]+), final loss ([\d.]+)", out).groups())
    assert abs(initial - math.log(2)) < 1e-4, out
    assert final <= initial - 0.15, out
    acc, true_acc = map(float, re.search(r"training accuracy ([\d.]+) \(the true weights give ([\d.]+)\)",
                                         out).groups())
    assert acc >= true_acc - 0.02 and acc > 0.7, out
    assert "gradient check at the final weights: ok" in out


@pytest.mark.slow
def test_d2l_preliminaries():
    """The chapter's numbers: f'(1) = 2, 4x, 2x, u, d / a."""
    out = _run("d2l_preliminaries.py")
    assert float(re.search(r"f'\(1\) = (\S+)", out).group(1)) == 2.0
    assert "gradient [ 0.  4.  8. 12.]; equals 4x: True" in out
    assert "pullback of ones [0. 2. 4. 6.] (2x)" in out
    assert "gradient of (u * x).sum() is [0. 1. 4. 9.] (u)" in out
    assert "gradient of the L2 norm at [3, -4]: [ 0.6 -0.8]" in out
    assert "d/dx = [-3. -3.] ((A + A^T) x = [-3. -3.]); d/dA equals outer(x, x): True" in out
    assert "equals d / a: True" in out
    for a, d, grad in re.findall(r"control flow, a = (\S+): d = (\S+), gradient (\S+),", out):
        assert float(grad) == pytest.approx(float(d) / float(a), rel=1e-12), out
    assert len(re.findall(r"control flow, a = ", out)) == 2
    chain, by_hand = re.search(r"at 1 = (\S+), by hand (\S+)", out).groups()
    assert float(chain) == pytest.approx(float(by_hand), rel=1e-14)
