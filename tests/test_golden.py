"""Generated source is deterministic: byte-identical across runs and processes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import srcgrad

from .support import golden_functions as gf

HERE = Path(__file__).parent
GOLDEN = HERE / "golden"
CASES = {
    "d2l_control_flow": (gf.d2l_control_flow, 0),
    "lotka_volterra": (gf.lotka_volterra, (0, 1, 2, 3)),
    "jumps": (gf.jumps, 0),
    "fib": (gf.fib, 0),
}


def _source(name: str) -> str:
    fn, wrt = CASES[name]
    text = srcgrad.grad(fn, wrt=wrt).source
    text = re.sub(r"\(runtime [0-9a-f]+\)", "(runtime <hash>)", text)
    return text.replace(gf.__file__, "<golden_functions.py>")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_golden_file(name):
    path = GOLDEN / f"{name}.py.txt"
    text = _source(name)
    if os.environ.get("SRCGRAD_UPDATE_GOLDEN") or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(text)
        if not os.environ.get("SRCGRAD_UPDATE_GOLDEN"):
            pytest.fail(f"golden file {path.name} was missing and has been written")
    assert text == path.read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_same_text_twice_in_one_process(name):
    assert _source(name) == _source(name)


def test_same_text_in_another_process():
    code = ("import sys; sys.path.insert(0, %r); from tests import test_golden as t; "
            "print('\\x00'.join(t._source(n) for n in sorted(t.CASES)), end='')"
            % str(HERE.parent))
    env = dict(os.environ, PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True).stdout
    assert out.split("\x00") == [_source(n) for n in sorted(CASES)]
