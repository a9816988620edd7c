"""Differential fuzzing of srcgrad: never a silently wrong gradient.

Random programs in srcgrad's language (tests/support/progfuzz.py: loops with constant, parameter
and zero-trip bounds and other steps, data-dependent ``while`` exits, ``if``/``elif``/
``else``, ``break``/``continue``/early ``return``, swaps, augmented assignment, element
reads and in-place writes, math/NumPy calls of every rule family, helper functions with
keywords, defaults and keyword-only parameters, sums over data points that
srcgrad/fuse.py runs in the forward sweep and near misses of them, arrays built from
values and list literals, stacked arrays and matrices, gathers and scatters with repeated
positions, names rebound to another type, double buffering and buffer swaps, 0-d array
arguments, the NumPy surface: np.linalg, statistics, shapes and orders, ufuncs,
scipy.special) are differentiated by srcgrad and checked against finite differences (away
from kinks, found by recording every branch decision, comparison and kink of
abs/maximum/clip/max/... ) and autograd.

* fast tier (default run): ``FAST_EXAMPLES`` seeded programs, ``jit=False``;
* slow tier (``-m slow``): ``FAST_EXAMPLES`` derandomized hypothesis programs, ``jit=False``,
  and ``SLOW_EXAMPLES`` programs compiled with Numba;
* regressions: every bug the fuzzer found, as a minimal program, with ``jit=False`` and
  ``jit=True``, against finite differences; open bugs are ``xfail(strict=True)``;
* on demand: ``python -m tests.support.fuzz_run --programs 2000 [--jit]``.

While a bug is open (``progfuzz.OPEN_BUGS``) the tiers steer the generator around its
construct, or recognise its crash, so that they keep finding *other* bugs. When srcgrad
fixes one, its regression test XPASSes (a strict failure): delete the ``OPEN_BUGS`` entry
and the regression's ``open_bug`` together.
"""

from __future__ import annotations

import ast
import dataclasses
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

import srcgrad

from .support import progfuzz as pf
from .support.oracles_np import assert_allclose_grads, fd_grad_array

FAST_EXAMPLES = 80       # per fast test: hypothesis's programs, then seeded ones
SLOW_EXAMPLES = 48

_SETTINGS = dict(derandomize=True, deadline=None, database=None, print_blob=False,
                 suppress_health_check=list(HealthCheck))


def _report(capsys, title: str, stats: pf.Stats) -> None:
    """Print the tier's counts (rejections are gaps in the language, not failures)."""
    with capsys.disabled():
        print(f"\n--- {title}\n{stats.summary()}")


def _fuzz(profile: pf.Profile, examples: int, jit: bool) -> pf.Stats:
    stats = pf.Stats()

    @settings(max_examples=examples, **_SETTINGS)
    @given(prog=pf.programs(profile.avoiding_open_bugs()))
    def run(prog):
        outcome = pf.check_program(prog, jit=jit, known=True)
        stats.add(outcome, prog)
        assert outcome.status != "invalid", \
            f"the generator made a bad program ({outcome.invalid}):\n{prog!r}"
        assert not outcome.failures, f"{outcome.report()}\n\nprogram: {prog!r}"

    run()
    return stats


def _check_health(stats: pf.Stats, examples: int) -> None:
    """The tier really tested something: most programs accepted, most coordinates compared."""
    assert stats.programs >= examples
    assert sum(stats.rejected.values()) <= 0.1 * stats.programs, stats.summary()
    assert stats.coords_checked >= 0.8 * stats.coords, stats.summary()
    assert stats.points_autograd >= 0.3 * stats.points, stats.summary()


def _seeded(profile: pf.Profile, examples: int, jit: bool, seed: str) -> pf.Stats:
    """`_fuzz` on the campaign generator's programs (fuzz_run), seeds seed:0, seed:1, ..."""
    stats = pf.Stats()
    for i in range(examples):
        prog = pf.random_program(f"{seed}:{i}", profile.avoiding_open_bugs())
        outcome = pf.check_program(prog, jit=jit, known=True)
        stats.add(outcome, prog)
        assert outcome.status != "invalid", \
            f"the generator made a bad program ({outcome.invalid}):\n{prog!r}"
        assert not outcome.failures, f"{outcome.report()}\n\nprogram: {prog!r}"
    return stats


