"""check_grad / directional_check: srcgrad's gradients against finite differences."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from srcgrad.check import STEP, STEP_FLOAT32, GradCheck, check_grad, directional_check
from srcgrad.errors import GradientCheckError, SrcgradError, UsageError

SOURCE = """
import math

import numpy as np


def scalar2(x, y):
    return x * math.exp(y) + math.sin(x * y)


def vec(x):
    return np.sum(np.sin(x) * x) + 0.5 * np.dot(x, x)


def mat(A, b, c):
    r = A @ b
    return np.sum(r * r) * c


def inplace(x, buf):
    x[0] = x[0] * 3.0
    for i in range(buf.shape[0]):
        buf[i] = x[i] * 2.0
    return np.sum(buf * x)


def vector_out(x):
    return x * 2.0


def tuple_out(x):
    return x, x


def int_out(x):
    return 3


def needs_positive(x):
    return math.log(x)
"""


@pytest.fixture(scope="module")
def mod(make_module):
    return make_module(SOURCE)


def unit_directions(sizes, n, seed=0):
    """The directions check_grad draws: default_rng(seed), normal, normalized jointly."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        v = rng.standard_normal(sum(sizes))
        out.append(v / np.linalg.norm(v))
    return out


def grad_vec(x):
    return np.cos(x) * x + np.sin(x) + x


X1 = np.array([0.3, -1.2, 0.8, 2.1, -0.4])
A2 = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
B1 = np.array([0.2, -0.7, 1.1])


# check_grad on srcgrad's own gradients -------------------------------------------


def test_scalar_float_args_compiled(mod):
    x, y = 0.7, 0.3
    res = check_grad(mod.scalar2, x, y, wrt=(0, 1), directions=4)
    assert isinstance(res, GradCheck)
    assert res.ok and res.max_rel_error < 1e-7
    assert res.step == STEP  # scale = max(|x|, |y|) < 1
    # the AD numbers are <exact gradient, v> for the documented directions
    exact = np.array([math.exp(y) + y * math.cos(x * y), x * math.exp(y) + x * math.cos(x * y)])
    for ad, fd, v in zip(res.directional_ad, res.directional_fd, unit_directions([1, 1], 4)):
        assert ad == pytest.approx(float(exact @ v), rel=1e-12, abs=1e-14)
        assert fd == pytest.approx(float(exact @ v), rel=1e-9, abs=1e-12)
    assert len(res.directional_ad) == len(res.rel_errors) == 4
    assert res.max_rel_error == max(res.rel_errors)


def test_wrt_single_and_by_name(mod):
    res_y = check_grad(mod.scalar2, 0.7, 0.3, wrt="y", jit=False)
    res_1 = check_grad(mod.scalar2, 0.7, 0.3, wrt=1, jit=False)
    assert res_y.ok and res_y.max_rel_error < 1e-7
    assert res_y.directional_ad == res_1.directional_ad
    # one dimension: the unit directions are +1 or -1, so <grad, v> = +-df/dy
    dfdy = 0.7 * math.exp(0.3) + 0.7 * math.cos(0.21)
    assert {round(abs(a), 12) for a in res_y.directional_ad} == {round(dfdy, 12)}


def test_array_1d_compiled(mod):
    x = X1.copy()
    res = check_grad(mod.vec, x)
    assert res.ok and res.max_rel_error < 1e-7
    assert res.step == pytest.approx(STEP * 2.1)  # scale = max|x| = 2.1
    for ad, v in zip(res.directional_ad, unit_directions([5], 3)):
        assert ad == pytest.approx(float(grad_vec(X1) @ v), rel=1e-12)


def test_array_2d_tuple_wrt_and_names(mod):
    A, b = A2.copy(), B1.copy()
    res = check_grad(mod.mat, A, b, 1.5, wrt=(0, 1), directions=5, jit=False)
    assert res.ok and res.max_rel_error < 1e-7
    by_name = check_grad(mod.mat, A, b, 1.5, wrt=("A", "b"), directions=5, jit=False)
    assert by_name.directional_ad == pytest.approx(res.directional_ad, rel=1e-14)
    # joint directions over A (6 entries, row-major) then b (3): compare with the exact gradient
    r = A2 @ B1
    gA, gb = 2 * 1.5 * np.outer(r, B1), 2 * 1.5 * A2.T @ r
    for ad, v in zip(res.directional_ad, unit_directions([6, 3], 5)):
        assert ad == pytest.approx(float(gA.ravel() @ v[:6] + gb @ v[6:]), rel=1e-12)
    # the reversed order names the same joint space in a different order
    rev = check_grad(mod.mat, A, b, 1.5, wrt=("b", "A"), jit=False)
    assert rev.ok and rev.max_rel_error < 1e-7
    scal = check_grad(mod.mat, A, b, 1.5, wrt="c", jit=False)
    assert scal.ok and scal.max_rel_error < 1e-7


