"""Benchmark: GradBench's ``lstm`` eval (ADBench's LSTM with diagonal weights).

Run from the project root::

    python -m bench.lstm            # full run: 2 and 4 layers, up to 4,096 characters
    python -m bench.lstm --quick    # smoke run

Workload (GradBench ``evals/lstm``, from ADBench)
-------------------------------------------------
A stack of ``l`` LSTM layers whose weight "matrices" are diagonal (ADBench's quirk),
run over a character sequence encoded as ``b`` bits per character, predicting the
next character's bits.  Per layer ``main_params`` has a weight row and a bias row of
``4 b`` numbers (forget, input, output gates, change); ``extra_params`` holds the
input weights, output weights and output biases; ``state`` the initial hidden and
cell values.  For each character ``t < c - 1``::

    x = seq[t] * in_weight
    for each layer:  f = sigmoid(x * Wf + bf),  i = sigmoid(h * Wi + bi)
                     o = sigmoid(x * Wo + bo),  g = tanh(h * Wc + bc)
                     cell = cell * f + i * g,   h = o * tanh(cell),   x = h
    y = x * out_weight + out_bias
    total += sum(seq[t + 1] * (y - log(2 + sum(exp(y)))))

and the objective is ``-total / ((c - 1) b)``; the gradient is taken with respect
to ``main_params`` and ``extra_params``.  (The ``2 +`` inside the log is ADBench's.)
The text is generated here (a fixed-seed stream of words), 7 bits per character;
parameters and state ``~ U(0, 1)`` as GradBench draws them.

Peers: Numba forward, srcgrad on the reference's scalar loops (which write the
state arrays in place), JAX ``jit(value_and_grad)`` with ``lax.scan`` over the
characters (layers unrolled, vectors of ``b``), PyTorch and autograd with a Python
loop over characters and layers, tangent-ad on the scalar loops.  There is no
hand-written adjoint (not short).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from bench import runner

WORDS = ("the of and to in is that it was for on are with as his they be at one have this from or had by "
         "word but what some we can out other were all there when up use your how said an each she which do "
         "their time if will way about many then them write would like so these her long make thing see him "
         "two has look more day could go come did number sound no most people my over know water than call "
         "first who may down side been now find any new work part take get place made live where after back "
         "little only round man year came show every good me give our under name very through just form "
         "sentence great think say help low line differ turn cause much mean before move right boy old too "
         "same tell does set three want air well also play small end put home read hand port large spell add "
         "even land here must big high such follow act why ask men change went light kind off need house "
         "picture try us again animal point mother world near build self earth father").split()


def generate_text(chars: int, seed: int = 7) -> str:
    """A fixed-seed stream of words: sentences with capitals, commas and full stops."""
    rng = np.random.default_rng(seed)
    out: list[str] = []
    length = 0
    start = True
    while length < chars:
        w = WORDS[int(rng.integers(len(WORDS)))]
        if start:
            w = w.capitalize()
            start = False
        r = rng.random()
        if r < 0.08:
            w += "."
            start = True
        elif r < 0.14:
            w += ","
        out.append(w)
        length += len(w) + 1
    return " ".join(out)[:chars]


def char_bits(text: str) -> int:
    return math.ceil(math.log2(max(ord(ch) for ch in text)))


def text_to_matrix(text: str, bits: int) -> np.ndarray:
    """Each character's code in ``bits`` binary digits, most significant first."""
    return np.array([[float(d) for d in bin(ord(ch))[2:].zfill(bits)] for ch in text])


def lstm_args(size) -> tuple:
    """(main_params (2l, 4b), extra_params (3, b), state (2l, b), sequence (c, b))."""
    layers, chars = size
    text = generate_text(chars)
    b = char_bits(text)
    seq = text_to_matrix(text, b)
    rng = np.random.default_rng(1000 * layers + chars)
    state = rng.random((2 * layers, b))
    main_params = rng.random((2 * layers, 4 * b))
    extra_params = rng.random((3, b))
    return (main_params, extra_params, state, seq)