# Two halves: the seeded one in the fast tier, hypothesis's in the slow tier (the fast
# tier is held under 10 minutes on two cores; each half costs about 40 s).
@pytest.mark.parametrize("half", [pytest.param("hypothesis", marks=pytest.mark.slow), "seeded"])
def test_fuzz_fast(capsys, half):
    """FAST_EXAMPLES random programs, jit=False: value and gradient against the oracles."""
    stats = _fuzz(pf.FAST, FAST_EXAMPLES, jit=False) if half == "hypothesis" \
        else _seeded(pf.FAST, FAST_EXAMPLES, jit=False, seed="fast")
    _report(capsys, f"fuzz, fast tier ({FAST_EXAMPLES} programs, {half}, jit=False)", stats)
    _check_health(stats, FAST_EXAMPLES)
    # sums over data points: their adjoint runs in the forward sweep (srcgrad/fuse.py).
    # Counted on the seeded half, whose programs depend on their seeds alone. Hypothesis's
    # derandomized draws drew no sum loop in its 80 programs in one CI run (29 in every
    # other run, alone or after the other tests); the cause was not found.
    if half == "seeded":
        assert stats.fused >= 0.04 * stats.programs, stats.summary()


@pytest.mark.slow
def test_fuzz_jit(capsys):
    """SLOW_EXAMPLES random programs compiled with Numba (about 1-5 s each)."""
    stats = _fuzz(pf.JIT, SLOW_EXAMPLES, jit=True)
    _report(capsys, f"fuzz, slow tier ({SLOW_EXAMPLES} programs, jit=True)", stats)
    _check_health(stats, SLOW_EXAMPLES)


# ============================================================================ the generator

EXPECTED_FEATURES = {
    "array_param", "for_const", "for_param", "for_outer", "for_step", "for_negstep",
    "for_maybe_zero_trip", "nested_loop", "for_in_array", "for_enumerate", "while", "if",
    "elif", "else", "break", "continue", "return_early", "return_in_loop",
    "return_in_nested_loops", "swap", "aug_add", "aug_mul", "aug_div", "aug_relax",
    "param_reassign", "loop_var_rebind", "elem_read", "index_computed", "index_negative",
    "elem_write", "elem_set", "elem_add", "elem_mul", "elem_mix", "elem_write_in_loop",
    "param_write", "work_zeros", "work_copy", "work_zeros_like", "work_np_copy", "work_ones",
    "work_scaled", "work_in_loop", "array_rebind", "math_sin", "math_cos", "math_tanh",
    "math_exp", "math_log", "math_sqrt", "math_atan", "math_hypot", "pow", "div", "abs", "min",
    "max", "ifexp", "np_scalar", "np_sum", "np_dot", "np_sin", "np_tanh", "np_cos", "np_exp",
    "arr_add", "arr_mul", "arr_scale", "arr_shift", "int_in_float", "cond_data", "cond_int",
    "cond_chain", "cond_bool", "cond_not", "helper_scalar", "helper_writer", "helper_tuple",
    "helper_kw", "helper_default", "helper_in_loop", "helper_in_branch",
    "helper_calls_helper", "fused_sum", "fused_near_miss",
    # arrays from values: 1-D, nested 2-D, stacked arrays, list literals as arguments
    "arr_lit", "arr_asarray_lit", "arr_lit_2d", "arr_lit_rows", "list_arg", "list_sum",
    "list_mean", "list_max", "list_min", "list_prod", "list_dot", "reduce_list_dot",
    "reduce_lit_elem", "np_stack", "np_vstack", "np_column_stack", "np_concatenate",
    "np_hstack", "concat_split", "concat_rotate", "concat_head", "concat_tail", "matvec",
    "np_array", "np_asarray",
    # gathers and scatters, repeated positions, constant and int-array parameter indices
    "int_array_param", "index_array_const", "index_from_array", "gather", "gather_inline",
    "gather_const", "gather_param", "gather_mask", "gather_rows", "gather_cols", "mask_data",
    "mask_const", "scatter", "scatter_set", "scatter_add", "scatter_mul", "scatter_idx",
    "scatter_short", "scatter_mask", "scatter_array_value", "scatter_in_loop",
    # names rebound to another type; double buffering and buffer swaps
    "rebind_type", "rebind_array_to_float", "rebind_float_to_array", "rebind_reshape",
    "buffers_double", "buffers_swap", "buffers_in_loop", "buffers_fill_loop",
    "buffers_fill_vector", "buffers_fill_gather",
    # keyword-only parameters, 0-d array arguments
    "entry_kwonly", "helper_kwonly", "param_0d",
    # matrices: reductions with axis, products, norms, inverse, matrix power
    "matrix_lit2", "matrix_rows", "matrix_stack", "matrix_vstack", "matrix_column_stack",
    "matrix_outer", "matrix_in_loop", "matrix_use_axis", "matrix_use_gram",
    "matrix_use_trace", "matrix_use_norm", "matrix_use_inv", "matrix_use_matpow",
    "matrix_use_gather", "matrix_use_transpose", "np_sum_axis", "np_min_axis",
    "np_prod_axis", "np_cumsum_axis", "np_linalg_inv", "np_matrix_power",
    "np_matrix_power_neg", "np_outer",
    # the rule families: math.*, NumPy elementwise on scalars and arrays, reductions
    "math_tan", "math_asin", "math_acos", "math_atan2", "math_sinh", "math_cosh",
    "math_asinh", "math_acosh", "math_atanh", "math_expm1", "math_exp2", "math_log1p",
    "math_log10", "math_log2", "math_log_base", "math_pow", "math_fabs", "math_erf",
    "math_erfc", "math_degrees", "math_radians", "math_copysign", "math_hypot3",
    "npx_tan", "npx_arcsin", "npx_arccos", "npx_arctan", "npx_arctan2", "npx_sinh",
    "npx_cosh", "npx_arcsinh", "npx_arccosh", "npx_arctanh", "npx_expm1", "npx_exp2",
    "npx_log", "npx_log1p", "npx_log10", "npx_log2", "npx_sqrt", "npx_cbrt", "npx_square",
    "npx_power", "npx_abs", "npx_absolute", "npx_fabs", "npx_degrees", "npx_rad2deg",
    "npx_radians", "npx_deg2rad", "npx_copysign", "npx_fmod", "npx_maximum",
    "npx_minimum", "npx_clip", "npx_hypot", "float_mod", "np_arctan2", "np_power",
    "np_minimum", "np_where", "np_fmod", "np_deg2rad", "np_cumsum", "np_full",
    "np_full_like", "np_arange", "np_linspace", "np_rev", "np_np_reshape", "reduce_mean",
    "reduce_prod", "reduce_max", "reduce_min", "reduce_norm", "reduce_matmul",
    "reduce_trace_outer", "reduce_gather", "reduce_mask", "reduce_cumsum_last",
    # the NumPy surface (progfuzz._Gen.s_surface): a statement of each family
    "surface_linalg", "surface_stats", "surface_shapes", "surface_ufunc", "surface_special",
}


