"""Fit the four parameters of a Lotka-Volterra model to noisy observations.

The model is integrated with explicit Euler steps in a plain Python loop; the
loss is the squared distance between the simulated populations and noisy
observations of them. srcgrad differentiates the loop as written, and
scipy's L-BFGS-B uses the gradient (`jac=True`: the objective returns the
value and the gradient together, from one call of `srcgrad.value_and_grad`).

    python examples/fit_ode.py
"""

import time

import numpy as np
from scipy.optimize import minimize

import srcgrad

TRUE = np.array([0.7, 1.3, 1.0, 1.0])  # alpha, beta, delta, gamma
NAMES = ("alpha", "beta", "delta", "gamma")
X0, Y0 = 1.0, 0.5                      # initial prey and predator populations
H = 0.01                               # Euler step
STEPS_PER_OBSERVATION = 25             # an observation every 0.25 time units
OBSERVATIONS = 60                      # up to t = 15, about two and a half cycles


def simulate(alpha, beta, delta, gamma, x0, y0, h, steps, count):
    """The populations after every `steps` Euler steps, `count` times: arrays (count,)."""
    xs = np.zeros(count)
    ys = np.zeros(count)
    x = x0
    y = y0
    for k in range(count):
        for i in range(steps):
            dx = alpha * x - beta * x * y
            dy = delta * x * y - gamma * y
            x = x + h * dx
            y = y + h * dy
        xs[k] = x
        ys[k] = y
    return xs, ys


def loss(alpha, beta, delta, gamma, x0, y0, h, steps, obs_x, obs_y):
    """Half the sum of squared differences between the simulation and the observations."""
    x = x0
    y = y0
    total = 0.0
    for k in range(len(obs_x)):
        for i in range(steps):
            dx = alpha * x - beta * x * y
            dy = delta * x * y - gamma * y
            x = x + h * dx
            y = y + h * dy
        total += 0.5 * ((x - obs_x[k]) ** 2 + (y - obs_y[k]) ** 2)
    return total


def main() -> dict:
    rng = np.random.default_rng(0)
    clean_x, clean_y = simulate(*TRUE, X0, Y0, H, STEPS_PER_OBSERVATION, OBSERVATIONS)
    noise = 0.02
    obs_x = clean_x + noise * rng.standard_normal(OBSERVATIONS)
    obs_y = clean_y + noise * rng.standard_normal(OBSERVATIONS)

    value_and_grad = srcgrad.value_and_grad(loss, wrt=(0, 1, 2, 3))
    data = (X0, Y0, H, STEPS_PER_OBSERVATION, obs_x, obs_y)

    def objective(p):
        value, grads = value_and_grad(*(float(v) for v in p), *data)
        return value, np.array(grads)

    start = time.perf_counter()
    guess = np.array([1.0, 1.0, 1.0, 1.0])
    fit = minimize(objective, guess, jac=True, method="L-BFGS-B", bounds=[(0.05, 5.0)] * 4)
    seconds = time.perf_counter() - start

    print(f"{OBSERVATIONS} noisy observations (noise {noise}), {OBSERVATIONS * STEPS_PER_OBSERVATION} Euler steps")
    print(f"L-BFGS-B from {guess.tolist()}: {fit.nit} iterations, {fit.nfev} gradient evaluations, "
          f"{seconds:.2f} s (first call compiles)")
    print(f"loss {objective(guess)[0]:.4f} -> {fit.fun:.4f} (at the true parameters: {objective(TRUE)[0]:.4f})")
    fitted = {}
    for name, true, value in zip(NAMES, TRUE, fit.x):
        error = abs(value - true) / true
        fitted[name] = value
        print(f"{name:<6} true {true:.4f}  fitted {value:.4f}  error {100 * error:.2f}%")
    return fitted


if __name__ == "__main__":
    main()
