"""Corpus of scalar Python functions for srcgrad's gradient tests.

Every function is defined at module level (srcgrad reads source with
``inspect.getsource``), takes float (and sometimes int) scalars, and returns a
float. ``CASES`` lists each function with evaluation points chosen so that every
branch is taken at some point, data-dependent loops run with different trip
counts, and every point is far (relative distance > 5e-3) from a branch
boundary, a change of loop trip count, a min/max/abs tie, or a jump of
floor/ceil/trunc/``//``/``%`` -- so finite differences are valid there.
"""

import math

from .golden_functions import d2l_control_flow  # the d2l chapter's example
from .oracles import Case

SCALE = 0.75
OFFSET = -1.25
DT = 0.01
N_STEPS = 6


# ============================================================ straight-line arithmetic

def add_mul(x, y):
    return x * y + x - y


def div_sub(x, y):
    return (x - y) / (x + y * y)


def unary_minus(x):
    return -x * x + -(x - 3.0) - (-x)


def poly_pow(x):
    return x ** 3 - 2.0 * x ** 2 + 0.5 * x ** 0.5 - 1.0 / x


def pow_both(x, y):
    return x ** y + y ** 2.0 + 2.0 ** x


def pow_int_arg(x, n):
    return x ** n + n * x - n


def floordiv_mod(x, y):
    return (x // y) * x + x % y + y * (x // 2.0)


def mod_const(x):
    return (x % 1.5) * x + (2.0 * x) % 0.7


def int_arith(x, n):
    k = n // 2 + n % 3 - n * 2
    return k * x + n / 4 + (-n) * x * x


def reassign_many(x):
    a = x
    a = a * a
    a = a + x
    a = math.sin(a)
    a = a * x - a
    a = a / (1.0 + x * x)
    a = -a
    return a


def augassign_all(x, y):
    s = x
    s += y
    s *= x
    s -= 0.5 * y
    s /= 1.0 + x * x
    s += s * y
    return s


def tuple_swap(x, y):
    a, b = x, y
    a, b = b, a + b * x
    a, b = b * y, a
    a, b = b, a
    return a - 2.0 * b


def module_constant(x):
    return SCALE * x * x + SCALE + OFFSET * x


def int_float_mix(x, n):
    k = 1
    k = k + n
    z = k * x
    z = z + k
    return z * x + k


def operator_precedence(x, y):
    return -x ** 2 + x * -y / 2.0 - (x - y) ** 3 / 7.0 + x * y % 5.0


# ============================================================ math functions and builtins

def trig(x):
    return math.sin(x) * math.cos(x) + math.tan(x)


def inverse_trig(x):
    return math.asin(x) + math.acos(0.5 * x) + math.atan(3.0 * x)


def atan2_quadrants(y, x):
    return math.atan2(y, x) * x + math.atan2(x * x + 1.0, y)


def hyperbolic(x):
    return math.sinh(x) + math.cosh(x) * math.tanh(x)


def exp_log(x):
    return math.exp(x) * math.log(x) + math.expm1(x) - math.log1p(x)


def log10_sqrt(x):
    return math.log10(x) + math.sqrt(x) * x + math.sqrt(x * x + 1.0)


def pow_hypot(x, y):
    return math.pow(x, 1.5) + math.hypot(x, y) + math.pow(y * y + 1.0, x)


def fabs_fn(x):
    return math.fabs(x) * x + math.fabs(x - 1.0)


def floor_ceil_trunc(x):
    return math.floor(x) * x + math.ceil(x) + math.trunc(x) * x * x


def builtin_abs(x):
    return abs(x) + abs(x * x - 2.0) * x


def min_max_two(x, y):
    return min(x, y) * max(x, y) + min(x * x, 1.0) - max(0.5, y)


def min_max_three(x, y, z):
    return max(x, y, z) - min(x, y, z) * 2.0 + max(x * y, z, 0.25)


def uses_pi(x):
    return math.pi * x * x + math.sin(math.pi * x) - x / math.pi


def nested_calls(x):
    return math.sin(math.cos(math.tan(x))) + math.exp(math.sin(x) * math.log(2.0 + x * x))


def softplus(x):
    if x > 20.0:
        return x
    return math.log1p(math.exp(x))


def sigmoid_stable(x):
    if x >= 0.0:
        z = math.exp(-x)
        return 1.0 / (1.0 + z)
    else:
        z = math.exp(x)
        return z / (1.0 + z)


def logsumexp2(x, y):
    m = max(x, y)
    return m + math.log(math.exp(x - m) + math.exp(y - m))


def clip(x, lo, hi):
    return min(max(x, lo), hi) * 1.5 + lo * hi


# ============================================================ conditions

def if_else(x):
    if x > 0.0:
        y = x * x
    else:
        y = -3.0 * x
    return y + x


def if_elif_else(x):
    if x < -1.0:
        y = x * 2.0 + 1.0
    elif x < 1.0:
        y = x * x * x
    elif x < 2.0:
        y = math.sin(x)
    else:
        y = math.sqrt(x)
    return y * x


def and_or_conditions(x, y):
    if x > 0.0 and y > 0.0:
        r = x * y
    elif x < 0.0 or y < -1.0:
        r = x - y * y
    else:
        r = x + y
    return r


def not_condition(x, y):
    if not x > 1.0:
        r = x * x
    else:
        r = 2.0 * x
    if not (x > 0.0 or y > 0.0):
        r = r * y
    return r


def chained_comparison(x):
    if 0.0 < x < 2.0:
        r = math.sin(x)
    elif -3.0 <= x <= 0.0:
        r = math.cos(x) * x
    else:
        r = x * 0.5
    return r


def chained_three(x, a, b):
    if a < x <= b < 3.0:
        return x * a * b
    return x + a - b


def conditional_expression(x):
    return x * x if x > 1.0 else -x


def conditional_nested(x, y):
    p = x if x > y else y  # noqa: FURB136 -- the conditional expression is under test
    q = x * y if x * y > 1.0 else (x + y if x + y > 0.0 else x - y)
    return p * q


def int_compare(x, n):
    r = x
    if n == 2:
        r = r * x
    if n != 3:
        r = r + n * x
    if n >= 4 and not n > 6:
        r = -r
    return r


def early_return(x):
    if x > 2.0:
        return x * 3.0
    y = x * x
    if y > 1.0:
        return y + x
    return y - x


def elif_returns(x, y):
    if x > y:
        return x - y
    elif x * y > 2.0:
        return x * y
    elif x < -1.0:
        return math.exp(x)
    else:
        return x + 2.0 * y


def bool_mix_condition(x, y):
    if (x > 0.0 and not y > 1.0) or (x < -1.0 and y < 0.0):
        return x * y + 1.0
    return x - y


def piecewise_spline(x):
    if x < 0.0:
        r = 0.0
    elif x < 1.0:
        r = x * x / 2.0
    elif x < 2.0:
        r = -x * x + 3.0 * x - 1.5
    else:
        r = (3.0 - x) * (3.0 - x) / 2.0
    return r + 0.1 * x


# ============================================================ for loops over range

def for_sum_int_var(x, n):
    s = 0.0
    for i in range(n):
        s += x * i
    return s


def for_start_stop_step(x, a, b):
    s = 1.0
    for i in range(a, b, 2):
        s = s * x + i
    return s


def for_negative_step(x, n):
    s = 0.0
    for i in range(n, 0, -1):
        s = s * 0.5 + x / i
    return s


def for_constant_negative_step(x):
    s = 0.0
    for i in range(10, -5, -3):
        s += math.sin(x * i) + i
    return s


def for_step_arg(x, a, b, step):
    s = x
    for i in range(a, b, step):
        s = s * 0.9 + x * i
    return s


def for_shifted_bounds(x, n):
    s = 0.0
    for i in range(n, 2 * n + 1):
        s += x ** 2 / i - i * x
    return s


def loop_var_after_loop(x, n):
    s = 0.0
    for i in range(1, n):
        s += x ** i / i
    return s * i + i


def zero_trip_constant(x):
    s = x
    for i in range(5, 2):
        s = s * s + i
    for j in range(0):
        s = s - j
    return s * 2.0 + 1.0


def zero_trip_arg(x, n):
    s = x * x
    for i in range(n):
        s = s * x + 1.0
    return s


def nested_for(x, n, m):
    s = 0.0
    for i in range(n):
        for j in range(m):
            s += x * i - j * x * x
        s = s * 0.5
    return s


def nested_triangular(x, n):
    s = 0.0
    for i in range(n):
        for j in range(i):
            s += math.cos(x * j) * i
    return s


def nested_break(x):
    s = 0.0
    for i in range(5):
        for j in range(5):
            if j * x > 1.5:
                break
            s += x * j + i
    return s


def continue_int(x):
    s = 0.0
    for i in range(10):
        if i % 3 == 0:
            continue
        s += x ** i / (i + 1)
    return s


def continue_data(x):
    s = 0.0
    for i in range(1, 12):
        if math.sin(x * i) < 0.0:
            continue
        s += math.sin(x * i) * i
    return s


def break_on_data(x):
    s = 0.0
    for i in range(50):
        s = s + x * i
        if s > 5.0:
            break
    return s * 0.5


def break_then_use_index(x):
    for i in range(20):
        if x * i > 3.0:
            break
    return x * i


def return_in_for(x, n):
    for i in range(n):
        if x ** i > 10.0:
            return i * x
    return -x


def return_in_nested_for(x):
    s = 0.0
    for i in range(1, 10):
        for j in range(1, 10):
            s += x / (i + j)
            if s > 3.0:
                return s * i
    return -s


def loops_in_branches(x, n):
    s = 0.0
    if x > 0.0:
        for i in range(n):
            s = s + x * i
    else:
        for i in range(n, 0, -1):
            s = s * x - i
    return s


def branch_in_for(x, n):
    s = 0.0
    for i in range(n):
        if i % 2 == 0:
            s += x * i
        elif s > 1.0:
            s = s * 0.5
        else:
            s -= x
    return s


def cond_expr_in_loop(x, n):
    s = 0.0
    for i in range(1, n):
        s += x * i if i % 2 == 0 else -x / i
        s = s if s > -1.0 else s * 0.5
    return s


def fib_like(x, n):
    a, b = 1.0, x
    for i in range(n):
        a, b = b, a + b * x
    return b


def horner_reverse(x, n):
    p = 0.0
    for k in range(n, -1, -1):
        p = p * x + (k + 1)
    return p


def newton_sqrt(a):
    x = a
    for i in range(8):
        x = 0.5 * (x + a / x)
    return x


def bisection_sqrt(c):
    lo = 0.0
    hi = 4.0
    for i in range(6):
        mid = (lo + hi) / 2.0
        if mid * mid < c:
            lo = mid
        else:
            hi = mid
    return lo * c + hi


def max_in_loop(x, n):
    m = -1.0e9
    for i in range(n):
        m = max(m, math.sin(x * i + 0.3))
    return m


def min3_in_loop(x):
    m = 10.0
    for i in range(1, 6):
        m = min(m, x * i - 1.0, math.cos(x + i))
    return m


def abs_in_loop(x):
    s = 0.0
    for i in range(-3, 4):
        s += abs(x - i * 0.7)
    return s


def leaky_relu_chain(x):
    for i in range(4):
        x = max(0.1 * x, x) * 1.5 - 0.3
    return x


def rk2_ode(y0, k, n):
    y = y0
    t = 0.0
    h = 0.05
    for i in range(n):
        k1 = -k * y + math.sin(t)
        k2 = -k * (y + h * k1) + math.sin(t + h)
        y = y + 0.5 * h * (k1 + k2)
        t = t + h
    return y


def lotka_volterra(prey0, pred0, alpha, beta, delta, gamma):
    x = prey0
    y = pred0
    for i in range(150):
        dx = alpha * x - beta * x * y
        dy = delta * x * y - gamma * y
        x, y = x + DT * dx, y + DT * dy
    return x + 2.0 * y


# ============================================================ while loops

def while_data_trip(x):
    k = 0
    y = x
    while y < 10.0:
        y = y * 1.3 + 0.2
        k += 1
    return y + k * x


def while_halving(x):
    k = 0
    while x > 1.0:
        x = x / 2.0
        k += 1
    return x * k + x * x


def while_branch_inside(x):
    y = x
    k = 0
    while y < 10.0 and k < 8:
        if y < 1.0:
            y = y * 2.0 + 0.1
        else:
            y = y + math.sqrt(y)
        k += 1
    return y * x


def while_return_inside(x):
    y = x
    while y < 100.0:
        y = y * 1.7 + 0.3
        if y > 50.0 and y < 60.0:
            return y * 2.0
    return y


def while_break(x):
    y = x
    k = 0
    while k < 50:
        y = y * y * 0.5 + 0.4
        k += 1
        if y > 5.0:
            break
    return y + k


def while_continue(x):
    y = x
    s = 0.0
    while y < 6.0:
        y = y + 0.7
        if math.sin(y) < 0.0:
            continue
        s += math.sin(y) * x
    return s + y


def while_zero_trip(x):
    y = x
    while y > 1000.0:
        y = y * 0.5
    return y * y


def while_in_for(x, n):
    s = 0.0
    for i in range(1, n):
        y = x * i
        while y < 5.0:
            y = y * 1.5 + 0.1
            if y > 4.0:
                break
        s += y
    return s


def for_in_while(x):
    y = x
    k = 0
    while y < 5.0:
        for j in range(3):
            y = y + x * 0.1 * j + 0.05
        k += 1
    return y * k


def return_in_while_nested_for(x):
    y = x
    while y < 50.0:
        for j in range(1, 4):
            y = y * 1.2 + j * 0.1
            if y > 20.0 and y < 25.0:
                return y * x
    return y + x


def projectile(v0, angle):
    vx = v0 * math.cos(angle)
    vy = v0 * math.sin(angle)
    x = 0.0
    y = 0.0
    t = 0.0
    h = 0.04
    while y >= 0.0:
        x += vx * h
        y += vy * h
        vy -= 9.81 * h
        vx *= 0.995
        t += h
    return x + t


def float_collatz(x):
    y = x
    n = 0
    while y > 1.0 and n < 5:
        if y > 3.0:
            y = y * 0.5
        else:
            y = y * 1.3 - 1.0
        n += 1
    return y + n * 0.01 * x


def while_true_break(x):
    y = x
    while True:
        y = y * 1.5 + 0.5
        if y > 20.0:
            break
    return y / x


# ============================================================ misc combinations

def swap_sort_three(a, b, c):
    if a > b:
        a, b = b, a
    if b > c:
        b, c = c, b
    if a > b:
        a, b = b, a
    return a + 2.0 * b + 3.0 * c * c


def running_stats(x, n):
    mean = 0.0
    m2 = 0.0
    for i in range(1, n + 1):
        v = math.sin(x * i) + x
        d = v - mean
        mean += d / i
        m2 += d * (v - mean)
    return mean + m2 / n


def geometric_series_until(x):
    s = 0.0
    term = 1.0
    k = 0
    while abs(term) > 1.0e-3 and k < 150:
        s += term
        term *= x
        k += 1
    return s


def many_reassign_loop(x, n):
    a = x
    b = 1.0
    for i in range(n):
        t = a
        a = a * 0.5 + b
        b = t - b * 0.25
        a = a - 0.1 * i
    a = a * b
    return a + b


def power_tower(x):
    y = x
    for i in range(3):
        y = x ** y
    return y


# ============================================================ int/float mixing and edge cases

def int_then_float(x):
    r = 0
    for i in range(3):
        r = r + x * i
    return r * x


def branch_int_float(x):
    r = 1
    if x > 0.0:
        r = x
    return r * x + r


def ifexp_int_float(x, n):
    y = x if x > 0.0 else 0
    z = n if x < 1.0 else x * x
    return (y + z) * 0.5 + x


def minmax_int_literals(x):
    return max(x, 0) * 1.5 + min(1, x * 2.0) + max(-2, min(x, 3), 0)


def neg_base_float_exponent(x):
    return x ** 2.0 + (x - 3.0) ** 3.0 + math.pow(x, 2.0) + math.pow(x - 3.0, 3)


def unused_argument(x, y):
    return x * x + 1.0


def constant_branch_return(x):
    if x > 1.0:
        return 2.5
    return x * x


def module_int_bound(x):
    s = 0.0
    for i in range(N_STEPS):
        s = s * x + SCALE * i
    for i in range(N_STEPS - 1, -1, -2):
        s -= x / (i + 1)
    return s


def int_chained_compare(x, n):
    if 0 < n < 5:
        return x * n
    elif n >= 5 and x < 2.0 < x * n:
        return x * x
    return -x


def loop_var_preassigned(x, n):
    i = 7
    s = 0.0
    for i in range(n):
        s += x * i
    return s + x * i


def loop_var_reassigned(x):
    s = 0.0
    for i in range(5):
        i = i * 2
        s += x ** 2 * i
    return s + i


def augment_argument(x, y):
    x += y
    x *= x
    y -= x * 0.5
    y /= 1.5
    return x + y


def three_way_rotate(x, y, z):
    a, b, c = x, y, z
    for i in range(4):
        a, b, c = c * 0.5, a + b, b * a - c
    return a + b * c


def nested_while(x):
    y = x
    total = 0.0
    while y < 4.0:
        z = y
        while z < 6.0:
            z = z * 1.4 + 0.3
            total += z * 0.01
        y = y + 0.9
    return total + y * x


def while_or_condition(x):
    y = x
    k = 0
    while y < 3.0 or k < 2:
        y = y * 1.25 + 0.1
        k += 1
    return y + k * x


def ifexp_in_call(x, y):
    a = math.sin(x if x > y else y * 2.0)
    return a + math.exp(-x * x if x > 0.0 else x) * (y if y > 0.5 else 0.5)  # noqa: FURB136


def int_ops_in_loop(x, n):
    s = 0.0
    for i in range(n):
        s += x * (i // 2) - x * x * (i % 2) + abs(n - 3) * x / (i + 1)
    return s


# ============================================================ cases

CASES = [
    # straight-line arithmetic
    Case("add_mul", add_mul, [(1.3, -0.7), (-2.5, 4.0), (0.25, 0.5)], ("x", "y")),
    Case("div_sub", div_sub, [(1.3, 0.7), (-2.5, 4.0), (3.0, -0.5)], (0, 1)),
    Case("unary_minus", unary_minus, [(1.3,), (-2.5,)], 0),
    Case("poly_pow", poly_pow, [(1.3,), (0.4,), (3.7,)], "x"),
    Case("pow_both", pow_both, [(1.3, 0.7), (2.5, -1.5), (0.6, 3.2)], ("x", "y")),
    Case("pow_int_arg", pow_int_arg, [(1.3, 3), (-0.8, 2), (2.2, 0), (1.7, -2)], 0),
    Case("floordiv_mod", floordiv_mod, [(5.3, 1.7), (-3.6, 1.1), (7.9, -2.3), (0.45, 0.8)],
         ("x", "y")),
    Case("mod_const", mod_const, [(0.4,), (2.3,), (-1.2,), (5.1,)], 0),
    Case("int_arith", int_arith, [(1.3, 5), (-0.6, 2), (2.1, -7)], 0),
    Case("reassign_many", reassign_many, [(0.4,), (-1.3,), (2.2,)], 0),
    Case("augassign_all", augassign_all, [(1.3, -0.7), (-0.4, 2.1)], (0, "y")),
    Case("tuple_swap", tuple_swap, [(1.3, -0.7), (-0.4, 2.1), (0.9, 0.9)], ("x", "y")),
    Case("module_constant", module_constant, [(1.3,), (-2.0,)], 0),
    Case("int_float_mix", int_float_mix, [(1.3, 4), (-0.7, 0)], "x"),
    Case("operator_precedence", operator_precedence, [(1.3, 0.4), (-2.1, 1.6), (2.4, 3.3)],
         ("x", "y")),
    # math functions and builtins
    Case("trig", trig, [(0.3,), (-1.1,), (1.2,)], 0),
    Case("inverse_trig", inverse_trig, [(0.3,), (-0.8,), (0.95,)], 0),
    Case("atan2_quadrants", atan2_quadrants,
         [(0.7, 1.2), (0.7, -1.2), (-0.7, -1.2), (-0.7, 1.2)], ("y", "x")),
    Case("hyperbolic", hyperbolic, [(0.3,), (-1.7,), (2.5,)], 0),
    Case("exp_log", exp_log, [(0.3,), (1.7,), (4.0,)], 0),
    Case("log10_sqrt", log10_sqrt, [(0.3,), (12.5,)], 0),
    Case("pow_hypot", pow_hypot, [(0.3, 1.4), (2.5, -0.6)], ("x", "y")),
    Case("fabs_fn", fabs_fn, [(0.3,), (-1.7,), (2.5,)], 0),
    Case("floor_ceil_trunc", floor_ceil_trunc, [(0.3,), (-1.7,), (2.5,), (-0.4,)], 0),
    Case("builtin_abs", builtin_abs, [(0.3,), (-1.7,), (2.5,), (-0.8,)], 0),
    Case("min_max_two", min_max_two, [(0.3, 1.4), (2.5, -0.6), (-1.3, 0.2), (0.8, 0.1)],
         ("x", "y")),
    Case("min_max_three", min_max_three,
         [(0.3, 1.4, -0.5), (2.5, -0.6, 0.9), (-1.3, 0.2, 1.1), (0.7, 0.9, 0.1)], (0, 1, 2)),
    Case("uses_pi", uses_pi, [(0.3,), (-1.7,)], 0),
    Case("nested_calls", nested_calls, [(0.3,), (-1.1,), (0.9,)], 0),
    Case("softplus", softplus, [(0.3,), (-4.0,), (25.0,)], 0),
    Case("sigmoid_stable", sigmoid_stable, [(0.3,), (-4.0,), (2.2,)], 0),
    Case("logsumexp2", logsumexp2, [(0.3, 1.4), (2.5, -0.6)], ("x", "y")),
    Case("clip", clip, [(0.3, -1.0, 1.0), (-2.5, -1.0, 1.0), (1.7, -1.0, 1.0)],
         ("x", "lo", "hi")),
    # conditions
    Case("if_else", if_else, [(0.3,), (-1.7,), (2.5,)], 0),
    Case("if_elif_else", if_elif_else, [(-1.6,), (0.4,), (1.5,), (3.2,)], 0),
    Case("and_or_conditions", and_or_conditions,
         [(0.5, 0.8), (-0.5, 0.8), (0.5, -1.6), (0.5, -0.4), (1.2, 2.0)], ("x", "y")),
    Case("not_condition", not_condition, [(0.5, 0.8), (-0.5, -0.8), (-0.5, 0.8), (1.6, -0.4)],
         ("x", "y")),
    Case("chained_comparison", chained_comparison, [(0.5,), (-1.2,), (2.7,), (-3.6,)], 0),
    Case("chained_three", chained_three,
         [(1.0, 0.5, 1.5), (0.3, 0.5, 1.5), (1.0, 0.5, 3.4), (1.8, 0.5, 1.5)],
         ("x", "a", "b")),
    Case("conditional_expression", conditional_expression, [(0.5,), (1.7,), (-2.0,)], 0),
    Case("conditional_nested", conditional_nested,
         [(1.5, 2.0), (2.0, 0.2), (0.3, 0.4), (-0.5, 0.2), (-1.5, 0.3)], ("x", "y")),
    Case("int_compare", int_compare, [(1.3, 2), (1.3, 3), (0.7, 5), (0.7, 8)], 0),
    Case("early_return", early_return, [(2.5,), (1.4,), (0.5,), (-1.6,)], 0),
    Case("elif_returns", elif_returns,
         [(2.0, 1.0), (1.5, 2.0), (-1.5, 0.5), (0.3, 0.5), (-3.0, -0.5)], ("x", "y")),
    Case("bool_mix_condition", bool_mix_condition,
         [(0.5, 0.5), (0.5, 1.5), (-1.5, -0.5), (-1.5, 0.5), (-0.5, -0.5)], ("x", "y")),
    Case("piecewise_spline", piecewise_spline, [(-0.5,), (0.5,), (1.5,), (2.5,)], 0),
    # for loops over range
    Case("for_sum_int_var", for_sum_int_var, [(1.3, 0), (1.3, 3), (-0.7, 7)], 0),
    Case("for_start_stop_step", for_start_stop_step,
         [(1.1, 0, 7), (0.7, -3, 4), (1.3, 5, 5), (-0.6, 2, 11)], 0),
    Case("for_negative_step", for_negative_step, [(1.3, 5), (-0.7, 1), (2.0, 0)], 0),
    Case("for_constant_negative_step", for_constant_negative_step, [(0.3,), (-0.45,)], 0),
    Case("for_step_arg", for_step_arg,
         [(0.7, 0, 9, 3), (0.7, 9, -2, -2), (1.2, 5, 0, 1), (-0.4, -4, 4, 1)], 0),
    Case("for_shifted_bounds", for_shifted_bounds, [(0.7, 1), (-1.3, 4)], 0),
    Case("loop_var_after_loop", loop_var_after_loop, [(0.7, 2), (1.3, 6)], 0),
    Case("zero_trip_constant", zero_trip_constant, [(0.7,), (-2.3,)], 0),
    Case("zero_trip_arg", zero_trip_arg, [(0.7, 0), (1.3, 3), (-0.8, -2)], 0),
    Case("nested_for", nested_for, [(0.7, 3, 4), (1.3, 0, 2), (-0.4, 5, 0), (0.9, 4, 6)], 0),
    Case("nested_triangular", nested_triangular, [(0.7, 5), (-1.3, 2)], 0),
    Case("nested_break", nested_break, [(0.35,), (0.8,), (2.1,), (-0.5,)], 0),
    Case("continue_int", continue_int, [(0.7,), (-1.1,)], 0),
    Case("continue_data", continue_data, [(0.742,), (-1.1,), (0.23,)], 0),
    Case("break_on_data", break_on_data, [(0.7,), (0.125,), (2.3,)], 0),
    Case("break_then_use_index", break_then_use_index, [(0.7,), (0.1,), (1.3,)], 0),
    Case("return_in_for", return_in_for, [(1.7, 10), (0.7, 10), (2.8, 4)], 0),
    Case("return_in_nested_for", return_in_nested_for, [(0.7,), (2.3,), (0.08,)], 0),
    Case("loops_in_branches", loops_in_branches, [(0.7, 4), (-0.7, 4), (-1.3, 0)], 0),
    Case("branch_in_for", branch_in_for, [(0.7, 6), (-0.3, 5), (1.9, 7)], 0),
    Case("cond_expr_in_loop", cond_expr_in_loop, [(0.7, 6), (-0.9, 7), (0.15, 9)], 0),
    Case("fib_like", fib_like, [(0.7, 6), (-0.9, 4), (1.2, 0)], 0),
    Case("horner_reverse", horner_reverse, [(0.7, 6), (-0.9, 3), (1.2, 0)], 0),
    Case("newton_sqrt", newton_sqrt, [(2.0,), (0.3,), (9.5,)], 0),
    Case("bisection_sqrt", bisection_sqrt, [(2.0,), (0.3,), (9.5,)], 0),
    Case("max_in_loop", max_in_loop, [(0.7, 5), (-0.35, 4), (1.9, 8)], 0),
    Case("min3_in_loop", min3_in_loop, [(0.7,), (-0.35,), (1.9,)], 0),
    Case("abs_in_loop", abs_in_loop, [(0.3,), (-1.1,), (2.5,)], 0),
    Case("leaky_relu_chain", leaky_relu_chain, [(0.7,), (-0.5,), (0.15,)], 0),
    Case("rk2_ode", rk2_ode, [(1.0, 0.5, 40), (-0.3, 2.0, 10), (0.8, 1.5, 0)], ("y0", "k")),
    Case("lotka_volterra", lotka_volterra,
         [(10.0, 5.0, 1.1, 0.4, 0.1, 0.4), (4.0, 2.0, 0.7, 0.2, 0.3, 0.9)],
         ("prey0", "pred0", "alpha", "beta", "delta", "gamma")),
    # while loops
    Case("d2l_control_flow", d2l_control_flow,
         [(0.7,), (-1.3,), (3.0,), (-0.092,), (1500.0,), (-700.0,)], 0),
    Case("while_data_trip", while_data_trip, [(0.7,), (3.0,), (12.0,), (-0.3,)], 0),
    Case("while_halving", while_halving, [(0.7,), (3.0,), (50.0,)], 0),
    Case("while_branch_inside", while_branch_inside,
         [(0.01,), (0.088,), (0.7,), (3.0,), (12.0,)], 0),
    Case("while_return_inside", while_return_inside, [(0.7,), (0.85,), (3.0,), (12.0,), (150.0,)],
         0),
    Case("while_break", while_break, [(0.7,), (2.0,), (3.5,)], 0),
    Case("while_continue", while_continue, [(0.7,), (3.3,), (-1.25,)], 0),
    Case("while_zero_trip", while_zero_trip, [(0.7,), (3000.0,)], 0),
    Case("while_in_for", while_in_for, [(0.7, 4), (1.8, 4), (0.2, 5)], 0),
    Case("for_in_while", for_in_while, [(0.828,), (1.9,), (6.0,), (0.269,)], 0),
    Case("return_in_while_nested_for", return_in_while_nested_for,
         [(0.5,), (3.0,), (15.0,), (30.0,), (55.0,)], 0),
    Case("projectile", projectile, [(9.29, 0.7), (4.525, 1.2), (13.61, 0.3)], ("v0", "angle")),
    Case("float_collatz", float_collatz, [(0.7,), (3.7,), (7.0,), (5.3,), (2.2,)], 0),
    Case("while_true_break", while_true_break, [(0.7,), (3.0,), (25.0,)], 0),
    # misc combinations
    Case("swap_sort_three", swap_sort_three,
         [(0.3, 1.4, -0.5), (2.5, -0.6, 0.9), (-1.3, 0.2, 1.1), (0.7, 0.9, 0.1),
          (1.6, 1.1, 0.4)], ("a", "b", "c")),
    Case("running_stats", running_stats, [(0.7, 5), (-1.3, 1)], 0),
    Case("geometric_series_until", geometric_series_until,
         [(0.443,), (-0.621,), (0.12,), (0.97,)], 0),
    Case("many_reassign_loop", many_reassign_loop, [(0.7, 5), (-1.3, 0), (0.2, 9)], 0),
    Case("power_tower", power_tower, [(1.3,), (0.6,)], 0),
    # int/float mixing and edge cases
    Case("int_then_float", int_then_float, [(0.7,), (-1.3,)], 0),
    Case("branch_int_float", branch_int_float, [(0.7,), (-1.3,)], 0),
    Case("ifexp_int_float", ifexp_int_float, [(0.7, 3), (-1.3, 2), (1.6, 4)], 0),
    Case("minmax_int_literals", minmax_int_literals, [(0.3,), (-1.3,), (0.8,), (3.5,), (-2.6,)], 0),
    Case("neg_base_float_exponent", neg_base_float_exponent, [(-1.3,), (0.7,), (4.2,)], 0),
    Case("unused_argument", unused_argument, [(0.7, 1.5), (-1.3, 0.2)], ("x", "y")),
    Case("constant_branch_return", constant_branch_return, [(0.7,), (1.3,)], 0),
    Case("module_int_bound", module_int_bound, [(0.7,), (-1.3,)], 0),
    Case("int_chained_compare", int_chained_compare,
         [(0.7, 3), (0.7, 5), (1.3, 6), (1.3, 0), (0.2, 7), (2.5, 6)], 0),
    Case("loop_var_preassigned", loop_var_preassigned, [(0.7, 0), (0.7, 4), (-1.3, 1)], 0),
    Case("loop_var_reassigned", loop_var_reassigned, [(0.7,), (-1.3,)], 0),
    Case("augment_argument", augment_argument, [(0.7, 0.4), (-1.3, 0.2)], ("x", "y")),
    Case("three_way_rotate", three_way_rotate, [(0.7, 0.4, -0.3), (-1.1, 0.6, 0.9)], (2, 0, 1)),
    Case("nested_while", nested_while, [(0.7,), (2.6,), (5.0,), (-0.4,)], 0),
    Case("while_or_condition", while_or_condition, [(0.7,), (2.9,), (5.0,)], 0),
    Case("ifexp_in_call", ifexp_in_call, [(0.7, 0.4), (-1.3, 0.2), (0.3, 0.9)], ("x", "y")),
    Case("int_ops_in_loop", int_ops_in_loop, [(0.7, 6), (-1.3, 3), (0.4, 0)], 0),
]

#: a small subset used for the jit=False vs jit=True comparison
JIT_FALSE_CASES = ["add_mul", "floordiv_mod", "min_max_three", "and_or_conditions",
                   "for_step_arg", "nested_break", "return_in_nested_for", "d2l_control_flow",
                   "while_branch_inside", "lotka_volterra", "tuple_swap", "projectile"]