def _composite_aug_index(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Subscript):
            idx = node.target.slice
            if sum(isinstance(n, (ast.BinOp, ast.Call, ast.UnaryOp)) for n in ast.walk(idx)) > 1:
                return True
    return False


@pytest.mark.slow   # the fast tier is held under 10 minutes on two cores
def test_generator_covers_the_language_and_behaves():
    """Without srcgrad: the generated programs use every construct the issue lists, run in
    plain Python at their points (finite float values, bounded loops), and
    ``Profile.avoid`` really leaves out its construct."""
    features: set = set()
    # at least 300 programs, more until every construct is seen (the NumPy-surface
    # statements make the rarest older ones rarer: np_rev first appears at program 610)
    for i in range(1000):
        profile = pf.FULL if i % 2 else pf.FAST
        prog = pf.random_program(f"coverage:{i}", profile)
        features |= prog.features
        traced = pf.Traced(prog.source, prog.entry)
        for point in prog.points:
            value, _ = traced(point)
            assert np.isfinite(value), prog
            assert traced.iterations <= 10_000, prog
        if i >= 299 and EXPECTED_FEATURES <= features:
            break
    missing = EXPECTED_FEATURES - features
    assert not missing, f"never generated: {sorted(missing)}"
    avoid = {"aug_write_index": _composite_aug_index,
             "inactive_work_array": lambda src: any(f"np.{k}(" in src for k in
                                                    ("zeros", "ones", "zeros_like")),
             "hypot_origin": lambda src: "math.hypot(" in src and not all(
                 isinstance(n.args[1], ast.BinOp) for n in ast.walk(ast.parse(src))
                 if isinstance(n, ast.Call) and getattr(n.func, "attr", "") == "hypot")}
    plain = [pf.random_program(f"avoid:{i}", pf.FULL).source for i in range(300)]
    avoiding = dataclasses.replace(pf.FULL, avoid=frozenset(avoid))
    careful = [pf.random_program(f"avoid:{i}", avoiding).source for i in range(300)]
    for name, uses in avoid.items():
        assert any(map(uses, plain)), f"{name}: never generated"
        assert not any(map(uses, careful)), f"{name}: generated although avoided"