def test_float32(mod):
    x = X1.astype(np.float32)
    res = check_grad(mod.vec, x, jit=False)
    assert res.ok
    assert res.rtol == 1e-3
    assert res.step == pytest.approx(STEP_FLOAT32 * 2.1, rel=1e-6)
    assert 1e-9 < res.max_rel_error < 1e-3  # float32 rounding shows, but within the tolerance
    # a float64 argument next to a float32 one also switches to the float32 rule
    mixed = check_grad(mod.scalar2, np.float32(0.7), 0.3, wrt=(0, 1), jit=False)
    assert mixed.ok and mixed.rtol == 1e-3 and mixed.step == STEP_FLOAT32
    strict = check_grad(mod.vec, x, jit=False, rtol=1e-9, raise_on_failure=False)
    assert not strict.ok  # float32 cannot meet a float64 tolerance


def test_callers_arrays_unchanged(mod):
    x = np.array([0.5, -0.25, 1.5])
    buf = np.zeros(3)
    x0, buf0 = x.copy(), buf.copy()
    res = check_grad(mod.inplace, x, buf, jit=False)
    assert res.ok and res.max_rel_error < 1e-7
    assert np.array_equal(x, x0) and np.array_equal(buf, buf0)
    # d/dx of 2 * (9 x0^2 + x1^2 + x2^2)
    exact = np.array([36 * x0[0], 4 * x0[1], 4 * x0[2]])
    for ad, v in zip(res.directional_ad, unit_directions([3], 3)):
        assert ad == pytest.approx(float(exact @ v), rel=1e-12)


def test_seed_and_step(mod):
    a = check_grad(mod.vec, X1, jit=False, seed=7)
    b = check_grad(mod.vec, X1, jit=False, seed=7)
    c = check_grad(mod.vec, X1, jit=False, seed=8)
    assert a == b and a.directional_ad != c.directional_ad
    d = check_grad(mod.vec, X1, jit=False, step=1e-2)
    assert d.step == 1e-2 and d.ok
    small = check_grad(mod.vec, X1 / 10, jit=False)
    assert small.step == STEP  # max(1, scale) keeps the step at 1e-3 for small arguments


def test_non_scalar_output(mod):
    with pytest.raises(UsageError, match=r"array \(shape \(5,\).*srcgrad\.vjp"):
        check_grad(mod.vector_out, X1, jit=False)
    with pytest.raises(UsageError, match="tuple of 2 values"):
        check_grad(mod.tuple_out, 1.0, jit=False)
    with pytest.raises(UsageError, match="returns int 3, not a float"):
        check_grad(mod.int_out, 1.0, jit=False)


def test_usage_errors(mod):
    with pytest.raises(UsageError, match=r"'x'.*int64.*astype"):
        check_grad(mod.vec, np.arange(3), jit=False)
    with pytest.raises(UsageError, match=r"write 2\.0"):
        check_grad(mod.scalar2, 2, 0.5, jit=False)
    with pytest.raises(UsageError, match="names no parameter"):
        check_grad(mod.scalar2, 2.0, 0.5, wrt="z", jit=False)
    with pytest.raises(UsageError, match="pass it positionally"):
        check_grad(mod.mat, A2, B1, wrt="c", jit=False)
    with pytest.raises(UsageError, match="directions"):
        check_grad(mod.vec, X1, directions=0, jit=False)
    with pytest.raises(UsageError, match="nan or inf"):
        check_grad(mod.vec, np.array([1.0, np.nan]), jit=False)


