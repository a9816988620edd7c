"""The command line: `srcgrad show`, `srcgrad check` and their error exits."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from srcgrad import cli

USER_CODE = '''
import math

import numpy as np


def f(a):
    b = a * 2
    while abs(b) < 1000:
        b = b * 2
    return b


def two(x, y):
    return math.sin(x) * y


def kink(x):
    return abs(x)


def weighted(W, x, n):
    s = 0.0
    for i in range(n):
        s += np.tanh(W @ x).sum()
    return s


def square_all(x):
    return x * x


def has_try(x):
    try:
        y = x
    except ValueError:
        y = 0.0
    return y


def log_of(x):
    return math.log(x)


NOT_A_FUNCTION = 3

if __name__ == "__main__":
    print("the main block ran")
'''


@pytest.fixture(scope="module")
def user_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "cli_user_code.py"
    path.write_text(textwrap.dedent(USER_CODE))
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# show ----------------------------------------------------------------------------


def test_show_is_plain_when_piped(user_file):
    """`python -m srcgrad show` into a pipe: the module as text, no terminal colors."""
    env = dict(os.environ)
    env.pop("NO_COLOR", None)
    proc = subprocess.run([sys.executable, "-m", "srcgrad", "show", f"{user_file}:f"], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('"""Adjoint of f (')
    assert "def f_adjoint(a, _seed):" in proc.stdout
    assert "    for _k1 in range(_n1):\n        # line 10: b = b * 2\n        b_b = b_b * 2\n" in proc.stdout
    assert "\x1b[" not in proc.stdout
    assert "the main block ran" not in proc.stdout


def test_show_in_process(user_file, capsys):
    code, out, err = run(capsys, "show", f"{user_file}:two", "--wrt", "x,y")
    assert code == 0 and err == ""
    assert "with respect to x, y." in out
    assert "def two_adjoint(x, y, _seed):" in out
    assert "\x1b[" not in out


def test_show_colors_only_when_asked_or_a_terminal(user_file, capsys):
    pytest.importorskip("pygments")
    code, out, _ = run(capsys, "show", f"{user_file}:f", "--color", "always")
    assert code == 0 and "\x1b[" in out
    assert "\x1b[" not in cli.highlighted("x = 1\n", color=False)


def test_show_after_normalize(user_file, capsys):
    code, out, err = run(capsys, "show", f"{user_file}:f", "--after", "normalize")
    assert code == 0 and err == ""
    assert out.startswith("def f(a):\n    # line 8: b = a * 2\n    b = a * 2\n")
    assert "    _t1 = abs(b)\n    _w1 = _t1 < 1000\n    while _w1:\n" in out
    assert "adjoint" not in out and "b_b" not in out


def test_show_after_types_and_analyze_with_args(user_file, capsys):
    code, out, _ = run(capsys, "show", f"{user_file}:weighted", "--args", "3x4,4,int:2", "--after", "types")
    assert code == 0
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["W"] == "array(float64, 2d, C)" and lines["x"] == "array(float64, 1d, C)"
    assert lines["n"] == "int64" and lines["s"] == "float64"
    code, out, _ = run(capsys, "show", f"{user_file}:weighted", "--args", "3x4,4,int:2", "--after", "analyze")
    assert code == 0 and out.startswith("active: ") and "'W'" in out and "'x'" not in out


def test_show_after_normalize_of_array_code_notes_the_types(user_file, capsys):
    """Without --args the types are floats, which `W @ x` cannot take: the normalized source is
    still printed, with a note saying to pass --args."""
    code, out, err = run(capsys, "show", f"{user_file}:weighted", "--after", "normalize")
    assert code == 0
    assert "_t1 = W @ x" in out
    assert "pass --args" in err


def test_show_vjp_for_an_array_value(user_file, capsys):
    code, out, err = run(capsys, "show", f"{user_file}:square_all", "--args", "3")
    assert code == 2 and "NonScalarOutputError" in err and "--vjp" in err
    code, out, err = run(capsys, "show", f"{user_file}:square_all", "--args", "3", "--vjp")
    assert code == 0, err
    assert "def square_all_primal(x):" in out and "def square_all_adjoint(x, _seed):" in out


def test_show_array_code_without_args_says_to_pass_them(user_file, capsys):
    code, out, err = run(capsys, "show", f"{user_file}:weighted")
    assert code == 2 and out == ""
    assert "TypeInferenceError" in err and "--args" in err


def test_show_after_emit_is_the_module(user_file, capsys):
    _, default, _ = run(capsys, "show", f"{user_file}:f")
    _, emitted, _ = run(capsys, "show", f"{user_file}:f", "--after", "emit")
    _, reverse, _ = run(capsys, "show", f"{user_file}:f", "--after", "reverse")
    assert default == emitted == reverse


def test_show_mode_fwd_prints_the_tangent_module(user_file, capsys):
    code, out, err = run(capsys, "show", f"{user_file}:two", "--mode", "fwd")
    assert code == 0, err
    assert "def two_jvp(x, y, d_x, d_y):" in out and "# line" in out
    code, out, err = run(capsys, "show", f"{user_file}:weighted", "--mode", "fwd",
                         "--args", "3x3,3,int:2", "--wrt", "W")
    assert code == 0, err
    assert "def weighted_jvp(W, x, n, d_W):" in out
    code, out, _ = run(capsys, "show", f"{user_file}:two", "--mode", "fwd", "--after", "normalize")
    assert code == 0 and "_jvp" not in out


# check ---------------------------------------------------------------------------


def test_check_both_modes_and_second_order(user_file, capsys):
    code, out, err = run(capsys, "check", f"{user_file}:two", "--args", "0.3,-1.5",
                         "--modes", "rev,fwd", "--order", "2", "--wrt", "x")
    assert code == 0, err
    assert out.count("gradient check ok") == 2 and "mode fwd:" in out


def test_check_passes(user_file, capsys):
    code, out, err = run(capsys, "check", f"{user_file}:f", "--args", "0.8137")
    assert code == 0, err
    assert "checking" in out and "a: float 0.8137" in out
    assert "gradient check ok" in out


def test_check_two_parameters_by_name(user_file, capsys):
    code, out, _ = run(capsys, "check", f"{user_file}:two", "--args", "0.3,-1.5", "--wrt", "y", "--seed", "3")
    assert code == 0 and "gradient check ok" in out


def test_check_fails_with_status_1(user_file, capsys):
    """abs at 0 has slope 1 by convention, but its finite difference is 0."""
    code, out, err = run(capsys, "check", f"{user_file}:kink", "--args", "0.0")
    assert code == 1
    assert "gradient check FAILED" in out
    assert "gradient check failed for kink" in err


def test_args_spec():
    args, described = cli.parse_args_spec("1.5, 3, 2x3x4, int:7, -2e-3", seed=5)
    assert args[0] == 1.5 and type(args[0]) is float
    assert args[1].shape == (3,) and args[1].dtype == np.float64
    assert args[2].shape == (2, 3, 4)
    assert args[3] == 7 and type(args[3]) is int
    assert args[4] == -2e-3
    assert described == ["float 1.5", "random array 3", "random array 2x3x4", "int 7", "float -0.002"]
    again, _ = cli.parse_args_spec("1.5, 3, 2x3x4, int:7, -2e-3", seed=5)
    assert np.array_equal(args[2], again[2])
    other, _ = cli.parse_args_spec("1.5, 3, 2x3x4, int:7, -2e-3", seed=6)
    assert not np.array_equal(args[2], other[2])
    assert cli.parse_wrt("x, 1") == ("x", 1) and cli.parse_wrt("0") == 0


# errors: a clear message on stderr, nothing on stdout, status 2 -----------------------


@pytest.mark.parametrize("argv, message", [
    (["show", "{dir}/missing.py:f"], "no such file"),
    (["show", "{dir}"], "expected path/to/file.py:function"),
    (["show", "{file}:nothing"], "has no function 'nothing'; it defines"),
    (["show", "{file}:NOT_A_FUNCTION"], "not a function"),
    (["show", "{file}:f-1"], "is not a function name"),
    (["show", "{file}:f", "--wrt", "zz"], "wrt='zz' names no parameter of f"),
    (["show", "{file}:f", "--wrt", "a,"], "--wrt"),
    (["show", "{file}:has_try"], "UnsupportedSyntaxError"),
    (["check", "{file}:f", "--args", "1.0,2.0"], "cannot take the 2 argument(s)"),
    (["check", "{file}:f", "--args", "one"], "'one' is not a float (1.0), a shape (3 or 3x4) or an int"),
    (["check", "{file}:f", "--args", "int:x"], "expected int:N"),
    (["check", "{file}:f", "--args", "1.0,,2.0"], "empty entry"),
    (["check", "{file}:f", "--args", "int:3"], "no float or array argument"),
    (["check", "{file}:two", "--args", "1.0,int:2", "--wrt", "y"], "UsageError"),
    (["check", "{file}:log_of", "--args", "-1.0"], "raised ValueError: math domain error"),
    (["check", "{broken}:f", "--args", "1.0"], "cannot import"),
], ids=["no-file", "no-colon", "no-function", "not-a-function", "bad-name", "bad-wrt", "empty-wrt",
        "unsupported", "arg-count", "bad-arg", "bad-int", "empty-arg", "no-float", "int-wrt", "f-raises",
        "import-error"])
def test_errors_exit_2(user_file, capsys, argv, message):
    broken = user_file.parent / "cli_broken.py"
    broken.write_text("def f(x):\n    return x +\n")
    argv = [a.format(file=user_file, dir=user_file.parent, broken=broken) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in err
    assert err.count("\n") >= 1
    if argv[0] == "show":
        assert out == ""


def test_argparse_errors_exit_2(user_file, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", f"{user_file}:f"])  # --args is required
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["show", f"{user_file}:f", "--after", "bogus"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