#: constructs of the JAX-habit programs (progfuzz.JAX: every program has a container
#: parameter ``p``; FULL, FAST and JIT have some)
JAX_FEATURES = {
    # the container parameter: dicts, tuples, lists, nested, (M, b) layers; int leaves
    "cont_dict", "cont_tuple", "cont_list", "cont_nested", "cont_layers", "cont_int_leaf",
    "cont_array_leaf", "cont_read", "cont_array_read", "cont_bind", "cont_bind_array",
    "cont_unpack", "cont_unpack_list", "cont_nested_unpack", "cont_len", "cont_get",
    "cont_layers_loop", "cond_key_in", "wrt_by_name", "entry_lambda", "entry_partial",
    # comprehensions and the builtins over containers
    "comp_sum_gen", "comp_sum_list", "comp_sum_np_sum", "comp_sum_direct", "comp_min",
    "comp_max", "comp_min_gen", "comp_max_list", "comp_np_array", "comp_list_bound",
    "comp_per_example", "comp_zip", "comp_enumerate", "comp_enumerate_start",
    "comp_reversed", "comp_keys", "comp_items", "comp_values", "comp_range",
    "comp_over_tuple", "comp_over_list", "cond_any", "cond_all", "seq_index",
    "seq_index_runtime",
    # loops over containers, enumerate(start=), reversed(range(...))
    "for_plain", "for_zip", "for_enumerate_start", "for_reversed", "for_keys", "for_items",
    "for_values", "for_range_len", "for_enumerate_start_array", "for_reversed_range",
    # local containers, lambdas, nested defs
    "local_dict", "local_dict_call", "local_list", "local_tuple", "local_cont_write",
    "lambda_def", "lambda_call", "lambda_closure", "lambda_default", "nested_def",
    "nested_def_closure",
}


def test_generator_writes_jax_habits():
    """Without srcgrad: the JAX-habit programs use every construct of ``JAX_FEATURES``
    and run at their points (the nine bugs they found are fixed: no open bug of theirs
    is avoided any more)."""
    features: set = set()
    for i in range(600):
        prog = pf.random_program(f"jax:{i}", pf.JAX)
        features |= prog.features
        traced = pf.Traced(prog.source, prog.entry)
        for point in prog.points:
            value, _ = traced(point)
            assert np.isfinite(value), prog
        if i >= 99 and JAX_FEATURES <= features:
            break
    assert not JAX_FEATURES - features, f"never generated: {sorted(JAX_FEATURES - features)}"


NEAR_MISSES = {"read_after", "carried", "int_carried", "acc_read", "store", "break", "return",
               "sub_from", "two_acc", "two_updates", "update_in_branch", "target_after"}


def _fused(prog) -> bool | None:
    """Does srcgrad run a loop of ``prog`` as a sum of independent iterations (fuse.py)?
    None: srcgrad rejects the program. The program's own loops only: a sum of an
    elementwise expression (``np.sum(w * w)``) becomes a loop of its own, which may be
    fused (compiler/scalarize.py), so this looks with that stage off."""
    module = pf.load_module(prog.source)
    saved = os.environ.get("SRCGRAD_SCALARIZE")
    os.environ["SRCGRAD_SCALARIZE"] = "0"
    try:
        g = srcgrad.grad(getattr(module, prog.entry), wrt=prog.wrt, jit=False)
        return pf.FUSED_MARK.search(g.source_for(*prog.points[0])) is not None
    except srcgrad.SrcgradError:
        return None
    finally:
        if saved is None:
            del os.environ["SRCGRAD_SCALARIZE"]
        else:
            os.environ["SRCGRAD_SCALARIZE"] = saved
        pf.unload_module(module)


@pytest.mark.slow   # the fast tier is held under 10 minutes on two cores
def test_generator_sum_loops_are_fused_and_near_misses_are_not():
    """The generator's sums over data points (``_Gen.s_sum_loop``) keep exercising
    srcgrad/fuse.py: every near miss is generated; most loops meant to qualify are fused
    (the others compute nothing active) and no program with only near misses is."""
    kinds: set = set()
    positive, near = [], []
    for i in range(2000):
        prog = pf.random_program(f"sum:{i}", pf.FAST)
        new = {f[len("near_miss_"):] for f in prog.features if f.startswith("near_miss_")}
        if "fused_sum" in prog.features:
            if len(positive) < 6:
                positive.append(prog)
        elif new - kinds and len(near) < 8:    # one program with only near misses a kind
            near.append(prog)
        kinds |= new
        if kinds == NEAR_MISSES and len(positive) == 6 and len(near) == 8:
            break
    assert kinds == NEAR_MISSES, f"never generated: {sorted(NEAR_MISSES - kinds)}"
    fused = [_fused(p) for p in positive]
    assert fused.count(True) >= 0.7 * (len(fused) - fused.count(None)), \
        [p for p, f in zip(positive, fused) if f is False]
    wrongly = [p for p in near if _fused(p)]
    assert not wrongly, wrongly