def lstm_objective(main_params, extra_params, state, sequence):
    """The user function: ADBench's LSTM objective as scalar loops over the state arrays."""
    layers = main_params.shape[0] // 2
    b = main_params.shape[1] // 4
    c = sequence.shape[0]
    hidden = np.zeros((layers, b))
    cell = np.zeros((layers, b))
    for k in range(layers):
        for i in range(b):
            hidden[k, i] = state[2 * k, i]
            cell[k, i] = state[2 * k + 1, i]
    x = np.zeros(b)
    ypred = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        for i in range(b):
            x[i] = sequence[t, i] * extra_params[0, i]
        for k in range(layers):
            for i in range(b):
                forget = 1.0 / (1.0 + math.exp(-(x[i] * main_params[2 * k, i] + main_params[2 * k + 1, i])))
                ingate = 1.0 / (1.0 + math.exp(-(hidden[k, i] * main_params[2 * k, b + i]
                                                 + main_params[2 * k + 1, b + i])))
                outgate = 1.0 / (1.0 + math.exp(-(x[i] * main_params[2 * k, 2 * b + i]
                                                  + main_params[2 * k + 1, 2 * b + i])))
                change = math.tanh(hidden[k, i] * main_params[2 * k, 3 * b + i] + main_params[2 * k + 1, 3 * b + i])
                cell[k, i] = cell[k, i] * forget + ingate * change
                hidden[k, i] = outgate * math.tanh(cell[k, i])
            for i in range(b):
                x[i] = hidden[k, i]
        se = 0.0
        for i in range(b):
            ypred[i] = x[i] * extra_params[1, i] + extra_params[2, i]
            se += math.exp(ypred[i])
        lse = math.log(se + 2.0)
        for i in range(b):
            total += sequence[t + 1, i] * (ypred[i] - lse)
    return -total / ((c - 1) * b)


def lstm_tangent(main_params, extra_params, state, sequence):
    """The same loops with NumPy functions, ``len`` and no ``//`` or ``int`` (what tangent-ad accepts):
    the layers are the even rows ``k`` of ``main_params``; ``hidden``/``cell`` use the same rows."""
    b = len(extra_params[0])
    c = len(sequence)
    rows = len(main_params)
    hidden = np.zeros((rows, b))
    cell = np.zeros((rows, b))
    for k in range(0, rows, 2):
        for i in range(b):
            hidden[k, i] = state[k, i]
            cell[k, i] = state[k + 1, i]
    x = np.zeros(b)
    ypred = np.zeros(b)
    total = 0.0
    for t in range(c - 1):
        for i in range(b):
            x[i] = sequence[t, i] * extra_params[0, i]
        for k in range(0, rows, 2):
            for i in range(b):
                forget = 1.0 / (1.0 + np.exp(-(x[i] * main_params[k, i] + main_params[k + 1, i])))
                ingate = 1.0 / (1.0 + np.exp(-(hidden[k, i] * main_params[k, b + i] + main_params[k + 1, b + i])))
                outgate = 1.0 / (1.0 + np.exp(-(x[i] * main_params[k, 2 * b + i] + main_params[k + 1, 2 * b + i])))
                change = np.tanh(hidden[k, i] * main_params[k, 3 * b + i] + main_params[k + 1, 3 * b + i])
                cell[k, i] = cell[k, i] * forget + ingate * change
                hidden[k, i] = outgate * np.tanh(cell[k, i])
            for i in range(b):
                x[i] = hidden[k, i]
        se = 0.0
        for i in range(b):
            ypred[i] = x[i] * extra_params[1, i] + extra_params[2, i]
            se = se + np.exp(ypred[i])
        lse = np.log(se + 2.0)
        for i in range(b):
            total = total + sequence[t + 1, i] * (ypred[i] - lse)
    return -total / ((c - 1) * b)


def _step_vec(lib, main_params, extra_params, hs, cs, x, b):
    """One character through all layers, vectorised over the b units; returns (hs, cs, y)."""

    def sig(v):
        return 1.0 / (1.0 + lib.exp(-v))

    new_h, new_c = [], []
    for k in range(len(hs)):
        w = main_params[2 * k]
        bias = main_params[2 * k + 1]
        f = sig(x * w[:b] + bias[:b])
        i = sig(hs[k] * w[b:2 * b] + bias[b:2 * b])
        o = sig(x * w[2 * b:3 * b] + bias[2 * b:3 * b])
        g = lib.tanh(hs[k] * w[3 * b:] + bias[3 * b:])
        c = cs[k] * f + i * g
        h = o * lib.tanh(c)
        new_h.append(h)
        new_c.append(c)
        x = h
    return new_h, new_c, x * extra_params[1] + extra_params[2]