def test_error_at_fd_point_gets_a_note(mod):
    with pytest.raises(ValueError, match="math domain error") as info:
        check_grad(mod.needs_positive, 1e-4, jit=False)  # x - 2h < 0
    assert any("finite-difference point" in note for note in info.value.__notes__)
    assert check_grad(mod.needs_positive, 1e-4, step=1e-6, rtol=1e-5, jit=False).ok


# directional_check with hand-made gradients: the checker must be able to fail ---------


def test_directional_check_correct_gradient(mod):
    res = directional_check(mod.vec, grad_vec, (X1,), 0)
    assert res.ok and res.max_rel_error < 1e-7


def test_directional_check_wrong_gradient(mod):
    wrong = lambda x: np.cos(x) * x + x  # noqa: E731 - the sin(x) term is missing
    res = directional_check(mod.vec, wrong, (X1,), [0], raise_on_failure=False)
    assert not res.ok and res.max_rel_error > 1e-2
    assert "FAILED" in str(res) and "ok" not in str(res).split(":")[0]
    with pytest.raises(GradientCheckError) as info:
        directional_check(mod.vec, wrong, (X1,), [0])
    err = info.value
    code = mod.vec.__code__
    text = str(err)
    assert f"{code.co_filename}:{code.co_firstlineno}:" in text
    assert "vec" in text and "hint:" in text
    worst = max(range(3), key=res.rel_errors.__getitem__)
    assert f"direction {worst} of 3" in text
    assert f"{res.directional_ad[worst]:.12g}" in text and f"{res.directional_fd[worst]:.12g}" in text
    assert err.result == res and err.lineno == code.co_firstlineno
    assert isinstance(err, SrcgradError)


def test_directional_check_small_error_in_one_component(mod):
    def almost(x):
        g = grad_vec(x)
        g[3] *= 1 + 1e-4
        return g

    res = directional_check(mod.vec, almost, (X1,), 0, raise_on_failure=False)
    assert not res.ok and 1e-7 < res.max_rel_error < 1e-3
    assert directional_check(mod.vec, almost, (X1,), 0, rtol=1e-3).ok


def test_directional_check_tuple_wrt_wrong_second_gradient(mod):
    def grads(A, b, c):
        r = A @ b
        return 2 * c * np.outer(r, b), 2 * c * A.T @ r * 0.9  # b's gradient is 10% off

    res = directional_check(mod.mat, grads, (A2, B1, 1.5), (0, 1), raise_on_failure=False)
    assert not res.ok and res.max_rel_error > 1e-3
    with pytest.raises(GradientCheckError, match="with respect to A, b"):
        directional_check(mod.mat, grads, (A2, B1, 1.5), (0, 1))
    ok = directional_check(mod.mat, lambda A, b, c: grads(A, b, c)[0], (A2, B1, 1.5), 0)
    assert ok.ok and ok.max_rel_error < 1e-7


def test_directional_check_tiny_derivative_uses_atol(mod):
    # at x = 0, vec's gradient is 0: fd ~ 1e-13, ad = 0; atol decides
    zero = np.zeros(4)
    res = directional_check(mod.vec, grad_vec, (zero,), 0)
    assert res.ok and all(abs(a) == 0 for a in res.directional_ad)
    off = directional_check(mod.vec, lambda x: grad_vec(x) + 1e-8, (zero,), 0, raise_on_failure=False)
    assert not off.ok  # |ad - fd| ~ 1e-8 > atol = 1e-9
    assert directional_check(mod.vec, lambda x: grad_vec(x) + 1e-8, (zero,), 0, atol=1e-7).ok


def test_directional_check_shape_and_count_errors(mod):
    with pytest.raises(UsageError, match="shape"):
        directional_check(mod.vec, lambda x: np.zeros(3), (X1,), 0)
    with pytest.raises(UsageError, match="2 gradient"):
        directional_check(mod.mat, lambda A, b, c: np.zeros(3), (A2, B1, 1.5), (0, 1))


def test_gradcheck_is_frozen_and_prints(mod):
    res = check_grad(mod.scalar2, 0.7, 0.3, jit=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        res.ok = False
    text = str(res)
    assert text.startswith("gradient check ok: max relative error")
    assert f"{res.directional_ad[0]:.15g}" in text
    assert isinstance(res.max_rel_error, float) and isinstance(res.step, float)
    assert all(isinstance(a, float) for a in res.directional_ad + res.directional_fd)