def test_open_bugs_have_strict_xfail_regressions():
    """Every open bug has a regression program (run as a strict xfail) and vice versa."""
    open_cases = {c.open_bug for c in REGRESSIONS if c.open_bug}
    assert open_cases == set(pf.OPEN_BUGS), (open_cases, set(pf.OPEN_BUGS))


def test_oracle_flags_a_wrong_gradient(monkeypatch):
    """The checker itself: a program whose srcgrad gradient is known to be right passes;
    a wrong 'gradient' (monkeypatched value_and_grad) is a failure, not a skip."""
    source = "import math\n\ndef f(x, y):\n    return math.sin(x) * y + x * x\n"
    ok = pf.check_source(source, "f", (0, 1), [(0.3, -0.7), (1.1, 0.4)])
    assert ok.status == "ok" and ok.coords_checked == 4 and ok.points_autograd == 2, ok

    real = srcgrad.value_and_grad

    def wrong(fn, wrt=0, jit=True):
        vg = real(fn, wrt=wrt, jit=jit)
        return lambda *a: (lambda v, g: (v, (g[0] * 1.001, g[1])))(*vg(*a))

    monkeypatch.setattr(srcgrad, "value_and_grad", wrong)
    bad = pf.check_source(source, "f", (0, 1), [(0.3, -0.7)])
    assert bad.status == "failed"
    assert {f.kind for f in bad.failures} == {"gradient", "gradient-autograd"}


def test_oracle_skips_kinks():
    """Finite differences across a branch boundary are never used: at x = 0 of abs(x) and
    of ``if x > 0`` the coordinate is skipped as near a kink, not failed."""
    source = ("def f(x, y):\n    if x > 0.0:\n        y = y * 2.0\n"
              "    return abs(x) + y * x\n")
    out = pf.check_source(source, "f", (0, 1), [(0.0, 0.5)])
    assert out.status == "ok" and out.coords_kink == 1 and out.coords_checked == 1, out


def test_oracle_records_array_kinks():
    """Elementwise kinks and choices are decisions too: np.maximum at a tie, a boolean mask
    whose comparison flips, np.clip at its bound, np.max's argmax, float ``%`` at a jump.
    Their coordinates are skipped as near a kink; the others are checked."""
    source = ("import numpy as np\n\ndef f(x, u):\n"
              "    return (np.sum(np.maximum(u, x)) + np.sum(u[u > 0.2])\n"
              "            + np.sum(np.clip(u, -1.0, 0.9))\n"
              "            + np.max(u * x) + (u[2] * 3.0) % 2.7)\n")
    out = pf.check_source(source, "f", (0, 1), [(0.5, np.array([0.5, 0.2, 0.9]))])
    # x and u[0]: a tie of np.maximum; u[1]: the mask's boundary; u[2]: clip's bound and
    # the jump of % (2.7 = 3 * 0.9)
    assert out.status == "ok" and out.coords_kink == 4 and out.coords_checked == 0, out
    out = pf.check_source(source, "f", (0, 1), [(0.3, np.array([0.5, -0.4, 0.7]))])
    assert out.status == "ok" and out.coords_checked == 4, out


def test_oracle_singular_points():
    """A NaN gradient where sqrt(0) or hypot(0, 0) reaches the output is the convention (and
    autograd's): skipped, not failed. The same NaN from a value that never reaches the
    output is a failure: autograd shows the gradient is finite."""
    live = "import math\n\ndef f(x):\n    return x + 0.5 * math.hypot(x, x)\n"
    out = pf.check_source(live, "f", (0,), [(0.0,), (0.3,)])
    assert out.status == "ok" and out.coords_singular == 1 and out.coords_checked == 1, out
    # the 2-norm of a zero vector (found by a campaign: np.linalg.norm(u - u, 2))
    zero = "import numpy as np\n\ndef f(x, u):\n    return x + np.linalg.norm(u - u, 2)\n"
    out = pf.check_source(zero, "f", (0, 1), [(0.3, np.array([0.5, -1.0]))])
    assert out.status == "ok" and out.coords_singular == 2 and out.coords_checked == 1, out
    dead = "import math\n\ndef f(x):\n    y = math.hypot(x, x)\n    y = x\n    return y\n"
    out = pf.check_source(dead, "f", (0,), [(0.0,)], jit=True)
    if out.status == "ok":
        pytest.skip("srcgrad no longer differentiates dead values (nothing to flag)")
    assert out.status == "failed" and out.failures[0].kind == "gradient", out