def lstm_jax(main_params, extra_params, state, sequence):
    import jax.numpy as jnp
    from jax import lax
    b = main_params.shape[1] // 4

    def body(carry, xy):
        hs, cs, total = carry
        xt, yt = xy
        hs2, cs2, y = _step_vec(jnp, main_params, extra_params, list(hs), list(cs), xt * extra_params[0], b)
        lse = jnp.log(jnp.sum(jnp.exp(y)) + 2.0)
        return (jnp.stack(hs2), jnp.stack(cs2), total + jnp.sum(yt * (y - lse))), None

    init = (state[0::2], state[1::2], jnp.zeros((), dtype=main_params.dtype))
    (_, _, total), _ = lax.scan(body, init, (sequence[:-1], sequence[1:]))
    return -total / ((sequence.shape[0] - 1) * b)


def _lstm_python_loop(lib, main_params, extra_params, state, sequence, total0):
    layers = main_params.shape[0] // 2
    b = main_params.shape[1] // 4
    hs = [state[2 * k] for k in range(layers)]
    cs = [state[2 * k + 1] for k in range(layers)]
    total = total0
    c = sequence.shape[0]
    for t in range(c - 1):
        hs, cs, y = _step_vec(lib, main_params, extra_params, hs, cs, sequence[t] * extra_params[0], b)
        lse = lib.log(lib.sum(lib.exp(y)) + 2.0)
        total = total + lib.sum(sequence[t + 1] * (y - lse))
    return -total / ((c - 1) * b)


def lstm_torch(main_params, extra_params, state, sequence):
    import torch
    return _lstm_python_loop(torch, main_params, extra_params, state, sequence, 0.0)


def lstm_autograd(main_params, extra_params, state, sequence):
    import autograd.numpy as anp
    return _lstm_python_loop(anp, main_params, extra_params, state, sequence, 0.0)


WORKLOAD = runner.Workload(
    name="lstm",
    title="GradBench lstm: ADBench's diagonal LSTM",
    fn=lstm_objective,
    wrt=(0, 1),
    args=lstm_args,
    sizes={"full": [(2, 256), (2, 1024), (2, 4096), (4, 1024), (4, 4096)], "quick": [(2, 256), (4, 1024)],
           "tiny": [(2, 12)]},
    main_size=(2, 4096),
    work=lambda s: float(s[0] * s[1]),
    size_label=lambda s: f"l={s[0]}, c={s[1]:,}",
    x_label="layers x characters",
    kind="loop",
    rtol_value=1e-10,
    reference=("jax", "torch", "autograd", "srcgrad", "tangent"),
    peers=[
        runner.jax_peer(lstm_jax, (0, 1), "JAX jit(value_and_grad), lax.scan over the characters, "
                        "layers unrolled, vectors of b units"),
        runner.torch_peer(lstm_torch, (0, 1), "PyTorch eager autograd, Python loop over characters and "
                          "layers, vectors of b units"),
        runner.autograd_peer(lstm_autograd, (0, 1), "HIPS autograd, the same Python loop"),
        runner.tangent_peer(lstm_tangent, (0, 1), "tangent-ad, the scalar loops of the user function",
                            note="(Its generated adjoint sends an adjoint to the integer index `3 * b + i` and "
                                 "fails there in `tangent.unbroadcast`.)"),
        runner.unavailable_peer("hand", "hand", "no hand-written adjoint (not short)"),
    ],
    description="""
GradBench's `lstm` eval, from ADBench: `l` LSTM layers with diagonal weights
over a character sequence (`b = 7` bits per character, the text generated here
from a fixed-seed stream of words), loss the mean log-likelihood of the next
character's bits (with ADBench's `log(2 + sum exp y)`), gradient with respect to
the main and extra parameters. srcgrad and tangent differentiate the
reference's scalar loops, which update the hidden and cell state arrays in
place; JAX scans over the characters, PyTorch and autograd loop over them in
Python, all three on vectors of `b` units.
""",
)


def main(argv=None) -> int:
    return runner.main_for(WORKLOAD, argv)


if __name__ == "__main__":
    sys.exit(main())