# ============================================================================ regressions

@dataclasses.dataclass(frozen=True)
class Regression:
    """A program the fuzzer found srcgrad wrong on, shrunk (by hand, from the fuzzer's
    shrunk program), with a point away from every branch boundary."""

    name: str
    source: str
    args: tuple
    wrt: tuple
    what: str                      # what was wrong, and the fix
    open_bug: str | None = None    # progfuzz.OPEN_BUGS key while srcgrad is still wrong
    jit: tuple = (False, True)
    wrong_with: tuple = (False, True)   # the jit values the open bug affects
    refused: bool = False          # the open bug refuses a supported construct (not wrong)


_U = np.array([0.5, -1.0, 2.0])

REGRESSIONS = [
    Regression("aug_write_reversed_index", """
import numpy as np

def f(x, u):
    m = len(u)
    w = u.copy()
    for i in range(m):
        w[m - 1 - i] += x * u[i]
    return np.dot(w, w)
""", (0.7, _U), (0, 1),
        "silently wrong value and gradient (jit=False and True): an augmented element write "
        "whose index takes more than one operation read and wrote w[m - 1] (the index node, "
        "shared by the read and the write, was renamed twice); fixed in ee955ba"),
    Regression("aug_write_mod_index", """
import numpy as np

def f(x, u):
    m = len(u)
    w = np.zeros(m)
    for i in range(m):
        w[(i + 1) % m] -= x * u[i]
    return np.dot(w, u)
""", (0.7, _U), (0, 1),
        "IndexError with jit=False (w[i + 1]), and with jit=True a read and write past the "
        "end of w (Numba does not check bounds); fixed in ee955ba",
        # compiled, a regression would write past the end of the array: run uncompiled
        jit=(False,)),
    Regression("aug_write_min_index_in_branch", """
import numpy as np

def f(x, u):
    m = len(u)
    w = u.copy()
    if x > 0.0:
        x = x * 2.0
    else:
        for i in range(m):
            w[min(i, m - 1)] -= 0.5 * w[(i + 1) % m]
    return np.dot(w, u) * x
""", (-0.7, _U), (0, 1),
        "silently wrong value and gradient (w[m - 1] updated instead of w[min(i, m - 1)]); "
        "fixed in ee955ba"),
    Regression("aug_write_in_helper", """
import math
import numpy as np

def fill(buf, s):
    m = len(buf)
    for j in range(m):
        for k in range(j, 3):
            buf[k % m] -= s * buf[j]

def f(x, y, u):
    w = u.copy()
    fill(w, math.hypot(x, y))
    return np.dot(w, u)
""", (0.7, -0.4, _U), (0, 1, 2),
        "InternalError in stage 'types' (NotDefinedError: a temporary used before it is "
        "defined) for an augmented element write inside an inlined helper; fixed in ee955ba"),
    Regression("helper_counter_index", """
import numpy as np

def h0(buf, p0):
    m = len(buf)
    it0 = 0
    buf[it0 % m] -= p0 * buf[1]

def f(x, u):
    w = np.ones(len(u))
    h0(w, np.dot(u, u) * x)
    return np.dot(w, u)
""", (0.7, _U), (0, 1),
        "InternalError in stage 'types' (NotDefinedError), as above; fixed in ee955ba"),
    Regression("dead_element_read", """
def f(x, u):
    z = u[0]
    z = x * x
    return z * u[1]
""", (0.7, _U), (0, 1),
        "InternalError in stage 'reverse' ('Subscript' object has no attribute 'id') for a "
        "variable assigned an array element and overwritten before it is read; fixed in "
        "ee955ba"),
    Regression("dead_element_read_computed_index", """
import numpy as np

def f(x, u, n):
    m = len(u)
    d = u[n % m]
    d = np.sum(u * x)
    return d
""", (0.7, _U, 4), (0, 1), "the same crash, at a computed index; fixed in ee955ba"),
    Regression("inactive_array_overwrite", """
import numpy as np

def f(x):
    w = np.zeros(2)
    w[0] = 1.5
    a = x * x * w[0]
    w[0] = 2.0
    return a
""", (0.7,), (0,),
        "silently wrong gradient (jit=False and True): f = 1.5 x**2, but srcgrad gave 4 x "
        "(2.8 instead of 2.1), reading w[0] after the later write: writes into an array that "
        "depends on no differentiated argument were not undone in the reverse sweep; fixed "
        "in 31be66e"),
    Regression("inactive_coefficients_in_loop", """
import numpy as np

def f(x, u):
    c = np.ones(len(u))
    s = 0.0
    for i in range(len(u)):
        c[i] = 0.5 * i
        s += x * x * c[i] + u[i]
        c[i] = 7.0
    return s
""", (0.7, _U), (0, 1),
        "the same bug in a loop, a coefficient array of constants overwritten after each "
        "use: d/dx was 29.4 instead of 2.1; fixed in 31be66e"),
    Regression("constant_branch_loop_with_return", """
def f(x, y, n):
    k = 3
    if k > 2:
        k = 1
    else:
        for j in range(n):
            return y * x
    return x * y
""", (0.3, 0.7, 2), (0, 1),
        "jit=True: Numba rejected the generated adjoint ('Unsupported assignment encountered "
        "... Undefined' at the reverse loop over j; an InternalError since cd5a64d, a raw "
        "Numba error before); jit=False was right; fixed in 13687a4"),
    Regression("dead_hypot_at_origin", """
import math

def f(x):
    a = x
    x *= math.cos(math.hypot(x, x))
    return a
""", (0.0,), (0,),
        "NaN gradient of f(x) = x at x = 0 (jit=False and True): the overwritten x * "
        "cos(hypot(x, x)) still gets adjoint statements, and hypot's partial x / hypot(x, x) "
        "is 0 / 0 there; fixed: the reverse sweep skips assignments whose value is unused"),
    Regression("dead_sqrt_at_zero", """
import math

def f(x, y):
    a = x * y + y
    x = math.sqrt(x * x + y * y)
    return a
""", (0.0, 0.0), (0, 1),
        "a parameter overwritten with sqrt(...) of 0: NaN gradient (jit=True), "
        "ZeroDivisionError in the generated adjoint (jit=False); the gradient is (0, 1); "
        "fixed: the reverse sweep skips assignments whose value is unused"),
    Regression("dead_hypot_when_the_loop_runs", """
import math

def f(x, n):
    q = math.hypot(x, x)
    for i in range(n):
        q = 3.0 * x
    return q
""", (0.0, 2), (0,),
        "hypot(0, 0) is live on the path where the loop runs zero times, so the static "
        "analysis keeps its adjoint; when the loop runs, q's adjoint there is 0 and 0 * 0 / 0 "
        "is NaN (found by a compiled fuzz campaign of fused loops, seed outl4 program 135); "
        "fixed by guarding terms that can be infinite with the adjoint being nonzero"),
    Regression("skipped_inner_loop_of_zero_trips", """
import math

def f(y, z, n, m):
    tot = 0.0
    c = 0.0
    for i in range(n):
        b = math.sin(y * (i + 1))
        for j in range(m):
            c = z
            b = 0.5
        tot += b * b
    return tot + 0.0 * c
""", (0.7, 0.3, 3, 0), (0, 1),
        "the reverse of the inner loop is skipped when the adjoints flowing into it are 0 "
        "(b_c here); the first version then set the adjoints the loop assigns to 0 (b_b), "
        "which is what running it does only if it runs: with m = 0, b_b must keep its "
        "value (found by a compiled fuzz campaign of fused loops, seed fin43 program 210, "
        "before it landed); now b_b is part of the test"),
    Regression("skipped_inner_loop_of_nearest_centroid", """
def f(P, C):
    total = 0.0
    for i in range(P.shape[0]):
        closest = 1e300
        for j in range(C.shape[0]):
            dist = 0.0
            for c in range(P.shape[1]):
                diff = C[j, c] - P[i, c]
                dist += diff * diff
            if dist < closest:
                closest = dist
        total += closest
    return total
""", (np.array([[0.1, 0.4], [0.9, 0.3], [0.5, 0.8]]),
      np.array([[0.0, 0.5], [1.0, 0.2]])), (1,),
        "kmeans' cost: the distance loop of every centroid but the nearest is skipped in "
        "the reverse sweep (its adjoint is 0); a check that the nearest one's is not"),
    # JAX habits (progfuzz._Gen.s_jax), /work/fuzzlogs/containers_BUGS.md
    Regression("enumerate_start_over_array", """
def f(x, u):
    t = 0.0
    for k, el in enumerate(u, start=1):
        t += k * el * x
    return t
""", (0.7, _U), (0, 1),
        "silently wrong value and gradient (jit=False and True): enumerate's start is "
        "dropped over an array (value 1.05 * ... as if start=0; d/dx 1.5 instead of 2.5 at "
        "u = (0.4, -0.3, 0.9))"),
    Regression("comprehension_over_constant_range", """
def f(x, u):
    return sum(u[i] * x * i for i in range(3))
""", (0.7, _U), (0, 1),
        "refused: 'range() outside a for statement' (docs/language.md: comprehensions over "
        "range(<constants>) are supported)"),
    Regression("enumerate_start_in_comprehension", """
def f(x, t):
    return sum(k * v * x for k, v in enumerate(t, start=1))
""", (0.7, (0.5, -1.2, 0.8)), (0,),
        "refused: 'keyword arguments in a call' (the same enumerate in a for loop works)",),
    Regression("reversed_range_without_containers", """
def f(x):
    t = 0.0
    for i in reversed(range(4)):
        t = t * x + i
    return t
""", (0.7,), (0,),
        "refused with a TypeInferenceError (Numba: no implementation of range) even with "
        "jit=False; works when the function has a container argument",),
    Regression("unpack_a_list_argument", """
def f(x, p):
    a, b = p
    return x * a * b
""", (0.7, [0.3, 0.5]), (0,),
        "refused: 'tuple assignment needs a tuple of the same length on the right' for a "
        "list argument (a tuple works)"),
    Regression("lambda_calls_lambda", """
def f(x, y):
    g = lambda t: t * y
    h = lambda t: g(t) * g(t)
    return h(x)
""", (0.7, 0.3), (0, 1),
        "refused: \"name 'g' is not defined\" (a lambda reading the enclosing function's "
        "local g, which docs/language.md says is read at the call)",),
    Regression("for_over_a_nested_container", """
def f(x, p):
    t = 0.0
    for v in p["c"]:
        t = t + v * x
    return t
""", (0.7, {"w": 0.3, "c": (0.5, -1.2, 0.8)}), (0,),
        "refused: 'for over a non-range iterable' (docs/language.md: for loops over "
        "containers are unrolled; a comprehension over p[\"c\"] works)",),
    Regression("lambda_in_a_branch", """
def f(x):
    t = x
    if x > 0.0:
        g = lambda s: s * x
        t = g(t)
    return t
""", (0.7,), (0,),
        "refused: 'lambda' is not supported (hint: bind it at the top of the function "
        "body); docs/language.md lists name = lambda ... in the body as supported",),
    Regression("lambda_reads_the_container_argument", """
def f(x, p):
    g = lambda t: t * p["w"]
    return g(x)
""", (0.7, {"w": 0.3}), (0,),
        "TypeInferenceError at line 0: \"NameError: name 'p' is not defined\" (a nested "
        "def reading p too): the container argument is taken apart into its leaves, the "
        "inlined closure still reads p (found by seed cont1, program 64)",),
]


def _regression_params():
    for case in REGRESSIONS:
        for jit in case.jit:
            marks = []
            if case.open_bug and jit in case.wrong_with:
                marks.append(pytest.mark.xfail(strict=True, reason=(
                    f"srcgrad bug (progfuzz.OPEN_BUGS[{case.open_bug!r}]): "
                    f"{pf.OPEN_BUGS[case.open_bug].summary}")))
            yield pytest.param(case, jit, id=f"{case.name}-jit={jit}", marks=marks)


@pytest.mark.parametrize("case, jit", list(_regression_params()))
def test_regression(make_module, case, jit):
    """srcgrad's value equals the function's and its gradient matches 4th-order central
    finite differences, compiled and not."""
    f = make_module(case.source).f

    def fresh():
        return [a.copy() if isinstance(a, np.ndarray) else a for a in case.args]

    value, grads = srcgrad.value_and_grad(f, wrt=case.wrt, jit=jit)(*fresh())
    assert value == pytest.approx(f(*fresh()), rel=1e-12, abs=1e-12), case.what
    assert_allclose_grads(grads, fd_grad_array(f, fresh(), case.wrt), rtol=1e-6, atol=1e-8,
                          what=f"{case.name}: srcgrad vs finite differences ({case.what})")


def test_regressions_are_found_by_the_checker():
    """The fuzzer's own checker fails every regression program of an open bug, and passes
    the fixed ones (it reported each of them before the fix)."""
    for case in REGRESSIONS:
        out = pf.check_source(case.source, "f", case.wrt, [case.args], jit=False)
        wrong = case.open_bug and False in case.wrong_with
        want = "rejected" if wrong and case.refused else "failed" if wrong else "ok"
        assert out.status == want, f"{case.name}: {out.report()}"
